"""What people report and what happens to it.

A report's state changes only through ``reports.workflow.transition``, which checks the
allowed-transition table and writes an append-only ReportEvent.
"""

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.functions import RandomUUID
from django.db.models import Value
from django.db.models.functions import Cast, Replace
from django.utils.translation import gettext_lazy as _

from boundaries.models import Area, Authority, BoundaryVersion, Jurisdiction, RoutingRule


def _new_receipt_token():
    from reports.policy.access import new_receipt_token

    return new_receipt_token()


class Category(models.Model):
    """A field citizens report on; a tree of two levels (group → category)."""

    code = models.SlugField(_("mã"), max_length=60, unique=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
                               verbose_name=_("nhóm"))
    name = models.CharField(_("tên"), max_length=120)
    name_en = models.CharField(_("tên tiếng Anh"), max_length=120, blank=True)
    icon = models.CharField(_("biểu tượng"), max_length=40, blank=True)
    color = models.CharField(_("màu"), max_length=7, default="#3388ff")
    # Working days; null falls back to the group's, then to the province's rule.
    forward_days = models.PositiveSmallIntegerField(_("hạn chuyển (ngày làm việc)"), null=True, blank=True)
    resolve_days = models.PositiveSmallIntegerField(_("hạn xử lý (ngày làm việc)"), null=True, blank=True)
    sort_order = models.PositiveSmallIntegerField(default=100)
    active = models.BooleanField(_("đang dùng"), default=True)
    # Categories are one shared set; a category offered only in some jurisdictions
    # names them here (none: everywhere).
    jurisdictions = models.ManyToManyField(Jurisdiction, blank=True, related_name="categories",
                                           verbose_name=_("chỉ dùng ở"))

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("lĩnh vực")
        verbose_name_plural = _("lĩnh vực")

    def __str__(self):
        return self.name

    @property
    def local_name(self):
        """The English name on English pages and messages (when it has one)."""
        from django.utils.translation import get_language

        return self.name_en if self.name_en and (get_language() or "").startswith("en") else self.name

    @classmethod
    def offered_in(cls, jurisdiction):
        """The categories a jurisdiction offers: the shared ones and its own (a
        province also offers its country's)."""
        from django.db.models import Q

        if jurisdiction is None:
            return cls.objects.filter(jurisdictions__isnull=True)
        owners = [jurisdiction.pk] + ([jurisdiction.parent_id] if jurisdiction.parent_id else [])
        return cls.objects.filter(Q(jurisdictions__isnull=True) | Q(jurisdictions__in=owners)).distinct()

    def codes_for_routing(self):
        """This category's code, then its group's: what routing rules are matched on."""
        codes = [self.code]
        if self.parent_id:
            codes.append(self.parent.code)
        return codes


class Holiday(models.Model):
    """The working-day calendar: public holidays, compensatory days off, and the
    Saturdays that are worked in exchange (is_working_day=True)."""

    # Whose calendar: a Jurisdiction.calendar key ("VN"; "US-MA" for Boston). Left
    # blank in the admin: Vietnam's.
    calendar = models.CharField(_("lịch"), max_length=20, default="VN", blank=True,
                                help_text=_("Mã lịch của vùng tài phán (VN, US-MA); để trống là VN."))
    date = models.DateField(_("ngày"))
    name = models.CharField(_("tên"), max_length=120)
    is_working_day = models.BooleanField(_("ngày làm bù"), default=False)

    class Meta:
        ordering = ["calendar", "date"]
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="holiday_unique_calendar_date")]
        verbose_name = _("ngày nghỉ lễ")
        verbose_name_plural = _("ngày nghỉ lễ")

    def __str__(self):
        return f"{self.date} {self.name}"

    def save(self, *args, **kwargs):
        self.calendar = (self.calendar or "VN").strip().upper()
        super().save(*args, **kwargs)


class StaffRole(models.Model):
    class Role(models.TextChoices):
        OPERATOR = "operator", _("Tổ vận hành")
        OFFICER = "officer", _("Cán bộ xử lý")
        LEADER = "leader", _("Lãnh đạo")
        ADMIN = "admin", _("Quản trị")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_roles")
    role = models.CharField(_("vai trò"), max_length=20, choices=Role.choices)
    # Officers act for one authority; operators and leaders for a province.
    authority = models.ForeignKey(Authority, null=True, blank=True, on_delete=models.CASCADE, related_name="staff")
    province_code = models.CharField(_("mã tỉnh"), max_length=10, blank=True)
    is_head = models.BooleanField(_("thủ trưởng đơn vị"), default=False)

    class Meta:
        verbose_name = _("vai trò cán bộ")
        verbose_name_plural = _("vai trò cán bộ")


