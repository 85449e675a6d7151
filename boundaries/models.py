"""Where things are and who is responsible for them.

Modelled on MapIt: area types, boundary versions ("generations") with validity dates,
areas with official codes, a subdivided copy of every area for fast point lookup, and
the succession of old units into new ones. Authorities and routing rules say who acts
on a report at a place. This app knows nothing of reports: routing rules name
categories by their code.
"""

from django.contrib.gis.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class AreaType(models.Model):
    """province, district, commune, or anything a city imports (ward, precinct)."""

    code = models.SlugField(_("mã"), max_length=40, unique=True)
    name = models.CharField(_("tên"), max_length=100)
    name_en = models.CharField(_("tên tiếng Anh"), max_length=100, blank=True)
    # Smaller is bigger: province 10, district 20, commune 30. locate() returns one
    # area per type, ordered by level.
    level = models.PositiveSmallIntegerField(_("cấp"), default=50)

    class Meta:
        ordering = ["level", "code"]
        verbose_name = _("loại đơn vị")
        verbose_name_plural = _("loại đơn vị")

    def __str__(self):
        return self.name


class Jurisdiction(models.Model):
    """Who a report belongs to: a Vietnamese province (its official code, "22"), an
    imported city (its slug, "boston"), or a country grouping its provinces ("VN").

    It owns its boundary versions (those whose ``BoundaryVersion.jurisdiction`` is its
    ``boundary_key``, or its parent's), its routing rules and authorities (through
    ``province_code``, the code its reports, authorities and roll-ups carry), its
    working-day calendar (``calendar``: a key of the Holiday table, the ``holidays``
    package's country[-subdivision], "VN", "US-MA") and its time zone. Categories are
    one shared set.
    """

    class Kind(models.TextChoices):
        COUNTRY = "country", _("Quốc gia")
        PROVINCE = "province", _("Tỉnh, thành phố")
        CITY = "city", _("Thành phố (nước ngoài)")

    code = models.SlugField(_("mã"), max_length=40, unique=True)
    name = models.CharField(_("tên"), max_length=200)
    name_en = models.CharField(_("tên tiếng Anh"), max_length=200, blank=True)
    kind = models.CharField(_("loại"), max_length=20, choices=Kind.choices, default=Kind.PROVINCE)
    # ISO 3166-1 alpha-2: the national views of a country show all its jurisdictions.
    country = models.CharField(_("quốc gia"), max_length=2, default="VN", db_index=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
                               verbose_name=_("thuộc"))
    # The code in Report.province_code, Authority.province_code and the roll-ups; blank
    # for a country (its scope is its children's codes).
    province_code = models.CharField(_("mã tỉnh trong dữ liệu"), max_length=10, blank=True, db_index=True)
    # BoundaryVersion.jurisdiction of its boundary versions; blank: its parent's.
    boundary_key = models.CharField(_("mã vùng của địa giới"), max_length=60, blank=True)
    time_zone = models.CharField(_("múi giờ"), max_length=60, default="Asia/Ho_Chi_Minh")
    calendar = models.CharField(_("lịch ngày làm việc"), max_length=20, default="VN")
    active = models.BooleanField(_("đang dùng"), default=True)

    class Meta:
        ordering = ["country", "kind", "code"]
        verbose_name = _("vùng tài phán")
        verbose_name_plural = _("vùng tài phán")

    def __str__(self):
        return self.name

    @property
    def tzinfo(self):
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.time_zone)

    def own_boundary_key(self):
        node = self
        while node is not None and not node.boundary_key:
            node = node.parent
        return node.boundary_key if node else ""

    def boundary_versions(self):
        return BoundaryVersion.objects.filter(jurisdiction=self.own_boundary_key())

    def authorities(self):
        return Authority.objects.filter(province_code__in=self.province_codes())

    def routing_rules(self):
        """Its rules: those of its authorities, or on its areas."""
        codes = self.province_codes()
        return RoutingRule.objects.filter(
            Q(authority__province_code__in=codes) | Q(area__code__in=codes, area__type__code="province")
        ).distinct()

    def province_codes(self):
        """The codes its reports carry in ``province_code``: its own, or its children's."""
        if self.province_code:
            return [self.province_code]
        return list(Jurisdiction.objects.filter(parent=self).exclude(province_code="")
                    .values_list("province_code", flat=True))


