"""Open311 GeoReport v2 on top of the reports: services are leaf categories, requests
are public reports, a POST goes through reports.intake.create_report (the same
validation, routing, state machine and limits as every other way in).

Everything here returns plain dicts and lists; views.py renders them as XML or JSON.
Only public reports (policy.PUBLIC) are listed, and never any reporter data.
"""

import datetime as dt
from zoneinfo import ZoneInfo

from django.contrib.gis.geos import Polygon
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from boundaries import jurisdictions
from reports import intake, policy, sla
from reports.models import Category, Media, Report, ReportEvent

from .models import ServiceAttribute, ServiceRequest

State = Report.State

DESCRIPTION_MAX = 4000  # GeoReport v2: "may be up to 4,000 characters"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
DEFAULT_DAYS = 90  # the spec's default window of GET requests

# FixMyStreet's extended statuses (servicerequestupdates, extended_attributes), spelt as
# mySociety's open311-adapter sends them (lower case): one per state; the open/closed
# status itself comes from policy.OPEN. Our own state goes in external_status_code.
EXTENDED_STATUS = {
    State.RECEIVED: "open",
    State.FORWARDED: "action_scheduled",
    State.ACCEPTED: "investigating",
    State.IN_PROGRESS: "in_progress",
    State.RESOLVED: "fixed",
    State.PUBLISHED: "fixed",
    State.RATED: "fixed",
    State.REOPENED: "open",
    State.REJECTED: "no_further_action",
    State.MERGED: "duplicate",
    State.CLOSED: "closed",
}
# Event reasons the public timeline shows (the others are staff notes).
PUBLIC_REASON_ACTIONS = ("reject", "close", "reopen", "rate", "grant_extension")


class Open311Error(Exception):
    """An error the spec's error array reports: ``code`` is the HTTP status."""

    def __init__(self, code, description, retry_after=None):
        super().__init__(description)
        self.code, self.description, self.retry_after = code, str(description), retry_after


def status_of(state):
    return "open" if state in policy.OPEN else "closed"


def _zone(report_or_jurisdiction):
    j = getattr(report_or_jurisdiction, "jurisdiction", report_or_jurisdiction)
    try:
        return ZoneInfo(getattr(j, "time_zone", "") or jurisdictions.DEFAULT_TIME_ZONE)
    except (KeyError, ValueError):
        return ZoneInfo(jurisdictions.DEFAULT_TIME_ZONE)


def fmt_dt(moment, zone):
    """W3C datetime with the zone's offset (2026-01-02T09:30:00+07:00)."""
    if not moment:
        return ""
    return moment.astimezone(zone).isoformat(timespec="seconds")


# --- jurisdictions -------------------------------------------------------------------


def jurisdiction_of(code):
    """The jurisdiction a client names by ``jurisdiction_id``; None when not given;
    404 when unknown."""
    code = (code or "").strip()
    if not code:
        return None
    found = jurisdictions.get(code)
    if found is None or not found.active:
        raise Open311Error(404, _("Không có vùng tài phán “%(id)s”.") % {"id": code[:60]})
    return found


def scope_q(jurisdiction, prefix=""):
    from django.db.models import Q

    codes_in, codes_not_in = jurisdictions.scope(jurisdiction)
    if codes_in is not None:
        return Q(**{f"{prefix}province_code__in": codes_in})
    return ~Q(**{f"{prefix}province_code__in": codes_not_in}) if codes_not_in else Q()


# --- services --------------------------------------------------------------------------


def _name(cat):
    return (cat.name_en or cat.name) if (get_language() or "").startswith("en") else cat.name


def leaf_categories(jurisdiction):
    cats = list(Category.offered_in(jurisdiction).filter(active=True).select_related("parent"))
    parents = {c.parent_id for c in cats if c.parent_id}
    return [c for c in cats if c.pk not in parents]


