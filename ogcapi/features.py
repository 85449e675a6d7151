"""The collections of the OGC API Features interface and how their items are queried.

Three kinds of collection, all read-only and public:

- ``reports`` (every public report) and ``reports-<jurisdiction>`` ("reports-22",
  "reports-boston"): the public states only (``policy.PUBLIC``) and the public fields
  only — never the reporter, their contact or the receipt token;
- ``areas-<boundary version>-<area type>`` ("areas-vn-2025-commune"): polygons
  simplified to about one pixel at a web-map zoom level (``zoom``, default 10: ~150 m) so a page of
  communes stays small;
- ``authorities``: who handles reports, drawn as the area they answer for.

Filters (bbox, datetime, CQL2 text) become Django querysets; pygeofilter turns CQL2
into ``Q`` objects over the queryables' field mapping.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.gis.db.models import Extent, GeometryField
from django.contrib.gis.db.models.functions import AsGeoJSON, GeoFunc, PointOnSurface
from django.contrib.gis.geos import Point, Polygon
from django.db.models import F, Max, Min, Q, Value
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from boundaries import jurisdictions
from boundaries.models import Area, Authority, Jurisdiction
from reports import policy
from reports.models import Report

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
DEFAULT_LIMIT = 100
MAX_LIMIT = 10000
# Polygons are heavier than points: a page of them is capped lower.
MAX_AREA_LIMIT = 1000
# Beyond any collection's size; larger numbers overflow the database's bigint.
MAX_OFFSET = 10**9
DEFAULT_ZOOM = 10
MAX_ZOOM = 22


class QueryError(ValueError):
    """A bad parameter: ``errors`` is {parameter: translated message}."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


class SimplifyPreserveTopology(GeoFunc):
    function = "ST_SimplifyPreserveTopology"

    def __init__(self, expression, tolerance, **extra):
        super().__init__(expression, Value(float(tolerance)), output_field=GeometryField(srid=4326), **extra)


class Multi(GeoFunc):
    """Every area as a MultiPolygon: a layer of one geometry type (GDAL and QGIS type a
    layer by its features; a mix of Polygon and MultiPolygon makes it "Unknown")."""

    function = "ST_Multi"
    output_field = GeometryField(srid=4326)


def tolerance_for_zoom(zoom):
    """Degrees per pixel of a 256-pixel web map tile at this zoom (at the equator)."""
    return 360.0 / (256 * 2 ** zoom)


@dataclass
class Queryable:
    name: str
    lookup: str
    type: str  # JSON Schema type, or "geometry", "datetime"
    title: str = ""
    enum: list = field(default_factory=list)