class Report(models.Model):
    class State(models.TextChoices):
        RECEIVED = "received", _("Đã tiếp nhận")
        FORWARDED = "forwarded", _("Đã chuyển xử lý")
        ACCEPTED = "accepted", _("Đơn vị đã nhận")
        IN_PROGRESS = "in_progress", _("Đang xử lý")
        RESOLVED = "resolved", _("Đã xử lý")
        PUBLISHED = "published", _("Đã công khai kết quả")
        RATED = "rated", _("Đã đánh giá")
        REOPENED = "reopened", _("Mở lại để xem xét")
        REJECTED = "rejected", _("Từ chối")
        MERGED = "merged", _("Đã gộp")
        CLOSED = "closed", _("Đã đóng")

    # The groups of states (open, public, closed…) live in reports.policy.

    class RejectReason(models.TextChoices):
        NOT_COMPETENT = "not_competent", _("Không thuộc thẩm quyền")
        DUPLICATE = "duplicate", _("Trùng lặp")
        INSUFFICIENT = "insufficient", _("Thiếu thông tin")
        OUTSIDE_AREA = "outside_area", _("Ngoài địa bàn")
        NOT_PUBLIC = "not_public", _("Không phải việc công")

    class LocationPrecision(models.TextChoices):
        POINT = "point", _("Ghim trên bản đồ")
        # No pin: the citizen chose the commune (and described the place in words);
        # ``location`` is a point inside the commune, not where the problem is.
        COMMUNE = "commune", _("Vị trí theo xã/phường")

    # Public reference shown to citizens, e.g. "PA-2026-000123".
    code = models.CharField(_("mã phản ánh"), max_length=32, unique=True)
    # The unguessable part of the reporter's receipt link (/phan-anh/<code>/?t=…): codes
    # are sequential, so a report not yet public is reached by its code only with it.
    # Bulk inserts in SQL (imports, synthetic data) get one from the database default.
    receipt_token = models.CharField(
        max_length=40, default=_new_receipt_token, editable=False,
        db_default=Replace(Cast(RandomUUID(), models.CharField()), Value("-"), Value("")),
    )
    title = models.CharField(_("tiêu đề"), max_length=200, blank=True)
    description = models.TextField(_("nội dung"))
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="reports", verbose_name=_("lĩnh vực"))
    location = models.PointField(_("vị trí"), srid=4326)
    # The citizen's words for the place ("trước số nhà 12 phố Lê Thánh Tông"); with a
    # report placed by commune it is all the officer has to find the spot.
    address = models.CharField(_("địa chỉ"), max_length=300, blank=True)
    # db_default: rows written by raw SQL (imports, synthetic data) are pins.
    location_precision = models.CharField(_("cách xác định vị trí"), max_length=10,
                                          choices=LocationPrecision.choices, default=LocationPrecision.POINT,
                                          db_default=LocationPrecision.POINT)

    # Where routing put it, in the boundary version valid when it was received. These
    # never change when boundaries change; a cut-over re-routes open reports explicitly.
    boundary_version = models.ForeignKey(BoundaryVersion, null=True, blank=True, on_delete=models.SET_NULL,
                                         related_name="+")
    commune = models.ForeignKey(Area, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                verbose_name=_("xã/phường"))
    district = models.ForeignKey(Area, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                 verbose_name=_("quận/huyện"))
    province_code = models.CharField(_("mã tỉnh"), max_length=10, blank=True, db_index=True)
    # Whose report it is (its calendar, time zone and national scope): the located
    # province's, the home country's when outside every province, an import's city.
    jurisdiction = models.ForeignKey(Jurisdiction, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="reports", verbose_name=_("vùng tài phán"))
    snapped_m = models.FloatField(null=True, blank=True)
    authority = models.ForeignKey(Authority, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports",
                                  verbose_name=_("cơ quan xử lý"))
    routing_rule = models.ForeignKey(RoutingRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    routing_explanation = models.TextField(blank=True)

    state = models.CharField(_("trạng thái"), max_length=20, choices=State.choices, default=State.RECEIVED,
                             db_index=True)
    reject_reason = models.CharField(max_length=20, choices=RejectReason.choices, blank=True)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="merged_reports")
    result_text = models.TextField(_("kết quả xử lý"), blank=True)

    # The reporter: an account, or anonymous with optional contact. Never public.
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="reports")
    contact_name = models.CharField(max_length=120, blank=True)
    contact_phone = models.CharField(max_length=20, blank=True)
    contact_email = models.EmailField(blank=True)
    # A client retrying the same submission sends the same key: one report. The key is
    # the caller's own (unique per scope: "user:<id>", "device:…", "session:…", "ip:…"),
    # so another client sending A's key never gets A's receipt; the body's hash tells a
    # retry from a different submission under a used key.
    idempotency_key = models.CharField(max_length=80, null=True, blank=True)
    # db_default: rows written by raw SQL (imports, synthetic data) get "" too.
    idempotency_scope = models.CharField(max_length=80, blank=True, default="", db_default="")
    idempotency_hash = models.CharField(max_length=64, blank=True, default="", db_default="")
    source = models.CharField(max_length=40, default="web")  # web, api, import:<name>
    external_id = models.CharField(max_length=80, blank=True, db_index=True)

    created_at = models.DateTimeField(_("thời điểm tiếp nhận"), db_index=True)
    forwarded_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    forward_due = models.DateTimeField(_("hạn chuyển"), null=True, blank=True)
    resolve_due = models.DateTimeField(_("hạn xử lý"), null=True, blank=True)
    extension_requested_until = models.DateTimeField(null=True, blank=True)
    extension_reason = models.TextField(blank=True)
    rating_level = models.PositiveSmallIntegerField(null=True, blank=True)  # copy of Rating.level for aggregation
    updated_at = models.DateTimeField(auto_now=True)
    # Optimistic concurrency: a transition names the row_version it saw; a stale one
    # is a conflict, never a silent overwrite.
    row_version = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["authority", "state", "created_at"]),
            models.Index(fields=["province_code", "created_at"]),
            models.Index(fields=["jurisdiction", "created_at"]),
            models.Index(fields=["category", "created_at"]),
            models.Index(fields=["commune", "created_at"]),
            # the demo's own reports (fixtures.reports.DEMO_SOURCE): whether a database holds
            # the demo is read here, not by scanning millions of reports (fixtures.demo)
            models.Index(fields=["id"], condition=models.Q(source="demo"), name="report_demo"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_scope", "idempotency_key"],
                                    name="report_idempotency_scope_key"),
        ]
        verbose_name = _("phản ánh")
        verbose_name_plural = _("phản ánh")

    def __str__(self):
        return self.code


