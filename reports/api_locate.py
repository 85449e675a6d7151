"""GET /api/v1/locate?lat=..&lon=..[&at=ISO8601][&category=CODE]

Where a point is (one area per level of the boundary version valid at ``at``) and, with
``category``, who acts on it. It lives in reports because it reads categories:
boundaries knows nothing of reports (dependencies point one way).

Bad input answers 400 with a translated message per field:
{"errors": {"lat": ["..."], "category": ["..."]}, "message": "..."}
"""

import datetime as dt
import math

from django.http import JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from boundaries.lookup import locate
from boundaries.routing import route
from reports.models import Category


def _coordinate(raw, field, limit, errors):
    if raw is None or raw.strip() == "":
        errors[field] = [_("Thiếu tham số này.")]
        return None
    try:
        if "_" in raw:  # float() reads "2_0" as 20: not a coordinate anyone typed
            raise ValueError
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError
    except ValueError:
        errors[field] = [_("Phải là một số thập phân (ví dụ 20.95).")]
        return None
    if not -limit <= value <= limit:
        errors[field] = [_("Phải nằm trong khoảng từ %(lo)s đến %(hi)s.") % {"lo": -limit, "hi": limit}]
        return None
    return value


def parse_at(raw):
    """ISO 8601 date or datetime; naive times are in the portal's time zone."""
    raw = raw.strip().replace(" ", "+") if raw else raw  # '+07:00' arrives as ' 07:00' from a query string
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None:
        try:
            day = parse_date(raw)
        except ValueError:
            day = None
        return day
    try:
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        timezone.localtime(value)  # year 1 at +14:00 or year 9999 at -12:00 cannot be a local day
    except (OverflowError, ValueError):
        return None
    return value


def area_brief(area):
    return {
        "id": area.id,
        "type": area.type.code,
        "type_name": area.type.name,
        "code": area.code,
        "name": area.name,
        "name_en": area.name_en,
        "version": area.version.code,
    }


def parse_query(get, errors):
    """lat, lon, at and the category code of a query (a QueryDict); the mistakes go
    into ``errors`` (field → translated messages). Shared with the lean ASGI path
    (reports/api_locate_lean.py)."""
    lat = _coordinate(get.get("lat"), "lat", 90, errors)
    lon = _coordinate(get.get("lon"), "lon", 180, errors)
    at = None
    if get.get("at"):
        at = parse_at(get["at"])
        if at is None:
            errors["at"] = [_("Thời điểm phải theo ISO 8601, ví dụ 2025-03-01 hoặc 2025-03-01T08:30:00+07:00.")]
    return lat, lon, at, (get.get("category") or "").strip()


def bad_request_body(errors):
    return {"errors": errors, "message": _("Yêu cầu không hợp lệ.")}


def answer(result, at):
    """The answer's fields for a locate() result (without the routing)."""
    return {
        "areas": [area_brief(a) for a in result.areas],
        "snapped_m": None if result.snapped_m is None else round(result.snapped_m, 1),
        "reason": result.reason,
        "message": result.message,
        "at": (at.isoformat() if isinstance(at, dt.date) else None),
    }


@require_GET
def locate_view(request):
    errors = {}
    lat, lon, at, code = parse_query(request.GET, errors)
    category = None
    if code:
        if "\x00" not in code and len(code) <= Category._meta.get_field("code").max_length:
            category = Category.objects.filter(code=code, active=True).select_related("parent").first()
        if category is None:
            shown = code.replace("\x00", "")[:60]
            errors["category"] = [_("Không có lĩnh vực “%(code)s”.") % {"code": shown}]
    if errors:
        return JsonResponse(bad_request_body(errors), status=400)

    result = locate((lon, lat), at=at)
    data = answer(result, at)
    if category is not None:
        routed = route(result.areas, category.codes_for_routing())
        a = routed.authority
        data["category"] = {"code": category.code, "name": category.name, "name_en": category.name_en}
        data["authority"] = a and {
            "id": a.id,
            "code": a.code,
            "name": a.name,
            "name_en": a.name_en,
            "kind": a.kind,
            "level": a.level,
            "phone": a.phone,
            "email": a.email,
        }
        data["rule"] = routed.rule and {
            "id": routed.rule.id,
            "name": routed.rule.name,
            "priority": routed.rule.priority,
        }
        data["matched_area"] = routed.area and {"code": routed.area.code, "name": routed.area.name}
        data["explanation"] = routed.explanation
    return JsonResponse(data)