@dataclass
class Collection:
    id: str
    title: str
    description: str
    kind: str  # reports, areas, authorities
    queryables: list
    jurisdiction: Jurisdiction | None = None
    version_code: str = ""
    type_code: str = ""
    temporal: bool = False

    @property
    def geometry_field(self):
        return "location" if self.kind == "reports" else ("geom" if self.kind == "areas" else "jurisdiction__geom")

    @property
    def max_limit(self):
        return MAX_LIMIT if self.kind == "reports" else MAX_AREA_LIMIT

    def field_mapping(self):
        return {q.name: q.lookup for q in self.queryables}

    # --- querysets -----------------------------------------------------------------

    def base_queryset(self):
        # only(): a related area's polygon (a commune's, a parent's) must never ride
        # along with each row.
        if self.kind == "reports":
            qs = Report.objects.filter(policy.PUBLIC.q()).select_related("category", "authority", "commune").only(
                "id", "code", "title", "description", "state", "created_at", "resolved_at", "province_code",
                "result_text", "location_precision",
                "category__code", "category__name", "authority__code", "authority__name", "commune__code",
                "commune__name",
            )
            # Imported records whose location is a known placeholder (Boston's City Hall
            # for "no address") are left out, as on every map.
            for lon, lat in settings.HEATMAP_PLACEHOLDER_POINTS:
                qs = qs.exclude(location__dwithin=(Point(float(lon), float(lat), srid=4326), 1e-7))
            if self.jurisdiction is not None:
                codes_in, codes_not_in = jurisdictions.scope(self.jurisdiction)
                qs = (qs.filter(province_code__in=codes_in) if codes_in is not None
                      else qs.exclude(province_code__in=codes_not_in))
            return qs.order_by("-created_at", "id")
        if self.kind == "areas":
            return (
                Area.objects.filter(version__code=self.version_code, type__code=self.type_code)
                .select_related("parent").only("id", "code", "name", "name_en", "parent__code").order_by("code", "id")
            )
        return (
            Authority.objects.filter(active=True).select_related("parent", "jurisdiction")
            .only("id", "code", "name", "name_en", "kind", "level", "province_code", "parent__code",
                  "jurisdiction__code")
            .order_by("province_code", "code", "id")
        )

    def with_geometry(self, qs, zoom=DEFAULT_ZOOM):
        """Reports: their point. Areas: the polygon simplified to about a pixel at
        ``zoom``. Authorities: a point inside the area they serve (a department's
        polygon would be its whole province, repeated for every department; the
        area's own polygon is in the areas collections under the ``area`` code)."""
        if self.kind == "reports":
            return qs.annotate(geojson=AsGeoJSON("location", precision=7))
        if self.kind == "areas":
            return qs.annotate(geojson=AsGeoJSON(Multi(SimplifyPreserveTopology(F("geom"), tolerance_for_zoom(zoom))),
                                                 precision=5))
        return qs.annotate(geojson=AsGeoJSON(PointOnSurface("jurisdiction__geom"), precision=6))

    def lookup_feature(self, qs, fid):
        return qs.filter(code=fid)

    def extent(self):
        qs = self.base_queryset().order_by()
        agg = {"bbox": Extent(self.geometry_field)}
        if self.temporal:
            agg |= {"t0": Min("created_at"), "t1": Max("created_at")}
        return qs.aggregate(**agg)

    # --- features --------------------------------------------------------------------

    def feature_id(self, obj):
        return obj.code

    def properties(self, obj):
        if self.kind == "reports":
            return {
                "code": obj.code,
                "title": obj.title,
                "description": obj.description,
                "category": obj.category.code,
                "category_name": obj.category.name,
                "state": obj.state,
                "state_label": str(obj.get_state_display()),
                "created_at": _iso(obj.created_at, obj.province_code),
                "resolved_at": _iso(obj.resolved_at, obj.province_code),
                "authority": obj.authority.code if obj.authority else None,
                "authority_name": obj.authority.name if obj.authority else None,
                "province_code": obj.province_code,
                "commune": obj.commune.code if obj.commune else None,
                "commune_name": obj.commune.name if obj.commune else None,
                # "commune": no pin, the point is inside the commune the citizen chose
                "location_precision": obj.location_precision,
                "result_text": obj.result_text if obj.state in policy.RESULT_PUBLIC else None,
            }
        if self.kind == "areas":
            return {
                "code": obj.code, "name": obj.name, "name_en": obj.name_en,
                "parent": obj.parent.code if obj.parent else None,
                "version": self.version_code, "type": self.type_code,
            }
        return {
            "code": obj.code, "name": obj.name, "name_en": obj.name_en, "kind": obj.kind, "level": obj.level,
            "province_code": obj.province_code, "parent": obj.parent.code if obj.parent else None,
            "area": obj.jurisdiction.code if obj.jurisdiction else None,
        }


def _iso(value, province_code=""):
    """With the offset of the report's jurisdiction (Boston's in New York time)."""
    from reports import sla

    return value.astimezone(sla.zone_of_province_code(province_code)).isoformat() if value else None


