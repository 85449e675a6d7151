"""GeoReport v2 endpoints: parse the query, ask services.py, render XML or JSON.

Every answer is UTF-8; errors are the spec's array of {code, description} in the
requested format, with the HTTP status of the first error (and Retry-After on 429).
"""

import json
from xml.etree import ElementTree as ET

from django.conf import settings
from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from geo_portal import ratelimit

from . import services
from .models import ApiKey
from .services import Open311Error

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-05T00:00:00Z"
# A list's element name → the name of each of its items (the spec's XML shapes).
ITEM_TAGS = {
    "services": "service", "attributes": "attribute", "values": "value", "service_requests": "request",
    "service_requests_updates": "request_update", "errors": "error", "endpoints": "endpoint", "formats": "format",
    "notes": "note",
}
READ_RATE = "600/10m"  # per client IP
POST_RATE = "300/h"  # per API key


def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _to_xml(parent, tag, value):
    el = ET.SubElement(parent, tag)
    if isinstance(value, dict):
        for k, v in value.items():
            _to_xml(el, k, v)
    elif isinstance(value, list | tuple):
        for item in value:
            _to_xml(el, ITEM_TAGS.get(tag, "item"), item)
    else:
        el.text = _text(value)
    return el


def render(fmt, root, data, status=200):
    """``data``: a list (JSON array; XML <root> of items) or a dict (JSON object; XML
    <root> with its fields)."""
    if fmt == "json":
        body = json.dumps(data, ensure_ascii=False)
        return HttpResponse(body, status=status, content_type="application/json; charset=utf-8")
    holder = ET.Element("_")
    _to_xml(holder, root, data)
    body = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(holder[0], encoding="utf-8", xml_declaration=False)
    return HttpResponse(body, status=status, content_type="text/xml; charset=utf-8")


def error(fmt, exc):
    resp = render(fmt, "errors", [{"code": exc.code, "description": exc.description}], status=exc.code)
    if exc.retry_after:
        ratelimit.retry_after_header(resp, exc.retry_after)
    return resp


def refused_input(request, errors, status):
    """geo_portal.input_guard's refusal (a NUL byte, a bad body) as the spec's error
    array (settings.INPUT_REFUSAL_RENDERERS)."""
    fmt = "xml" if request.path_info.endswith(".xml") else "json"
    text = "; ".join(f"{field}: {' '.join(str(m) for m in msgs)}" for field, msgs in errors.items())
    return error(fmt, Open311Error(status, text))


def _limit(name, ident, default):
    # settings.RATE_LIMITS["open311-read" / "open311-post"] overrides the default.
    decision = ratelimit.hit(name, ident, default)
    if not decision.allowed:
        raise Open311Error(429, ratelimit.too_many_message(decision.retry_after), retry_after=decision.retry_after)


def _param(request, key):
    value = request.POST.get(key) if request.method == "POST" else None
    return (value if value is not None else request.GET.get(key, "")).strip()


def _api_key(request, required):
    raw = _param(request, "api_key")
    if not raw:
        if required:
            raise Open311Error(403, _("Thiếu api_key."))
        return None
    key = ApiKey.find(raw)
    if key is None:
        raise Open311Error(403, _("api_key không hợp lệ hoặc đã bị thu hồi."))
    return key


def endpoint(methods=("GET",)):
    """Method check, read limit, the error array for every Open311Error."""

    def wrap(view):
        @csrf_exempt
        def inner(request, fmt, **kwargs):
            try:
                if request.method not in methods:
                    resp = error(fmt, Open311Error(405, _("Phương thức %(m)s không được hỗ trợ.") % {
                        "m": request.method}))
                    resp["Allow"] = ", ".join(methods)
                    return resp
                if request.method == "GET":
                    _limit("open311-read", ratelimit.client_ip(request), READ_RATE)
                return view(request, fmt, **kwargs)
            except Open311Error as exc:
                return error(fmt, exc)

        inner.__name__ = view.__name__
        inner.__doc__ = view.__doc__
        return inner

    return wrap


@endpoint()
def discovery(request, fmt):
    base = request.build_absolute_uri("/open311/v2/")
    return render(fmt, "discovery", {
        "changeset": CHANGESET,
        "contact": settings.OPEN311_CONTACT or _("Tổ vận hành IOC"),
        "key_service": _("Xin khoá API từ quản trị viên cổng phản ánh."),
        "endpoints": [{
            "specification": SPEC_URL, "url": base, "changeset": CHANGESET, "type": "production",
            "formats": ["text/xml", "application/json"],
        }],
    })


@endpoint()
def service_list(request, fmt):
    jurisdiction = services.jurisdiction_of(_param(request, "jurisdiction_id"))
    _api_key(request, required=False)
    return render(fmt, "services", services.services(jurisdiction))


@endpoint()
def service_definition(request, fmt, code):
    jurisdiction = services.jurisdiction_of(_param(request, "jurisdiction_id"))
    _api_key(request, required=False)
    return render(fmt, "service_definition", services.definition(code, jurisdiction))


@endpoint(methods=("GET", "POST"))
def requests(request, fmt):
    if request.method == "POST":
        api_key = _api_key(request, required=True)
        _limit("open311-post", f"key:{api_key.pk}", POST_RATE)
        jurisdiction = services.jurisdiction_of(_param(request, "jurisdiction_id"))
        if jurisdiction is not None and not api_key.allows(jurisdiction):
            raise Open311Error(403, _("Khoá API này không được dùng cho %(name)s.") % {"name": jurisdiction.name})
        req = services.create_request(request.POST, request.FILES, api_key, jurisdiction,
                                      request.headers.get("Idempotency-Key", "").strip()[:80] or None)
        return render(fmt, "service_requests", [{
            "service_request_id": req.report.code, "token": req.token,
            "service_notice": _("Đã tiếp nhận; sẽ được chuyển xử lý sau khi kiểm tra."),
            "account_id": req.account_id,
        }], status=201)
    jurisdiction = services.jurisdiction_of(_param(request, "jurisdiction_id"))
    _api_key(request, required=False)
    rows, more = services.find_requests(request.GET, jurisdiction)
    extensions = _param(request, "extensions").lower() == "true"
    services.with_details(rows, extensions)
    resp = render(fmt, "service_requests", [services.request_dict(r, request, extensions) for r in rows])
    if more:
        resp["X-Next-Page"] = str(int(request.GET.get("page") or 1) + 1)
    return resp


@endpoint()
def request_detail(request, fmt, request_id):
    jurisdiction = services.jurisdiction_of(_param(request, "jurisdiction_id"))
    api_key = _api_key(request, required=False)
    report = services.get_request(request_id, jurisdiction, api_key)
    extensions = _param(request, "extensions").lower() == "true"
    return render(fmt, "service_requests", [services.request_dict(report, request, extensions)])


@endpoint()
def token(request, fmt, token):
    services.jurisdiction_of(_param(request, "jurisdiction_id"))
    _api_key(request, required=False)
    return render(fmt, "service_requests", [services.token_dict(token)])


@endpoint()
def request_updates(request, fmt):
    jurisdiction = services.jurisdiction_of(_param(request, "jurisdiction_id"))
    _api_key(request, required=False)
    # The root element as FixMyStreet's tests and mySociety's open311-adapter spell it.
    return render(fmt, "service_requests_updates", services.updates(request.GET, jurisdiction))