def services(jurisdiction):
    cats = leaf_categories(jurisdiction)
    with_attrs = set(ServiceAttribute.objects.filter(active=True, category__in=cats)
                     .values_list("category_id", flat=True))
    out = []
    for c in cats:
        out.append({
            "service_code": c.code,
            "service_name": _name(c),
            "description": _("Chuyển xử lý trong %(f)d ngày làm việc, giải quyết trong %(r)d ngày làm việc.")
            % {"f": sla.forward_days(c), "r": sla.resolve_days(c)},
            "metadata": c.pk in with_attrs,
            "type": "realtime",
            "keywords": ", ".join(k for k in (c.code, c.name_en) if k),
            "group": _name(c.parent) if c.parent_id else "",
        })
    return out


def service(code, jurisdiction):
    for c in leaf_categories(jurisdiction):
        if c.code == code:
            return c
    raise Open311Error(404, _("Không có dịch vụ “%(code)s”.") % {"code": str(code)[:60]})


def definition(code, jurisdiction):
    cat = service(code, jurisdiction)
    attrs = []
    for a in ServiceAttribute.objects.filter(category=cat, active=True).order_by("order", "code"):
        attrs.append({
            "variable": a.variable,
            "code": a.code,
            "datatype": a.datatype,
            "required": a.required,
            "datatype_description": a.datatype_description,
            "order": a.order,
            "description": a.description,
            "values": [{"key": str(v.get("key")), "name": str(v.get("name", ""))} for v in a.values or []
                       if isinstance(v, dict)],
        })
    return {"service_code": cat.code, "attributes": attrs}


# --- POST requests ---------------------------------------------------------------------


def _one(data, key):
    value = data.get(key, "") if hasattr(data, "get") else ""
    return str(value or "").strip()


def _attribute_values(data, code):
    """attribute[code] (one) or attribute[code][] (a list), from a QueryDict or dict."""
    out = []
    for name in (f"attribute[{code}]", f"attribute[{code}][]"):
        if hasattr(data, "getlist"):
            out += [str(v).strip() for v in data.getlist(name)]
        elif name in data:
            v = data[name]
            out += [str(x).strip() for x in (v if isinstance(v, list | tuple) else [v])]
    return [v for v in out if v]


def check_attributes(category, data):
    """{code: value or [values]} of the answers, or a 400 naming the first problem."""
    answers = {}
    for a in ServiceAttribute.objects.filter(category=category, active=True, variable=True).order_by("order"):
        values = _attribute_values(data, a.code)
        if not values:
            if a.required:
                raise Open311Error(400, _("Thiếu câu trả lời bắt buộc attribute[%(code)s].") % {"code": a.code})
            continue
        if a.datatype in (a.Datatype.SINGLE, a.Datatype.MULTI):
            wrong = [v for v in values if v not in a.value_keys()]
            if wrong or (a.datatype == a.Datatype.SINGLE and len(values) > 1):
                raise Open311Error(400, _("Giá trị không hợp lệ cho attribute[%(code)s].") % {"code": a.code})
            answers[a.code] = values if a.datatype == a.Datatype.MULTI else values[0]
            continue
        value = values[0]
        if a.datatype == a.Datatype.NUMBER:
            try:
                float(value.replace(",", "."))
            except ValueError:
                raise Open311Error(400, _("attribute[%(code)s] phải là số.") % {"code": a.code}) from None
        if a.datatype == a.Datatype.DATETIME and parse_datetime(value) is None and parse_date(value) is None:
            raise Open311Error(400, _("attribute[%(code)s] phải là ngày giờ.") % {"code": a.code})
        if len(value) > 1000:
            raise Open311Error(400, _("attribute[%(code)s] quá dài.") % {"code": a.code})
        answers[a.code] = value
    return answers


