"""The one locating step of a report: where is the pin, who acts on it there.

Intake (a new report) and the state machine (the desk moves the pin or changes the
category) both use it; it knows nothing of either, so neither imports the other for it.

- ``parse_point(data)``: a Point from the request's "lat"/"lon", or field errors;
- ``parse_place(data, errors)``: a new report's place: the pin, or — without one — the
  commune the citizen chose by name ("commune": its code), the accessible alternative
  to the map;
- ``locate_place(point, commune_code, at)``: boundaries.lookup.locate of the pin, or
  boundaries.lookup.locate_area of the chosen commune; a ValidationError on "location"
  when the pin is in no area, on "commune" for a code not in force;
- ``locate_and_route(point, category, at, commune_code)``: locate_place + the cached
  boundaries.routing.route_cached (the one routing path, whichever way the place came);
- ``apply_location(report, located, routed)``: copies both results onto the report (a
  report placed by commune gets the commune's inner point, precision "commune");
- ``relocate(report, point, category, at)``: all of the above on an existing report,
  returning what changed (for the event).
"""

import math

from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from boundaries import jurisdictions, routing
from boundaries.lookup import locate, locate_area
from reports.models import Report


def _value(data, key):
    value = data.get(key, "") if hasattr(data, "get") else ""
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    return "" if value is None else value


def parse_point(data, errors=None, missing=None):
    """A Point from data["lat"], data["lon"] (decimal degrees; a decimal comma is
    accepted). With ``errors`` (a dict) the field errors are added to it and None is
    returned; without, they are raised as a ValidationError. ``missing``: the message
    for an absent coordinate."""
    own = errors is None
    errors = {} if own else errors
    coords = {}
    for key, low, high in (("lat", -90, 90), ("lon", -180, 180)):
        raw = str(_value(data, key)).strip().replace(",", ".")
        if not raw:
            errors[key] = [missing or _("Hãy chọn vị trí trên bản đồ.")]
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


COMMUNE_CODE_MAX = 40  # Area.code's length


def parse_place(data, errors):
    """Where a new report is: ``(point, "")`` from "lat"/"lon" (the pin wins whenever
    one is given), else ``(None, code)`` from "commune" (a commune chosen by name, for
    whoever cannot use the map). Neither: field errors on "lat" and "lon" (added to
    ``errors``) and ``(None, "")``."""
    commune = str(_value(data, "commune")).strip()
    pinned = any(str(_value(data, key)).strip() for key in ("lat", "lon"))
    if commune and not pinned:
        if len(commune) > COMMUNE_CODE_MAX:
            errors["commune"] = [_("Mã xã/phường tối đa %(max)d ký tự.") % {"max": COMMUNE_CODE_MAX}]
            return None, ""
        return None, commune
    return parse_point(data, errors, missing=_("Hãy đặt ghim trên bản đồ hoặc chọn xã/phường.")), ""


def locate_place(point, commune_code="", at=None):
    """The LocateResult of the pin, or of the commune chosen by its code (in the
    boundary version in force at ``at``); a ValidationError on "location" when the pin
    is in no area, on "commune" when no commune of the version in force has that code."""
    at = at or timezone.now()
    if point is None and commune_code:
        located = locate_area(commune_code, at=at, type_code="commune")
        if not located.areas:
            raise ValidationError({"commune": [located.message]})
        return located
    located = locate(point, at=at)
    if not located.areas:
        raise ValidationError({"location": [located.message or _("Vị trí nằm ngoài địa bàn được quản lý.")]})
    return located


def locate_and_route(point, category, at=None, commune_code=""):
    """(LocateResult, RouteResult) of ``point`` — or, without one, of the commune of
    ``commune_code`` — for ``category`` at ``at`` (default now); see locate_place for
    the errors. Both ways route through the same cached rules."""
    located = locate_place(point, commune_code, at)
    return located, routing.route_cached(located.areas, category.codes_for_routing())


def apply_location(report, located, routed):
    """Copy a LocateResult and a RouteResult onto the report (not saved). A result of
    a commune chosen by name puts the report at the commune's inner point, marked as
    placed by commune."""
    if located.point is not None:
        report.location = located.point
        report.location_precision = Report.LocationPrecision.COMMUNE
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
    moved = point is not None
    point = point or report.location
    category = category or report.category
    located, routed = locate_and_route(point, category, at=at)
    before = _where(report)
    report.location = point
    report.category = category
    apply_location(report, located, routed)
    if moved:  # someone put a pin where it is: no longer "somewhere in the commune"
        report.location_precision = Report.LocationPrecision.POINT
    return {"before": before, "after": _where(report), "explanation": report.routing_explanation}