class BoundaryVersionQuerySet(models.QuerySet):
    def valid_on(self, day):
        """Active versions valid on ``day`` (every jurisdiction)."""
        return self.filter(active=True).filter(
            Q(valid_from__isnull=True) | Q(valid_from__lte=day),
            Q(valid_to__isnull=True) | Q(valid_to__gte=day),
        )

    def current(self, at=None, jurisdiction=None):
        """THE version of ``jurisdiction`` (default settings.BOUNDARY_JURISDICTION) valid
        at ``at`` (a date or datetime, default today, local time); None when there is
        none. When several overlap (a data error), the one that started last wins.
        Like MapIt's ``Generation.objects.current()``: pages and queries ask this, never
        name a version."""
        import datetime as dt

        from django.conf import settings
        from django.utils import timezone

        if at is None:
            day = timezone.localdate()
        elif isinstance(at, dt.datetime):
            day = timezone.localdate(at) if timezone.is_aware(at) else at.date()
        else:
            day = at
        return (
            self.valid_on(day)
            .filter(jurisdiction=jurisdiction or settings.BOUNDARY_JURISDICTION)
            .order_by(models.F("valid_from").desc(nulls_last=True), "code")
            .first()
        )


class BoundaryVersion(models.Model):
    """One generation of boundaries of one jurisdiction, valid over a date range.

    Several versions may be valid on the same day when they belong to different
    jurisdictions (Vietnam and Boston); within one jurisdiction they must not overlap.
    """

    code = models.SlugField(_("mã"), max_length=60, unique=True)
    name = models.CharField(_("tên"), max_length=200)
    jurisdiction = models.CharField(_("vùng tài phán"), max_length=60, default="VN")
    description = models.TextField(_("mô tả"), blank=True)
    valid_from = models.DateField(_("hiệu lực từ"), null=True, blank=True)
    valid_to = models.DateField(_("hiệu lực đến (hết ngày)"), null=True, blank=True)
    active = models.BooleanField(_("đang dùng"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = BoundaryVersionQuerySet.as_manager()

    class Meta:
        ordering = ["jurisdiction", "-valid_from"]
        verbose_name = _("phiên bản địa giới")
        verbose_name_plural = _("phiên bản địa giới")

    def __str__(self):
        return self.name

    def is_valid_on(self, day):
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


class Area(models.Model):
    version = models.ForeignKey(BoundaryVersion, on_delete=models.CASCADE, related_name="areas",
                                verbose_name=_("phiên bản"))
    type = models.ForeignKey(AreaType, on_delete=models.PROTECT, related_name="areas", verbose_name=_("loại"))
    code = models.CharField(_("mã chính thức"), max_length=40)
    name = models.CharField(_("tên"), max_length=200)
    name_en = models.CharField(_("tên tiếng Anh"), max_length=200, blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children",
                               verbose_name=_("thuộc"))
    geom = models.MultiPolygonField(_("ranh giới"), srid=4326)
    # sha256 of the normalised WKB: a re-import of the same polygon changes nothing.
    geom_checksum = models.CharField(max_length=64, editable=False)
    # Source attributes kept as imported (population, source ids, notes).
    properties = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["version", "type__level", "code"]
        constraints = [models.UniqueConstraint(fields=["version", "type", "code"],
                                               name="area_unique_code_per_version_type")]
        indexes = [models.Index(fields=["code"]), models.Index(fields=["version", "type"])]
        verbose_name = _("đơn vị hành chính")
        verbose_name_plural = _("đơn vị hành chính")

    def __str__(self):
        return f"{self.name} ({self.code})"


class AreaPart(models.Model):
    """A piece of an area cut by ST_Subdivide(geom, 256): small boxes make the GiST
    index selective and the point-in-polygon test cheap. Rebuilt on every import."""

    area = models.ForeignKey(Area, on_delete=models.CASCADE, related_name="parts")
    # Denormalised so a lookup filters parts without joining areas first.
    version = models.ForeignKey(BoundaryVersion, on_delete=models.CASCADE, related_name="+")
    type = models.ForeignKey(AreaType, on_delete=models.CASCADE, related_name="+")
    geom = models.PolygonField(srid=4326)  # spatial_index=True gives the GiST index

    class Meta:
        indexes = [models.Index(fields=["version", "type"])]


class AreaSuccession(models.Model):
    """An old unit (or part of it) that became a new one at a boundary change."""

    old = models.ForeignKey(Area, on_delete=models.CASCADE, related_name="successors")
    new = models.ForeignKey(Area, on_delete=models.CASCADE, related_name="predecessors")
    # Share of the old unit's area that lies in the new one, 0..1, computed from the
    # geometry (metric); null where either geometry is missing.
    share = models.FloatField(null=True, blank=True)
    # "Nhập toàn bộ" (whole) or "Nhập một phần" (part), as in the official table.
    note = models.CharField(max_length=200, blank=True)
    # sha256 of the two areas' geom_checksum the share was computed from: a reload
    # recomputes the share only when either polygon changed.
    basis = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["old", "new"], name="succession_unique_pair")]
        verbose_name = _("kế thừa đơn vị")
        verbose_name_plural = _("kế thừa đơn vị")

    def __str__(self):
        share = "" if self.share is None else f" ({self.share:.0%})"
        return f"{self.old} → {self.new}{share}"