def _answers_text(category, answers):
    """The answers as lines the desk reads under the description."""
    lines = []
    for a in ServiceAttribute.objects.filter(category=category, code__in=list(answers)).order_by("order"):
        value = answers[a.code]
        shown = ", ".join(a.value_name(v) for v in value) if isinstance(value, list) else a.value_name(value)
        lines.append(f"{a.description}: {shown}")
    return "\n".join(lines)


def _province_jurisdiction(point):
    from boundaries.lookup import locate

    located = locate(point, at=timezone.now())
    if not located.areas:
        raise Open311Error(400, located.message or _("Vị trí nằm ngoài địa bàn được quản lý."))
    province = located.area_of_type("province")
    return jurisdictions.for_province_code(province.code if province is not None else "")


def _commune_jurisdiction(code):
    from boundaries.lookup import locate_area

    located = locate_area(code, at=timezone.now())
    if not located.areas:
        raise Open311Error(400, "address_id: " + (located.message or _("Không có xã/phường này.")))
    province = located.area_of_type("province")
    return jurisdictions.for_province_code(province.code if province is not None else "")


def commune_of_address(address, jurisdiction=None):
    """The official code of the one commune ``address`` names ("… phường Bãi Cháy, Hạ
    Long"), within the jurisdiction when one is given; a province named in the address
    settles a name that several provinces have. 400 when none or several."""
    from boundaries.lookup import communes_named_in, fold_text

    if not address:
        raise Open311Error(400, _("Cần lat và long, hoặc address_id (mã xã/phường), hoặc address_string "
                                  "có tên xã/phường."))
    codes_in = jurisdictions.scope(jurisdiction)[0] if jurisdiction is not None else None
    found = communes_named_in(address, province_codes=codes_in)
    names = [fold_text(a.name) for a in found]
    # "Phường Móng Cái 3" also contains a shorter name: keep the longest.
    found = [a for a, n in zip(found, names, strict=True) if not any(n != m and n in m for m in names)]
    if len(found) > 1:
        text = f" {fold_text(address)} "
        named = [a for a in found if a.parent_id and
                 f" {fold_text(a.parent.name).removeprefix('tinh ').removeprefix('thanh pho ')} " in text]
        found = named or found
    if len(found) == 1:
        return found[0].code
    if not found:
        raise Open311Error(400, _("Không tìm thấy tên xã/phường trong address_string; hãy gửi lat và long "
                                  "hoặc address_id (mã xã/phường)."))
    raise Open311Error(400, _("address_string khớp với nhiều xã/phường (%(names)s); hãy ghi thêm tỉnh, "
                              "hoặc gửi lat và long hoặc address_id.") % {
        "names": ", ".join(f"{a.name} ({a.code})" for a in found[:5])})


def _first_error(exc):
    if hasattr(exc, "message_dict"):
        for field, messages in exc.message_dict.items():
            return f"{field}: {messages[0]}"
    return "; ".join(exc.messages)