REPORT_QUERYABLES = [
    Queryable("code", "code", "string", gettext_lazy("Mã phản ánh")),
    Queryable("title", "title", "string", gettext_lazy("Tiêu đề")),
    Queryable("category", "category__code", "string", gettext_lazy("Mã lĩnh vực")),
    Queryable("state", "state", "string", gettext_lazy("Trạng thái"), enum=list(policy.PUBLIC.values)),
    Queryable("created_at", "created_at", "datetime", gettext_lazy("Thời điểm tiếp nhận")),
    Queryable("resolved_at", "resolved_at", "datetime", gettext_lazy("Thời điểm xử lý xong")),
    Queryable("authority", "authority__code", "string", gettext_lazy("Mã cơ quan xử lý")),
    Queryable("province_code", "province_code", "string", gettext_lazy("Mã tỉnh")),
    Queryable("commune", "commune__code", "string", gettext_lazy("Mã xã/phường")),
    Queryable("geometry", "location", "geometry", gettext_lazy("Vị trí")),
]
AREA_QUERYABLES = [
    Queryable("code", "code", "string", gettext_lazy("Mã chính thức")),
    Queryable("name", "name", "string", gettext_lazy("Tên")),
    Queryable("name_en", "name_en", "string", gettext_lazy("Tên tiếng Anh")),
    Queryable("parent", "parent__code", "string", gettext_lazy("Mã đơn vị cấp trên")),
    Queryable("geometry", "geom", "geometry", gettext_lazy("Ranh giới")),
]
AUTHORITY_QUERYABLES = [
    Queryable("code", "code", "string", gettext_lazy("Mã")),
    Queryable("name", "name", "string", gettext_lazy("Tên")),
    Queryable("kind", "kind", "string", gettext_lazy("Loại"), enum=list(Authority.Kind.values)),
    Queryable("level", "level", "string", gettext_lazy("Cấp"), enum=list(Authority.Level.values)),
    Queryable("province_code", "province_code", "string", gettext_lazy("Mã tỉnh")),
    Queryable("area", "jurisdiction__code", "string", gettext_lazy("Mã địa bàn")),
    Queryable("geometry", "jurisdiction__geom", "geometry", gettext_lazy("Địa bàn")),
]


def local_name(name, name_en):
    """The English name on English pages when there is one."""
    return name_en if name_en and (get_language() or "").startswith("en") else name


def reports_collection(j=None):
    if j is None:
        return Collection("reports", _("Phản ánh công khai"), _("Mọi phản ánh đã công khai, mọi vùng tài phán."),
                          "reports", REPORT_QUERYABLES, temporal=True)
    return Collection(
        f"reports-{j.code.lower()}", _("Phản ánh công khai – %(name)s") % {"name": local_name(j.name, j.name_en)},
        _("Các phản ánh đã công khai của %(name)s.") % {"name": local_name(j.name, j.name_en)}, "reports",
        REPORT_QUERYABLES,
        jurisdiction=j, temporal=True,
    )


def all_collections():
    """Every collection, in the order the landing page lists them."""
    out = [reports_collection()]
    for j in Jurisdiction.objects.filter(active=True).order_by("country", "kind", "code"):
        out.append(reports_collection(j))
    pairs = (
        Area.objects.order_by("version__code", "type__level", "type__code")
        .values_list("version__code", "version__name", "type__code", "type__name", "type__name_en").distinct()
    )
    for vcode, vname, tcode, tname, tname_en in pairs:
        tname = local_name(tname, tname_en)
        out.append(Collection(
            f"areas-{vcode}-{tcode}", f"{tname} – {vname}",
            _("Ranh giới %(type)s của phiên bản địa giới %(version)s (đơn giản hoá theo tham số zoom).")
            % {"type": tname, "version": vname},
            "areas", AREA_QUERYABLES, version_code=vcode, type_code=tcode,
        ))
    out.append(Collection("authorities", _("Cơ quan xử lý"),
                          _("Các cơ quan tiếp nhận và xử lý phản ánh, theo địa bàn."),
                          "authorities", AUTHORITY_QUERYABLES))
    return out


def get_collection(cid):
    """The collection with this id, or None (one query for a report or authority
    collection; the areas' pairs are listed to match ids with hyphens in their parts)."""
    if cid == "reports":
        return reports_collection()
    if cid.startswith("reports-"):
        j = Jurisdiction.objects.filter(code__iexact=cid[len("reports-"):], active=True).first()
        return reports_collection(j) if j is not None else None
    for c in all_collections():
        if c.id == cid:
            return c
    return None