class Authority(models.Model):
    class Kind(models.TextChoices):
        COMMITTEE = "committee", _("Ủy ban nhân dân")
        DEPARTMENT = "department", _("Sở, ban, ngành")
        COMPANY = "company", _("Doanh nghiệp công ích")
        POLICE = "police", _("Công an")
        DESK = "desk", _("Tổ vận hành (IOC)")
        OTHER = "other", _("Khác")

    class Level(models.TextChoices):
        PROVINCE = "province", _("Cấp tỉnh")
        DISTRICT = "district", _("Cấp huyện")
        COMMUNE = "commune", _("Cấp xã")
        CITY = "city", _("Thành phố (nước ngoài)")

    code = models.SlugField(_("mã"), max_length=80, unique=True)
    name = models.CharField(_("tên"), max_length=200)
    name_en = models.CharField(_("tên tiếng Anh"), max_length=200, blank=True)
    kind = models.CharField(_("loại"), max_length=20, choices=Kind.choices)
    level = models.CharField(_("cấp"), max_length=20, choices=Level.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children",
                               verbose_name=_("cơ quan cấp trên"))
    # The area it answers for (a commune committee: its commune; a department: the
    # province). Null for a body without territory of its own.
    jurisdiction = models.ForeignKey(Area, null=True, blank=True, on_delete=models.SET_NULL, related_name="authorities",
                                     verbose_name=_("địa bàn"))
    # Two-digit province code, stable across boundary versions; the desk and leaders
    # of a province see the reports of its authorities.
    province_code = models.CharField(_("mã tỉnh"), max_length=10, blank=True, db_index=True)
    phone = models.CharField(_("điện thoại"), max_length=40, blank=True)
    email = models.EmailField(_("email"), blank=True)
    address = models.CharField(_("địa chỉ"), max_length=300, blank=True)
    head_name = models.CharField(_("người đứng đầu"), max_length=120, blank=True)
    head_phone = models.CharField(_("điện thoại người đứng đầu"), max_length=40, blank=True)
    active = models.BooleanField(_("đang hoạt động"), default=True)

    class Meta:
        ordering = ["province_code", "level", "name"]
        verbose_name = _("cơ quan xử lý")
        verbose_name_plural = _("cơ quan xử lý")

    def __str__(self):
        return self.name


class RoutingRule(models.Model):
    """(category or its group, or any) × (area, area type, or any) → authority.

    Rules are tried by ascending priority; the first that matches wins. The target is
    either a fixed authority or, with ``target_kind``, the authority of that kind whose
    jurisdiction is the matched area (e.g. "the committee of the commune the pin is in").
    """

    priority = models.IntegerField(_("thứ tự"), default=100, db_index=True)
    name = models.CharField(_("tên quy tắc"), max_length=200)
    # Empty = any category. Otherwise a category code or a group's code.
    category_code = models.CharField(_("mã lĩnh vực"), max_length=60, blank=True)
    # Either a specific area (a province: anywhere in it), or an area type, or neither.
    area = models.ForeignKey(Area, null=True, blank=True, on_delete=models.CASCADE, related_name="routing_rules",
                             verbose_name=_("địa bàn"))
    area_type = models.ForeignKey(AreaType, null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="routing_rules", verbose_name=_("loại địa bàn"))
    authority = models.ForeignKey(Authority, null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="routing_rules", verbose_name=_("cơ quan"))
    target_kind = models.CharField(_("cơ quan theo địa bàn (loại)"), max_length=20, blank=True,
                                   choices=Authority.Kind.choices)
    active = models.BooleanField(_("đang dùng"), default=True)

    class Meta:
        ordering = ["priority", "id"]
        verbose_name = _("quy tắc chuyển")
        verbose_name_plural = _("quy tắc chuyển")
        constraints = [
            models.CheckConstraint(
                condition=Q(authority__isnull=False) | ~Q(target_kind=""),
                name="routing_rule_has_target",
            )
        ]

    def __str__(self):
        return f"{self.priority}: {self.name}"


class BoundaryImport(models.Model):
    """One committed import of a source into (version, area type): what the source was
    (its sha256), the options used and what changed. A committed re-import of the very
    same file with the same options is skipped at once (``force`` re-checks every area)."""

    version = models.ForeignKey(BoundaryVersion, on_delete=models.CASCADE, related_name="imports",
                                verbose_name=_("phiên bản"))
    type = models.ForeignKey(AreaType, on_delete=models.CASCADE, related_name="imports", verbose_name=_("loại"))
    source = models.CharField(_("nguồn"), max_length=500)
    source_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    options = models.JSONField(default=dict, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    feature_count = models.PositiveIntegerField(default=0)
    # Codes the source holds, and those this import created or changed: a later import
    # that changed any of this one's codes voids its "same file, nothing to do" shortcut.
    codes = models.JSONField(default=list, blank=True)
    changed_codes = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("lần nhập địa giới")
        verbose_name_plural = _("lần nhập địa giới")

    def __str__(self):
        return f"{self.source} → {self.version.code}/{self.type.code}"