def create_request(data, files, api_key, jurisdiction, idempotency_key=None):
    """Make a report from a GeoReport v2 POST. Returns the ServiceRequest. A retry with
    the same ``idempotency_key`` (the ``Idempotency-Key`` header) from the same API key
    answers the first request's; the same key with another body is a 400."""
    code = _one(data, "service_code")
    if not code:
        raise Open311Error(400, _("Thiếu service_code."))
    category = service(code, jurisdiction)
    lat, lon = _one(data, "lat"), _one(data, "long")
    description = _one(data, "description")
    if not description:
        # The intake's rule: the answers appended below do not stand for a description.
        raise Open311Error(400, "description: " + _("Hãy mô tả sự việc."))
    if len(description) > DESCRIPTION_MAX:
        raise Open311Error(400, _("description dài %(n)d ký tự, tối đa %(max)d.") % {"n": len(description),
                                                                                       "max": DESCRIPTION_MAX})
    place = {}
    if lat or lon:
        try:
            point = intake.parse_point({"lat": lat, "lon": lon})
        except ValidationError as exc:
            raise Open311Error(400, _first_error(exc)) from None
        where = _province_jurisdiction(point)
        place = {"lat": lat, "lon": lon}
    else:
        # No position: the commune, by its official code (address_id) or named in
        # address_string; the report sits inside it (location_precision "commune").
        commune = _one(data, "address_id") or commune_of_address(_one(data, "address_string"), jurisdiction)
        where = _commune_jurisdiction(commune)
        place = {"commune": commune}
    if jurisdiction is not None and where is not None and where.pk != jurisdiction.pk \
            and where.parent_id != jurisdiction.pk:
        raise Open311Error(400, _("Vị trí không thuộc vùng tài phán %(id)s.") % {"id": jurisdiction.code})
    if not api_key.allows(where):
        raise Open311Error(403, _("Khoá API này không được gửi yêu cầu cho %(name)s.") % {
            "name": where.name if where else "?"})
    answers = check_attributes(category, data)
    extra = _answers_text(category, answers)
    full_description = description + ("\n\n" + extra if extra else "")
    name = " ".join(v for v in (_one(data, "first_name"), _one(data, "last_name")) if v)
    fields = {
        "category": category.code, **place, "description": full_description,
        "address": _one(data, "address_string")[:300], "contact_name": name[:120],
        "contact_phone": _one(data, "phone"), "contact_email": _one(data, "email"),
    }
    uploads = {"photos": [], "video": []}
    for f in (files.getlist("media") if files is not None and hasattr(files, "getlist") else []):
        uploads["video" if (f.content_type or "").startswith("video/") else "photos"].append(f)
    with transaction.atomic():
        try:
            report = intake.create_report(fields, uploads, None, idempotency_key, source=f"open311:{api_key.pk}",
                                          scope=f"open311:{api_key.pk}")
        except ValidationError as exc:
            raise Open311Error(400, _first_error(exc)) from None
        if getattr(report, "replayed", False):
            return ServiceRequest.objects.select_related("report").get(report=report)
        req = ServiceRequest.objects.create(
            report=report, api_key=api_key, attributes=answers,
            device_id=_one(data, "device_id")[:200], account_id=_one(data, "account_id")[:200])
    type(api_key).objects.filter(pk=api_key.pk).update(last_used_at=timezone.now())
    return req


# --- GET requests ----------------------------------------------------------------------


def _parse_when(raw, field):
    raw = (raw or "").strip()
    if not raw:
        return None
    problem = _("%(field)s phải là ngày giờ W3C (2026-01-31T00:00:00+07:00).") % {"field": field}
    try:
        # a "+" of an offset arrives as a space when the client did not encode it
        moment = parse_datetime(raw.replace(" ", "+")) if "T" in raw else None
        day = parse_date(raw) if moment is None else None
    except ValueError:  # well formed but impossible (2026-02-30)
        raise Open311Error(400, problem) from None
    if moment is None:
        if day is None:
            raise Open311Error(400, problem)
        moment = dt.datetime.combine(day, dt.time.min)
    if not 1900 <= moment.year <= 9000:  # the window's arithmetic and UTC stay in range
        raise Open311Error(400, _("%(field)s phải trong khoảng năm 1900–9000.") % {"field": field})
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, ZoneInfo(jurisdictions.DEFAULT_TIME_ZONE))
    return moment