# --- parameters -----------------------------------------------------------------------


def parse_limit(raw, maximum):
    """limit: 1..; above the collection's maximum it is clamped (the standard lets a
    server serve fewer than asked, and the next link carries on)."""
    if raw in (None, ""):
        return min(DEFAULT_LIMIT, maximum)
    try:
        value = int(raw)
    except ValueError:
        raise QueryError({"limit": _("Phải là số nguyên.")}) from None
    if value < 1:
        raise QueryError({"limit": _("Phải lớn hơn 0.")})
    return min(value, maximum)


def parse_offset(raw):
    if raw in (None, ""):
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise QueryError({"offset": _("Phải là số nguyên.")}) from None
    if value < 0:
        raise QueryError({"offset": _("Không được âm.")})
    if value > MAX_OFFSET:
        raise QueryError({"offset": _("Phải trong khoảng %(lo)s–%(hi)s.") % {"lo": 0, "hi": MAX_OFFSET}})
    return value


def parse_zoom(raw):
    if raw in (None, ""):
        return DEFAULT_ZOOM
    try:
        value = int(raw)
    except ValueError:
        raise QueryError({"zoom": _("Phải là số nguyên.")}) from None
    if not 0 <= value <= MAX_ZOOM:
        raise QueryError({"zoom": _("Phải trong khoảng %(lo)s–%(hi)s.") % {"lo": 0, "hi": MAX_ZOOM}})
    return value


def parse_bbox(raw, crs=None):
    """bbox=minlon,minlat,maxlon,maxlat (or the 6-number 3D form) in CRS84."""
    if raw in (None, ""):
        return None
    if crs not in (None, "", CRS84):
        raise QueryError({"bbox-crs": _("Chỉ hỗ trợ hệ toạ độ %(crs)s.") % {"crs": CRS84}})
    try:
        nums = [float(v) for v in raw.split(",")]
    except ValueError:
        raise QueryError({"bbox": _("Vùng không hợp lệ (bbox=tây,nam,đông,bắc).")}) from None
    if len(nums) == 6:
        nums = [nums[0], nums[1], nums[3], nums[4]]
    if len(nums) != 4:
        raise QueryError({"bbox": _("Vùng không hợp lệ (bbox=tây,nam,đông,bắc).")})
    w, s, e, n = nums
    if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= n <= 90):
        raise QueryError({"bbox": _("Vùng nằm ngoài giới hạn kinh độ/vĩ độ.")})
    if w > e:
        # Crossing the antimeridian: none of our data does; refuse rather than guess.
        raise QueryError({"bbox": _("Vùng vắt qua kinh tuyến 180° chưa được hỗ trợ.")})
    return (w, s, e, n)


def _instant(text, end=False, zone=None):
    """A date-time with zone (RFC 3339), or a date (its whole day, in ``zone``: the
    collection's jurisdiction's, default ours)."""
    value = parse_datetime(text) if "T" in text.upper() else None
    if value is not None:
        if timezone.is_naive(value):
            raise QueryError({"datetime": _("Thời điểm phải có múi giờ (ví dụ 2025-01-31T00:00:00Z).")})
        return value
    day = parse_date(text)
    if day is None:
        raise QueryError({"datetime": _("Không hiểu thời điểm “%(v)s” (RFC 3339).") % {"v": text}})
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min), zone)
    if end:  # the next day's start, in the zone (a day is not always 24 hours)
        return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min), zone)
    return start


