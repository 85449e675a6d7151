"""Boundary API: GeoJSON layers simplified by zoom, and one area with its authorities.

GET /api/v1/boundaries/<version>/<type>.geojson?province=22&zoom=Z   (or &bbox=w,s,e,n)
    zoom above 14 is answered as 14; too many features for the zoom → 400; cached
    <version> "current": BoundaryVersion.objects.current() (what the pages ask for)
GET /api/v1/areas/<id>
GET /api/v1/areas/by-code/<code>?version=vn-2025&type=commune

The point lookup with routing (/api/v1/locate) lives in reports/api_locate.py: it reads
categories, and boundaries knows nothing of reports.
"""

import math

from django.http import Http404, HttpResponse, JsonResponse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_GET

from boundaries.geojson import TooManyFeatures, area_lineage_codes, bounded_layer
from boundaries.models import Area, AreaType, Authority, BoundaryVersion
from boundaries.routing import responsibilities


def _bad_request(errors: dict) -> JsonResponse:
    return JsonResponse({"errors": errors, "message": _("Yêu cầu không hợp lệ.")}, status=400)


# Compressed for the clients that accept it: a province's communes are ~370 KB of GeoJSON,
# ~100 KB gzipped: on a slow 3G phone most of the intake page's weight (bench/pages.py).
# Public data, no secret in the body: no BREACH concern (unlike pages with a CSRF token).
@gzip_page
@require_GET
def boundary_geojson(request, version, type_code):
    errors = {}
    if version == "current":
        current = BoundaryVersion.objects.current()
        version = current.code if current else version
    if not BoundaryVersion.objects.filter(code=version).exists():
        errors["version"] = [_("Không có phiên bản địa giới “%(code)s”.") % {"code": version}]
    if not AreaType.objects.filter(code=type_code).exists():
        errors["type"] = [_("Không có loại đơn vị “%(code)s”.") % {"code": type_code}]
    province = request.GET.get("province") or None
    if province is not None and ("\x00" in province or len(province) > 40):
        errors["province"] = [_("Mã tỉnh không hợp lệ.")]
    zoom_raw = request.GET.get("zoom")
    zoom = 10 if province else 6
    if zoom_raw not in (None, ""):
        try:
            zoom = int(zoom_raw)
            if not 0 <= zoom <= 22:
                raise ValueError
        except ValueError:
            errors["zoom"] = [_("Mức thu phóng phải là số nguyên từ 0 đến 22.")]
    bbox = None
    if request.GET.get("bbox"):
        try:
            bbox = [float(x) for x in request.GET["bbox"].split(",")]
            if len(bbox) != 4 or not all(math.isfinite(x) for x in bbox):
                raise ValueError
            w, s, e, n = bbox
            if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
                raise ValueError
        except ValueError:
            errors["bbox"] = [_("Khung bao phải có dạng kinh độ tây, vĩ độ nam, kinh độ đông, vĩ độ bắc.")]
    if errors:
        return _bad_request(errors)
    try:
        body = bounded_layer(version, type_code, zoom, province=province, bbox=bbox)
    except TooManyFeatures as exc:
        message = _("Lớp này có %(n)d vùng, tối đa %(max)d ở mức thu phóng này: hãy chọn một tỉnh (province), "
                    "thu hẹp khung bao (bbox) hoặc giảm mức thu phóng.") % {"n": exc.count, "max": exc.limit}
        field = "bbox" if bbox else ("province" if province else "zoom")
        return _bad_request({field: [message]})
    response = HttpResponse(body, content_type="application/geo+json")
    response["Cache-Control"] = "public, max-age=3600"
    return response


def _authority_json(a: Authority) -> dict:
    return {
        "id": a.id,
        "code": a.code,
        "name": a.name,
        "name_en": a.name_en,
        "kind": a.kind,
        "kind_name": a.get_kind_display(),
        "level": a.level,
        "level_name": a.get_level_display(),
        "phone": a.phone,
        "email": a.email,
        "address": a.address,
        "head_name": a.head_name,
    }


def area_json(area: Area) -> dict:
    parent = area.parent
    return {
        "id": area.id,
        "code": area.code,
        "name": area.name,
        "name_en": area.name_en,
        "full_name": (area.properties or {}).get("full_name") or area.name,
        "type": area.type.code,
        "type_name": (area.type.name_en if get_language() == "en" and area.type.name_en else area.type.name),
        "version": area.version.code,
        "version_name": area.version.name,
        "codes": area_lineage_codes(area),
        "parent": parent and {"id": parent.id, "code": parent.code, "name": parent.name, "type": parent.type.code},
        "authorities": [_authority_json(a) for a in area.authorities.filter(active=True).order_by("kind", "name")],
        # Who acts on each field here (the routing rules applied at this area).
        "routing": [
            {
                "category_code": r.rule.category_code,
                "rule": r.rule.name,
                "priority": r.rule.priority,
                "authority": {
                    "id": r.authority.id,
                    "code": r.authority.code,
                    "name": r.authority.name,
                    "name_en": r.authority.name_en,
                },
            }
            for r in responsibilities(area)
        ],
    }


def _area_qs():
    return Area.objects.select_related("type", "version", "parent__type", "parent__parent__type").defer(
        "geom", "parent__geom", "parent__parent__geom"
    )


@require_GET
def area_detail(request, pk):
    area = _area_qs().filter(pk=pk).first()
    if area is None:
        raise Http404(_("Không tìm thấy đơn vị hành chính này."))
    return JsonResponse(area_json(area))


@require_GET
def area_by_code(request, code):
    if any("\x00" in v for v in (code, request.GET.get("version", ""), request.GET.get("type", ""))):
        shown = code.replace("\x00", "")
        return JsonResponse({"message": _("Không tìm thấy đơn vị có mã “%(code)s”.") % {"code": shown}}, status=404)
    qs = _area_qs().filter(code=code)
    if request.GET.get("version"):
        qs = qs.filter(version__code=request.GET["version"])
    if request.GET.get("type"):
        qs = qs.filter(type__code=request.GET["type"])
    area = qs.order_by("-version__valid_from", "type__level").first()
    if area is None:
        return JsonResponse({"message": _("Không tìm thấy đơn vị có mã “%(code)s”.") % {"code": code}}, status=404)
    return JsonResponse(area_json(area))
