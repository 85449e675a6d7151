"""The one locating step of a report: where is the pin, who acts on it there.

Intake (a new report) and the state machine (the desk moves the pin or changes the
category) both use it; it knows nothing of either, so neither imports the other for it.

- ``parse_point(data)``: a Point from the request's "lat"/"lon", or field errors;
- ``locate_and_route(point, category, at)``: boundaries.lookup.locate + the cached
  boundaries.routing.route_cached, a ValidationError on "location" when the pin is in
  no area;
- ``apply_location(report, located, routed)``: copies both results onto the report;
- ``relocate(report, point, category, at)``: all of the above on an existing report,
  returning what changed (for the event).
"""

import math

from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from boundaries import jurisdictions, routing
from boundaries.lookup import locate


def _value(data, key):
    value = data.get(key, "") if hasattr(data, "get") else ""
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    return "" if value is None else value


def parse_point(data, errors=None):
    """A Point from data["lat"], data["lon"] (decimal degrees; a decimal comma is
    accepted). With ``errors`` (a dict) the field errors are added to it and None is
    returned; without, they are raised as a ValidationError."""
    own = errors is None
    errors = {} if own else errors
    coords = {}
    for key, low, high in (("lat", -90, 90), ("lon", -180, 180)):
        raw = str(_value(data, key)).strip().replace(",", ".")
        if not raw:
            errors[key] = [_("Hãy chọn vị trí trên bản đồ.")]
            continue
        try:
            value = float(raw)
        except ValueError:
            errors[key] = [_("Tọa độ phải là số.")]
            continue
        if not math.isfinite(value) or not (low <= value <= high):
            errors[key] = [_("Tọa độ phải nằm trong khoảng %(low)s đến %(high)s.") % {"low": low, "high": high}]
            continue
        coords[key] = value
    if own and errors:
        raise ValidationError(errors)
    if "lat" in coords and "lon" in coords:
        return Point(coords["lon"], coords["lat"], srid=4326)
    return None


def locate_and_route(point, category, at=None):
    """(LocateResult, RouteResult) of ``point`` for ``category`` at ``at`` (default
    now), or a ValidationError on "location" when the pin is in no area."""
    located = locate(point, at=at or timezone.now())
    if not located.areas:
        raise ValidationError({"location": [located.message or _("Vị trí nằm ngoài địa bàn được quản lý.")]})
    return located, routing.route_cached(located.areas, category.codes_for_routing())


def apply_location(report, located, routed):
    """Copy a LocateResult and a RouteResult onto the report (not saved)."""
    report.commune = located.area_of_type("commune")
    report.district = located.area_of_type("district")
    province = located.area_of_type("province")
    if province is not None:
        report.province_code = province.code
    elif routed.authority is not None and routed.authority.province_code:
        report.province_code = routed.authority.province_code
    report.jurisdiction = jurisdictions.for_province_code(report.province_code)
    report.boundary_version = located.version
    report.snapped_m = located.snapped_m
    report.authority = routed.authority
    report.routing_rule = routed.rule
    report.routing_explanation = routed.explanation or ""


def _where(report):
    return {
        "commune": report.commune.code if report.commune_id else "",
        "authority": report.authority.code if report.authority_id else "",
    }


def relocate(report, point=None, category=None, at=None):
    """Locate and route ``report`` again (its pin moved or its category changed) and
    apply the result (not saved). Returns {"before", "after", "explanation"} for the
    event. Raises a ValidationError on "location" when the pin is in no area."""
    point = point or report.location
    category = category or report.category
    located, routed = locate_and_route(point, category, at=at)
    before = _where(report)
    report.location = point
    report.category = category
    apply_location(report, located, routed)
    return {"before": before, "after": _where(report), "explanation": report.routing_explanation}