def parse_datetime_param(raw, zone=None):
    """(start, end, end_inclusive): an instant, a closed interval or a half-bounded
    one ('..' or empty). A date means its whole day (in our time zone): a date's end
    is the next day's start, excluded; date-time bounds are inclusive."""
    if raw in (None, ""):
        return None
    try:
        if "/" in raw:
            a, b = raw.split("/", 1)
            start = None if a in ("", "..") else _instant(a, zone=zone)
            end = None if b in ("", "..") else _instant(b, end=True, zone=zone)
            if start is None and end is None:
                raise QueryError({"datetime": _("Khoảng thời gian cần ít nhất một đầu.")})
            if start and end and start > end:
                raise QueryError({"datetime": _("Thời điểm đầu sau thời điểm cuối.")})
            return (start, end, "T" in b.upper())
        if "T" in raw.upper():
            t = _instant(raw)
            return (t, t, True)
        return (_instant(raw, zone=zone), _instant(raw, end=True, zone=zone), False)
    except QueryError:
        raise
    except (ValueError, OverflowError):
        raise QueryError({"datetime": _("Không hiểu thời điểm “%(v)s” (RFC 3339).") % {"v": raw}}) from None


def datetime_q(parsed):
    start, end, end_inclusive = parsed
    q = Q()
    if start is not None:
        q &= Q(created_at__gte=start)
    if end is not None:
        q &= Q(created_at__lte=end) if end_inclusive else Q(created_at__lt=end)
    return q


def attributes(node):
    """Every attribute name a parsed CQL2 expression refers to."""
    import dataclasses

    from pygeofilter import ast as cql_ast

    if isinstance(node, cql_ast.Attribute):
        return {node.name}
    if isinstance(node, (list, tuple)):
        return set().union(*(attributes(n) for n in node)) if node else set()
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return set().union(*(attributes(getattr(node, f.name)) for f in dataclasses.fields(node)))
    return set()


def cql2_q(collection, text, lang=None):
    """A CQL2 text filter as a Q over the collection's queryables."""
    from pygeofilter.backends.django import to_filter
    from pygeofilter.parsers.cql2_text import parse

    if lang not in (None, "", "cql2-text"):
        raise QueryError({"filter-lang": _("Chỉ hỗ trợ cql2-text.")})
    try:
        ast = parse(text)
    except Exception:  # noqa: BLE001 - lark raises many kinds; each is the client's syntax
        raise QueryError({"filter": _("Biểu thức CQL2 không hợp lệ.")}) from None
    # pygeofilter falls back to the raw name for an attribute outside the mapping: a
    # filter on contact_phone would probe private fields. Only queryables pass.
    mapping = collection.field_mapping()
    for name in sorted(attributes(ast) - set(mapping)):
        raise QueryError({"filter": _("Không có thuộc tính “%(name)s” để lọc (xem /queryables).") % {"name": name}})
    try:
        return to_filter(ast, mapping)
    except Exception:  # noqa: BLE001 - an operator the backend cannot express
        raise QueryError({"filter": _("Biểu thức CQL2 không được hỗ trợ.")}) from None


def filtered(collection, params):
    """The collection's queryset with bbox, datetime and filter applied."""
    qs = collection.base_queryset()
    bbox = parse_bbox(params.get("bbox"), params.get("bbox-crs"))
    if bbox is not None:
        env = Polygon.from_bbox(bbox)
        env.srid = 4326
        qs = qs.filter(**{f"{collection.geometry_field}__intersects": env})
    zone = None
    if collection.jurisdiction is not None and collection.jurisdiction.time_zone:
        try:
            zone = collection.jurisdiction.tzinfo
        except (KeyError, ValueError):
            zone = None
    when = parse_datetime_param(params.get("datetime"), zone)
    if when is not None and collection.temporal:
        qs = qs.filter(datetime_q(when))
    # Part 1's property filters: ?state=closed on a string queryable (GDAL sends them
    # for the parameters the API document declares).
    for q in collection.queryables:
        if q.type == "string" and params.get(q.name) not in (None, ""):
            qs = qs.filter(**{q.lookup: params.get(q.name)})
    text = params.get("filter")
    if text:
        qs = qs.filter(cql2_q(collection, text, params.get("filter-lang")))
    elif params.get("filter-lang") not in (None, "", "cql2-text"):
        raise QueryError({"filter-lang": _("Chỉ hỗ trợ cql2-text.")})
    return qs
