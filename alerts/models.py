"""Area alert subscriptions, the sent-log that makes every item go once per subscriber,
and the scanner's watermark."""

from django.conf import settings
from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _

from boundaries.models import Area
from reports.models import Category, Report


class AreaAlert(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", _("Thư điện tử")
        SMS = "sms", _("Tin nhắn SMS")
        PUSH = "push", _("Thông báo trên trình duyệt")

    channel = models.CharField(_("kênh"), max_length=10, choices=Channel.choices)
    email = models.EmailField(_("thư điện tử"), blank=True)
    # SMS goes only to the phone of a signed-in account (proven by a one-time code).
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="area_alerts")
    push_subscription = models.JSONField(_("đăng ký Web Push"), null=True, blank=True)
    # What: new reports made public, and/or results published.
    want_new = models.BooleanField(_("phản ánh mới"), default=True)
    want_resolved = models.BooleanField(_("phản ánh đã xử lý"), default=False)
    # Where: exactly one of a commune (any area), a drawn polygon, or a circle.
    area = models.ForeignKey(Area, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                             verbose_name=_("khu vực"))
    polygon = models.PolygonField(_("vùng vẽ"), srid=4326, null=True, blank=True)
    center = models.PointField(_("tâm"), srid=4326, null=True, blank=True)
    radius_m = models.PositiveIntegerField(_("bán kính (m)"), null=True, blank=True)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                                 verbose_name=_("lĩnh vực"))
    digest = models.BooleanField(_("gửi tổng hợp hằng ngày"), default=False)
    language = models.CharField(max_length=10, default="vi")
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(_("xác nhận lúc"), null=True, blank=True)
    unsubscribed_at = models.DateTimeField(_("hủy lúc"), null=True, blank=True)

    class Meta:
        verbose_name = _("đăng ký cảnh báo")
        verbose_name_plural = _("đăng ký cảnh báo")
        constraints = [
            models.CheckConstraint(
                name="areaalert_one_place",
                condition=(
                    models.Q(area__isnull=False, polygon__isnull=True, center__isnull=True)
                    | models.Q(area__isnull=True, polygon__isnull=False, center__isnull=True)
                    | models.Q(area__isnull=True, polygon__isnull=True, center__isnull=False, radius_m__isnull=False)
                ),
            ),
        ]
        indexes = [models.Index(fields=["confirmed_at"], name="areaalert_confirmed")]

    def __str__(self):
        return f"{self.get_channel_display()} {self.email or self.user_id or self.pk}"

    @property
    def active(self):
        return self.confirmed_at is not None and self.unsubscribed_at is None


class AlertSent(models.Model):
    """One item (a report becoming public, or its result published) for one
    subscription: unique, so a rescan or a second worker never sends it twice."""

    class Kind(models.TextChoices):
        NEW = "new", _("phản ánh mới")
        RESOLVED = "resolved", _("đã xử lý")

    subscription = models.ForeignKey(AreaAlert, on_delete=models.CASCADE, related_name="items")
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    created_at = models.DateTimeField(db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subscription", "report", "kind"], name="alertsent_once")]
        indexes = [models.Index(fields=["sent_at", "subscription"], name="alertsent_pending")]


class ScanCursor(models.Model):
    """The last report event the scanner has looked at."""

    name = models.CharField(max_length=40, unique=True)
    last_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)