def _parse_int(raw, field, default, low, high):
    raw = (raw or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Open311Error(400, _("%(field)s phải là số nguyên.") % {"field": field}) from None
    if not low <= value <= high:
        raise Open311Error(400, _("%(field)s phải từ %(low)d đến %(high)d.") % {"field": field, "low": low,
                                                                                  "high": high})
    return value


def _parse_bbox(raw):
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        w, s, e, n = (float(x) for x in raw.split(","))
    except ValueError:
        raise Open311Error(400, _("bbox phải là kinh độ tây,vĩ độ nam,kinh độ đông,vĩ độ bắc.")) from None
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise Open311Error(400, _("bbox phải là kinh độ tây,vĩ độ nam,kinh độ đông,vĩ độ bắc.")) from None
    return Polygon.from_bbox((w, s, e, n))


def public_requests():
    return (policy.access.public_reports()
            .select_related("category__parent", "authority", "jurisdiction", "commune")
            # the commune's boundary would be read with every row (200 ms a page of 300)
            .defer("contact_name", "contact_phone", "contact_email", "idempotency_key", "receipt_token",
                   "commune__geom", "commune__properties"))


def find_requests(params, jurisdiction):
    """(reports of this page, has_more). ``params``: the query's dict."""
    qs = public_requests().filter(scope_q(jurisdiction))
    ids = [x.strip() for x in (params.get("service_request_id") or "").split(",") if x.strip()]
    if ids:
        # The spec: a list of ids overrides every other argument.
        return list(qs.filter(code__in=ids[:MAX_PAGE_SIZE]).order_by("-created_at", "-id")), False
    codes = [x.strip() for x in (params.get("service_code") or "").split(",") if x.strip()]
    if codes:
        qs = qs.filter(category__code__in=codes)
    statuses = {x.strip().lower() for x in (params.get("status") or "").split(",") if x.strip()}
    if statuses - {"open", "closed"}:
        raise Open311Error(400, _("status phải là open hoặc closed."))
    if statuses == {"open"}:
        qs = qs.filter(policy.OPEN.q())
    elif statuses == {"closed"}:
        qs = qs.exclude(policy.OPEN.q())
    start = _parse_when(params.get("start_date"), "start_date")
    end = _parse_when(params.get("end_date"), "end_date")
    if start is None and end is None:
        start = timezone.now() - dt.timedelta(days=DEFAULT_DAYS)
    if start is not None:
        qs = qs.filter(created_at__gte=start)
    if end is not None:
        qs = qs.filter(created_at__lte=end)
    bbox = _parse_bbox(params.get("bbox"))
    if bbox is not None:
        bbox.srid = 4326
        qs = qs.filter(location__within=bbox)
    page = _parse_int(params.get("page"), "page", 1, 1, 1_000_000)
    size = _parse_int(params.get("page_size"), "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    rows = list(qs.order_by("-created_at", "-id")[(page - 1) * size: page * size + 1])
    return rows[:size], len(rows) > size


def with_details(reports, extensions=False):
    """Load the photos (and the public events) of a page of reports in one query each,
    not one per report."""
    from django.db.models import prefetch_related_objects

    lookups = [Prefetch("media", queryset=Media.objects.filter(stage=Media.Stage.REPORT, kind=Media.Kind.PHOTO)
                        .order_by("id"), to_attr="open311_photos")]
    if extensions:
        lookups.append(Prefetch("events", queryset=ReportEvent.objects.filter(is_public=True)
                                .order_by("created_at", "id"), to_attr="open311_events"))
    prefetch_related_objects(reports, *lookups)
    return reports


def _media_url(report, request):
    photos = getattr(report, "open311_photos", None)
    if photos is None:
        photos = Media.objects.filter(report=report, stage=Media.Stage.REPORT, kind=Media.Kind.PHOTO).order_by("id")
    m = next(iter(photos), None)
    if m is None or request is None:
        return ""
    return request.build_absolute_uri(m.file.url)


def _notes(report, zone):
    out = []
    events = getattr(report, "open311_events", None)
    if events is None:
        events = ReportEvent.objects.filter(report=report, is_public=True).order_by("created_at", "id")
    for ev in events:
        text = State(ev.to_state).label if ev.to_state in State.values else ev.to_state
        reason = ev.reason if ev.action in PUBLIC_REASON_ACTIONS else ""
        out.append({
            "datetime": fmt_dt(ev.created_at, zone), "status": status_of(ev.to_state),
            "extended_status": EXTENDED_STATUS.get(ev.to_state, ""), "state": ev.to_state,
            "description": f"{text}: {reason}" if reason else str(text),
        })
    return out


def request_dict(report, request=None, extensions=False):
    zone = _zone(report)
    label = str(State(report.state).label)
    notes = label
    if report.state in policy.RESULT_PUBLIC and report.result_text:
        notes = f"{label}: {report.result_text}"
    out = {
        "service_request_id": report.code,
        "status": status_of(report.state),
        "status_notes": notes,
        "service_name": _name(report.category),
        "service_code": report.category.code,
        "description": report.description,
        "agency_responsible": report.authority.name if report.authority_id else "",
        "service_notice": "",
        "requested_datetime": fmt_dt(report.created_at, zone),
        "updated_datetime": fmt_dt(report.updated_at, zone),
        "expected_datetime": fmt_dt(report.resolve_due or report.forward_due, zone),
        "address": report.address,
        "address_id": "",
        "zipcode": "",
        "lat": f"{report.location.y:.6f}",
        "long": f"{report.location.x:.6f}",
        "media_url": _media_url(report, request),
    }
    if extensions:
        out["extended_attributes"] = {
            "state": report.state,
            "extended_status": EXTENDED_STATUS.get(report.state, ""),
            "jurisdiction_id": report.jurisdiction.code if report.jurisdiction_id else "",
            "commune": report.commune.name if report.commune_id else "",
            "location_precision": report.location_precision,  # "commune": lat/long is a point inside it
            "notes": _notes(report, zone),
        }
    return out


def get_request(code, jurisdiction, api_key=None):
    """One public report by its code; the client that made it through Open311 also
    reaches it before the desk has checked it."""
    report = public_requests().filter(scope_q(jurisdiction), code=code).first()
    if report is None and api_key is not None:
        report = (Report.objects.select_related("category__parent", "authority", "jurisdiction", "commune")
                  .defer("commune__geom", "commune__properties")
                  .filter(scope_q(jurisdiction), code=code, open311__api_key=api_key).first())
    if report is None:
        raise Open311Error(404, _("Không có yêu cầu “%(id)s”.") % {"id": str(code)[:60]})
    return report


def token_dict(token):
    req = ServiceRequest.objects.select_related("report").filter(token=token).first()
    if req is None:
        raise Open311Error(404, _("Không có mã token này."))
    return {"service_request_id": req.report.code, "token": req.token}


# --- FixMyStreet's servicerequestupdates ---------------------------------------------


def updates(params, jurisdiction):
    """Public status changes of public reports between start_date and end_date
    (default: the last 24 hours), oldest first."""
    start = _parse_when(params.get("start_date"), "start_date")
    end = _parse_when(params.get("end_date"), "end_date")
    if start is None:
        start = (end or timezone.now()) - dt.timedelta(days=1)
    qs = (ReportEvent.objects.filter(is_public=True, created_at__gte=start, report__in=public_requests()
                                     .filter(scope_q(jurisdiction)).values("pk"))
          .select_related("report__jurisdiction").order_by("created_at", "id"))
    if end is not None:
        qs = qs.filter(created_at__lte=end)
    size = _parse_int(params.get("page_size"), "page_size", MAX_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    out = []
    for ev in qs[:size]:
        text = State(ev.to_state).label if ev.to_state in State.values else ev.to_state
        reason = ev.reason if ev.action in PUBLIC_REASON_ACTIONS else ""
        out.append({
            "update_id": str(ev.pk),
            "service_request_id": ev.report.code,
            "status": EXTENDED_STATUS.get(ev.to_state, "open"),
            "external_status_code": ev.to_state,
            "updated_datetime": fmt_dt(ev.created_at, _zone(ev.report)),
            "description": f"{text}: {reason}" if reason else str(text),
            "media_url": "",
        })
    return out