class Media(models.Model):
    class Kind(models.TextChoices):
        PHOTO = "photo", _("Ảnh")
        VIDEO = "video", _("Video")

    class Stage(models.TextChoices):
        REPORT = "report", _("Ảnh phản ánh")
        RESULT = "result", _("Ảnh kết quả")

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="media")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    stage = models.CharField(max_length=10, choices=Stage.choices, default=Stage.REPORT)
    # The public copy: EXIF stripped, re-encoded, faces and plates blurred (photos).
    file = models.FileField(upload_to="reports/%Y/%m/")
    thumbnail = models.ImageField(upload_to="reports/thumbs/%Y/%m/", null=True, blank=True)
    # Photos: the same copy unblurred, for the report's staff only (reports/views_media.py).
    original = models.FileField(upload_to="private/originals/%Y/%m/", null=True, blank=True)
    # What is blurred on the public copy: [{x, y, w, h (0..1), kind: face|plate|manual,
    # source: auto|desk, score}] (reports/blur.py), and by which detector version.
    blur_regions = models.JSONField(default=list, blank=True)
    blur_detector = models.CharField(max_length=80, blank=True)
    # The desk has looked at it: a photo's regions edited ("edit_blur"), a video watched
    # ("review_video"; until then a video is shown to the report's staff only).
    reviewed = models.BooleanField(default=False)
    content_type = models.CharField(max_length=80)
    original_name = models.CharField(max_length=200, blank=True)
    size = models.PositiveBigIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    # GPS found in the original's EXIF: a hint for the pin, never published.
    exif_location = models.PointField(srid=4326, null=True, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]


class ReportEvent(models.Model):
    """Append-only audit trail of every transition. Never updated or deleted."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=40)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_role = models.CharField(max_length=20, blank=True)
    authority = models.ForeignKey(Authority, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason_code = models.CharField(max_length=40, blank=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    is_public = models.BooleanField(default=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["report", "created_at"])]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("ReportEvent is append-only: a recorded event is never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("ReportEvent is append-only: a recorded event is never deleted.")


class Comment(models.Model):
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    # Set when an official replies as their authority.
    authority = models.ForeignKey(Authority, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField(max_length=2000)
    # A citizen is shown as "Người dân" unless they chose to show their display name.
    show_name = models.BooleanField(_("hiện tên người bình luận"), default=False)
    is_hidden = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]


class Rating(models.Model):
    class Level(models.IntegerChoices):
        VERY_SATISFIED = 5, _("Rất hài lòng")
        SATISFIED = 4, _("Hài lòng")
        NEUTRAL = 3, _("Bình thường")
        DISSATISFIED = 2, _("Không hài lòng")
        VERY_DISSATISFIED = 1, _("Rất không hài lòng")

    report = models.OneToOneField(Report, on_delete=models.CASCADE, related_name="rating")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    level = models.PositiveSmallIntegerField(choices=Level.choices)
    reason = models.TextField(blank=True, max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)


class Subscription(models.Model):
    """Someone follows a report ("same problem? follow it instead")."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="subscriptions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscriptions")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["report", "user"], name="subscription_unique")]


class Notification(models.Model):
    """A message queued for a person or an authority (SMS, e-mail); sent by the worker."""

    class Channel(models.TextChoices):
        SMS = "sms", "SMS"
        EMAIL = "email", "Email"

    channel = models.CharField(max_length=10, choices=Channel.choices)
    to = models.CharField(max_length=200)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    report = models.ForeignKey(Report, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40)  # step, reminder, escalation
    # Reminders and escalations are sent once per report, deadline kind, due time and
    # recipient: the periodic sweep may run as often as it likes.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
