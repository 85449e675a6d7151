"""Open311 GeoReport v2 against the real data: the XML and JSON shapes of the spec's
examples (element names written out by hand from wiki.open311.org/GeoReport_v2), a
POST → GET round trip through the real intake and workflow, every error code, API keys
limited to their jurisdictions, paging and bbox, and unpublished reports never listed."""

import io
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from xml.etree import ElementTree as ET

import pytest
from django.core.management import call_command
from django.test import Client

from boundaries import jurisdictions
from open311.models import ApiKey
from reports import intake, workflow
from reports.models import Report
from tests.reports.conftest import BAI_CHAY, HONG_GAI, new_key, photo, point_in, report_data

HUE_COMMUNE = "19753"
ZONED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")

# The spec's example documents, element by element.
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
ATTRIBUTE_FIELDS = {"variable", "code", "datatype", "required", "datatype_description", "order", "description",
                    "values"}
REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"}
UPDATE_FIELDS = {"update_id", "service_request_id", "status", "updated_datetime", "description", "media_url",
                 "external_status_code"}
PRIVATE = ("Nguyễn Văn A", "0912345678", "+84912345678", "dan@example.vn", "Trần", "device-xyz")


@pytest.fixture
def key(db):
    k, raw = ApiKey.create("Ứng dụng thử", [jurisdictions.get("22")])
    return raw


@pytest.fixture
def hue_key(db):
    return ApiKey.create("Huế-S", [jurisdictions.get("46")])[1]


def post_form(commune=BAI_CHAY, **extra):
    lon, lat = point_in(commune)
    data = {"service_code": "do-thi-chieu-sang", "lat": str(lat), "long": str(lon),
            "description": "Đèn đường trước số 12 tắt hai tuần nay.", "attribute[tinh-trang-den]": "tat",
            "email": "dan@example.vn", "first_name": "Trần", "last_name": "Bình", "phone": "0912345678",
            "device_id": "device-xyz"}
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def public_report(operator, commune=BAI_CHAY, **extra):
    report = intake.create_report(report_data(commune=commune, **extra), {}, None, new_key())
    return workflow.transition(report, "forward", operator)


def xml(resp):
    assert resp["Content-Type"].startswith("text/xml") and "utf-8" in resp["Content-Type"]
    return ET.fromstring(resp.content)


def errors_of(resp, fmt):
    if fmt == "json":
        body = resp.json()
        assert isinstance(body, list) and set(body[0]) == {"code", "description"}
        return [(e["code"], e["description"]) for e in body]
    root = xml(resp)
    assert root.tag == "errors" and [c.tag for c in root] == ["error"] * len(root)
    return [(int(e.findtext("code")), e.findtext("description")) for e in root]


# --- shapes ------------------------------------------------------------------------------


def test_discovery_shapes(db):
    root = xml(Client().get("/open311/v2/discovery.xml"))
    assert root.tag == "discovery"
    assert {c.tag for c in root} == {"changeset", "contact", "key_service", "endpoints"}
    ep = root.find("endpoints/endpoint")
    assert {c.tag for c in ep} == {"specification", "url", "changeset", "type", "formats"}
    assert [f.text for f in ep.find("formats")] == ["text/xml", "application/json"]
    assert ep.findtext("url").endswith("/open311/v2/")
    body = Client().get("/open311/v2/discovery.json").json()
    assert body["endpoints"][0]["formats"] == ["text/xml", "application/json"]


def test_services_xml_and_json(db):
    root = xml(Client().get("/open311/v2/services.xml?jurisdiction_id=22"))
    assert root.tag == "services" and len(root) > 5
    by_code = {s.findtext("service_code"): s for s in root}
    assert all({c.tag for c in s} == SERVICE_FIELDS for s in root)
    light = by_code["do-thi-chieu-sang"]
    assert light.findtext("service_name") == "Chiếu sáng công cộng"
    assert light.findtext("metadata") == "true" and light.findtext("type") == "realtime"
    assert by_code["giao-thong-un-tac"].findtext("metadata") == "false"
    # groups are not services; their names are the leaves' group
    assert "giao-thong" not in by_code and by_code["giao-thong-un-tac"].findtext("group")
    listed = Client().get("/open311/v2/services.json?jurisdiction_id=22").json()
    assert [s["service_code"] for s in listed] == list(by_code)
    assert all(set(s) == SERVICE_FIELDS for s in listed)
    assert next(s for s in listed if s["service_code"] == "do-thi-chieu-sang")["metadata"] is True


def test_service_definition_xml_and_json(db):
    root = xml(Client().get("/open311/v2/services/do-thi-chieu-sang.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "do-thi-chieu-sang"
    attrs = root.findall("attributes/attribute")
    assert [a.findtext("code") for a in attrs] == ["so-cot-den", "tinh-trang-den"]
    assert all({c.tag for c in a} == ATTRIBUTE_FIELDS for a in attrs)
    state = attrs[1]
    assert state.findtext("datatype") == "singlevaluelist" and state.findtext("required") == "true"
    assert [(v.findtext("key"), v.findtext("name")) for v in state.findall("values/value")][:2] == [
        ("tat", "Tắt hẳn"), ("chap-chon", "Chập chờn")]
    body = Client().get("/open311/v2/services/do-thi-chieu-sang.json").json()
    assert body["attributes"][1]["values"][0] == {"key": "tat", "name": "Tắt hẳn"}
    assert body["attributes"][1]["required"] is True and body["attributes"][1]["order"] == 2


# --- POST → GET round trip ----------------------------------------------------------------


def test_post_then_get_round_trip(key, operator, officer):
    c = Client()
    resp = c.post("/open311/v2/requests.json", post_form(api_key=key, jurisdiction_id="22", media=photo()))
    assert resp.status_code == 201, resp.content
    [made] = resp.json()
    code, token = made["service_request_id"], made["token"]
    report = Report.objects.get(code=code)
    # the same intake: routed to the commune's unit, received, the reporter's contact kept privately
    assert report.state == "received" and report.commune.code == BAI_CHAY and "Bãi Cháy" in report.authority.name
    assert report.contact_email == "dan@example.vn" and report.contact_name == "Trần Bình"
    assert report.contact_phone == "+84912345678" and report.media.count() == 1
    assert "Đèn đang thế nào?: Tắt hẳn" in report.description
    # the token finds it
    assert c.get(f"/open311/v2/tokens/{token}.json").json() == [{"service_request_id": code, "token": token}]
    # unchecked: not public, not listed; its own client reaches it with its key
    assert c.get(f"/open311/v2/requests/{code}.json").status_code == 404
    assert code not in c.get("/open311/v2/requests.json?jurisdiction_id=22").content.decode()
    mine = c.get(f"/open311/v2/requests/{code}.json?api_key={key}")
    assert mine.status_code == 200 and mine.json()[0]["status"] == "open"
    # the desk forwards it: public, open, with its history in the notes
    workflow.transition(report, "forward", operator)
    got = c.get(f"/open311/v2/requests/{code}.json?extensions=true").json()[0]
    assert set(got) == REQUEST_FIELDS | {"extended_attributes"}
    assert got["status"] == "open" and got["service_code"] == "do-thi-chieu-sang"
    assert "Bãi Cháy" in got["agency_responsible"]
    assert [n["state"] for n in got["extended_attributes"]["notes"]] == ["received", "forwarded"]
    assert got["extended_attributes"]["extended_status"] == "action_scheduled"
    assert ZONED.match(got["requested_datetime"]) and got["requested_datetime"].endswith("+07:00")
    assert got["media_url"].startswith("http://testserver/")
    listed = c.get("/open311/v2/requests.json?jurisdiction_id=22&status=open").content.decode()
    assert code in listed and not any(p in listed for p in PRIVATE)
    # resolved by the unit: closed, the extended status FIXED
    report.refresh_from_db()
    workflow.transition(report, "accept", officer)
    workflow.transition(report, "start", officer)
    workflow.transition(report, "resolve", officer, {"result_text": "Đã thay bóng đèn.", "photos": [photo("kq.jpg")]})
    root = xml(c.get(f"/open311/v2/requests/{code}.xml?extensions=true"))
    assert root.tag == "service_requests" and root.find("request/status").text == "closed"
    assert [n.findtext("extended_status") for n in root.findall("request/extended_attributes/notes/note")] == [
        "open", "action_scheduled", "investigating", "in_progress", "fixed"]
    assert code in c.get("/open311/v2/requests.json?status=closed&jurisdiction_id=22").content.decode()
    assert code not in c.get("/open311/v2/requests.json?status=open&jurisdiction_id=22").content.decode()
    # FixMyStreet's updates: one per public event, oldest first
    updates = [u for u in c.get("/open311/v2/servicerequestupdates.json").json() if u["service_request_id"] == code]
    assert [u["status"] for u in updates] == ["open", "action_scheduled", "investigating", "in_progress", "fixed"]
    assert all(set(u) == UPDATE_FIELDS and ZONED.match(u["updated_datetime"]) for u in updates)
    resp = c.get("/open311/v2/servicerequestupdates.xml")
    root = xml(resp)
    # <service_requests_updates>, as FixMyStreet's own tests and open311-adapter write it
    assert root.tag == "service_requests_updates" and {u.tag for u in root} == {"request_update"}
    assert all({f.tag for f in u} == UPDATE_FIELDS for u in root)
    assert [u.findtext("external_status_code") for u in root if u.findtext("service_request_id") == code] == [
        "received", "forwarded", "accepted", "in_progress", "resolved"]
    assert not any(p in resp.content.decode() for p in PRIVATE)


def test_post_xml_answers_the_spec_shape(key):
    resp = Client().post("/open311/v2/requests.xml", post_form(api_key=key))
    assert resp.status_code == 201
    root = xml(resp)
    assert root.tag == "service_requests" and [c.tag for c in root] == ["request"]
    assert {c.tag for c in root[0]} == {"service_request_id", "token", "service_notice", "account_id"}
    assert Report.objects.filter(code=root[0].findtext("service_request_id"), source__startswith="open311").exists()


def test_media_url_is_never_fetched(key):
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/anh.jpg"
        resp = Client().post("/open311/v2/requests.json", post_form(api_key=key, media_url=url))
    finally:
        server.shutdown()
    assert resp.status_code == 201 and hits == []
    assert Report.objects.get(code=resp.json()[0]["service_request_id"]).media.count() == 0


# --- errors -----------------------------------------------------------------------------------


BAD_POSTS = [
    ({"service_code": ""}, "service_code"),
    ({"service_code": "khong-co"}, "khong-co"),  # 404 below
    ({"lat": None, "long": None, "address_string": "12 Hạ Long"}, "address_string"),  # no commune named
    ({"lat": None, "long": None}, "address_string"),
    ({"lat": None, "long": None, "address_id": "99999"}, "address_id"),
    ({"lat": "95"}, "lat"),
    ({"description": "x" * 4001}, "4001"),
    ({"description": ""}, "description"),
    ({"attribute[tinh-trang-den]": None}, "tinh-trang-den"),
    ({"attribute[tinh-trang-den]": "no-tung"}, "tinh-trang-den"),
    ({"email": "khong-phai-email"}, "contact_email"),
    ({"lat": "21.0", "long": "150.0"}, ""),  # outside every boundary
]


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("change,mentions", BAD_POSTS)
def test_bad_posts_are_400_or_404(key, fmt, change, mentions):
    before = Report.objects.count()
    resp = Client().post(f"/open311/v2/requests.{fmt}", post_form(api_key=key, **change))
    [(code, text)] = errors_of(resp, fmt)
    expected = 404 if change.get("service_code") == "khong-co" else 400
    assert resp.status_code == code == expected and mentions in text and text
    assert Report.objects.count() == before


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("url,status", [
    ("/open311/v2/services/khong-co.{fmt}", 404),
    ("/open311/v2/requests/PA-2020-999999.{fmt}", 404),
    ("/open311/v2/tokens/khong-co.{fmt}", 404),
    ("/open311/v2/services.{fmt}?jurisdiction_id=atlantis", 404),
    ("/open311/v2/requests.{fmt}?jurisdiction_id=atlantis", 404),
    ("/open311/v2/requests.{fmt}?status=pending", 400),
    ("/open311/v2/requests.{fmt}?start_date=hom-qua", 400),
    ("/open311/v2/requests.{fmt}?bbox=1,2,3", 400),
    ("/open311/v2/requests.{fmt}?page_size=5000", 400),
    ("/open311/v2/requests.{fmt}?api_key=sai", 403),
])
def test_get_errors(db, fmt, url, status):
    resp = Client().get(url.format(fmt=fmt))
    assert resp.status_code == status and errors_of(resp, fmt)[0][0] == status


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_without_or_with_a_wrong_or_revoked_key_is_403(key, fmt):
    c = Client()
    for form in (post_form(), post_form(api_key="sai-roi")):
        resp = c.post(f"/open311/v2/requests.{fmt}", form)
        assert resp.status_code == 403 and errors_of(resp, fmt)[0][0] == 403
    call_command("open311", "keys", "revoke", key[:8], stdout=io.StringIO())
    assert c.post(f"/open311/v2/requests.{fmt}", post_form(api_key=key)).status_code == 403
    assert not Report.objects.filter(source__startswith="open311").exists()


def test_new_keys_can_be_revoked_from_the_command_line(db):
    # One key in 64 used to start with "-", which `open311 keys revoke <prefix>` read as an option.
    keys = [ApiKey(name=f"k{i}") for i in range(400)]
    raws = [k.set_new_key() for k in keys]
    assert all(raw[0].isalnum() for raw in raws)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_too_many_posts_is_429_with_retry_after(key, settings, fmt):
    settings.RATELIMIT_ENABLE = True
    settings.RATE_LIMITS = {"open311-post": "2/h"}
    c = Client()
    assert [c.post(f"/open311/v2/requests.{fmt}", post_form(api_key=key)).status_code for _ in range(2)] == [201, 201]
    resp = c.post(f"/open311/v2/requests.{fmt}", post_form(api_key=key))
    assert resp.status_code == 429 and 3000 < int(resp["Retry-After"]) <= 3600
    assert errors_of(resp, fmt)[0][0] == 429
    assert Report.objects.filter(source__startswith="open311").count() == 2


def test_too_many_reads_is_429(db, settings):
    settings.RATELIMIT_ENABLE = True
    settings.RATE_LIMITS = {"open311-read": "3/10m"}
    c = Client()
    assert [c.get("/open311/v2/services.json").status_code for _ in range(4)] == [200, 200, 200, 429]


# --- keys and jurisdictions ---------------------------------------------------------------------


@pytest.mark.parametrize("keys_for,jurisdiction_id,commune,status", [
    (["22"], "22", BAI_CHAY, 201),
    (["22"], "", BAI_CHAY, 201),
    (["22"], "", HUE_COMMUNE, 403),  # the point is in Huế: not this key's
    (["22"], "46", HUE_COMMUNE, 403),
    (["46"], "", BAI_CHAY, 403),
    (["46"], "46", HUE_COMMUNE, 201),
    (["VN"], "", HUE_COMMUNE, 201),  # a country's key covers its provinces
    (["boston"], "", BAI_CHAY, 403),
    ([], "", HUE_COMMUNE, 201),  # no jurisdictions: every one
    ([], "46", BAI_CHAY, 400),  # the point is not in the jurisdiction named
    (["22", "46"], "46", HUE_COMMUNE, 201),
])
def test_keys_are_limited_to_their_jurisdictions(db, keys_for, jurisdiction_id, commune, status):
    out = io.StringIO()
    call_command("open311", "keys", "add", "Khách", *[a for code in keys_for for a in ("--jurisdiction", code)],
                 stdout=out, stderr=io.StringIO())
    raw = out.getvalue().strip()
    assert len(raw) >= 40 and ApiKey.objects.get(prefix=raw[:8]).key_hash != raw  # only the hash is stored
    form = post_form(commune=commune, api_key=raw, jurisdiction_id=jurisdiction_id or None)
    if commune == HUE_COMMUNE:
        form.pop("attribute[tinh-trang-den]")
        form["service_code"] = "moi-truong-rac-thai"
    resp = Client().post("/open311/v2/requests.json", form)
    assert resp.status_code == status, resp.content
    if status == 201:
        report = Report.objects.get(code=resp.json()[0]["service_request_id"])
        assert report.province_code == ("46" if commune == HUE_COMMUNE else "22")


# --- listing: paging, bbox, jurisdictions, unpublished ------------------------------------------


def test_paging_bbox_and_jurisdiction(operator, settings):
    made = [public_report(operator, commune=c) for c in (BAI_CHAY, BAI_CHAY, HONG_GAI)]
    codes = {r.code for r in made}
    c = Client()

    def listed(query):
        return [r["service_request_id"] for r in c.get(f"/open311/v2/requests.json?{query}").json()
                if r["service_request_id"] in codes]

    everything = c.get("/open311/v2/requests.json?jurisdiction_id=22&page_size=1000").json()
    mine = [r["service_request_id"] for r in everything if r["service_request_id"] in codes]
    assert sorted(mine) == sorted(codes)
    # newest first, pages that do not overlap and cover everything
    total = len(everything)
    pages = [c.get(f"/open311/v2/requests.json?jurisdiction_id=22&page_size=2&page={p}").json()
             for p in range(1, (total + 1) // 2 + 2)]
    flat = [r["service_request_id"] for page in pages for r in page]
    assert flat == [r["service_request_id"] for r in everything] and all(len(p) <= 2 for p in pages)
    # bbox around the Hồng Gai pin only
    lon, lat = point_in(HONG_GAI)
    assert listed(f"bbox={lon - 0.0005},{lat - 0.0005},{lon + 0.0005},{lat + 0.0005}") == [made[2].code]
    # a list of ids overrides the other filters
    assert sorted(listed(f"service_request_id={made[0].code},{made[2].code}&status=closed")) == sorted(
        [made[0].code, made[2].code])
    assert listed("service_code=giao-thong-un-tac&jurisdiction_id=22") == []
    assert listed("jurisdiction_id=46") == [] and listed("jurisdiction_id=boston") == []


def test_unpublished_reports_are_never_listed(operator, key):
    hidden = intake.create_report(report_data(), {}, None, new_key())
    rejected = intake.create_report(report_data(), {}, None, new_key())
    workflow.transition(rejected, "reject", operator, {"reason_code": "not_competent", "reason": "Không thuộc"})
    shown = public_report(operator)
    c = Client()
    for url in ("/open311/v2/requests.json", "/open311/v2/requests.xml?extensions=true",
                f"/open311/v2/requests.json?service_request_id={hidden.code},{rejected.code},{shown.code}",
                "/open311/v2/servicerequestupdates.json", "/open311/v2/servicerequestupdates.xml",
                f"/open311/v2/requests.json?api_key={key}"):
        body = c.get(url).content.decode()
        assert shown.code in body, url
        assert hidden.code not in body and rejected.code not in body, url
    # another client's key does not reach it either
    assert c.get(f"/open311/v2/requests/{hidden.code}.json?api_key={key}").status_code == 404


def test_status_and_times_in_the_jurisdictions_zone(operator):
    report = public_report(operator)
    got = Client().get(f"/open311/v2/requests/{report.code}.xml")
    req = xml(got).find("request")
    assert {c.tag for c in req} == REQUEST_FIELDS
    assert req.findtext("requested_datetime").endswith("+07:00") and ZONED.match(req.findtext("expected_datetime"))
    assert req.findtext("lat") == f"{report.location.y:.6f}"
    assert json.loads(Client().get(f"/open311/v2/requests/{report.code}.json").content)[0]["status"] == "open"


@pytest.mark.parametrize("extensions", ["false", "true"])
def test_a_page_costs_the_same_queries_whatever_its_length(operator, extensions):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def cost():
        with CaptureQueriesContext(connection) as ctx:
            resp = Client().get(f"/open311/v2/requests.json?jurisdiction_id=22&extensions={extensions}&page_size=1000")
        return len(ctx.captured_queries), len(resp.json())

    public_report(operator)
    few, n_few = cost()
    for commune in (BAI_CHAY, HONG_GAI, BAI_CHAY, HONG_GAI):
        public_report(operator, commune=commune)
    many, n_many = cost()
    assert n_many == n_few + 4 and many == few


@pytest.mark.parametrize("url", ["/admin/open311/apikey/", "/admin/open311/apikey/add/",
                                 "/admin/open311/serviceattribute/",
                                 "/admin/open311/serviceattribute/add/", "/admin/open311/servicerequest/"])
def test_admin_pages(db, url):
    from django.contrib.auth import get_user_model

    c = Client()
    c.force_login(get_user_model().objects.create(username="o311-admin", is_superuser=True, is_staff=True))
    assert c.get(url).status_code == 200


@pytest.mark.parametrize("lang,texts", [
    ("vi", ["Cấp khoá mới (khoá cũ hết hiệu lực)", "Địa giới hành chính", "Phản ánh hiện trường"]),
    ("en", ["Issue a new key (the old one stops working)", "Administrative boundaries", "Field reports"]),
])
def test_admin_keys_page_in_both_languages(db, lang, texts):
    from django.contrib.auth import get_user_model

    c = Client()
    c.cookies["django_language"] = lang
    c.force_login(get_user_model().objects.create(username="o311-admin-lang", is_superuser=True, is_staff=True))
    ApiKey.create("Ứng dụng")  # the actions show with a row to act on
    html = c.get("/admin/open311/apikey/").content.decode()
    assert [t for t in texts if t not in html] == []


def test_admin_makes_a_key_and_shows_it_once(db):
    from django.contrib.auth import get_user_model

    c = Client()
    c.force_login(get_user_model().objects.create(username="o311-admin", is_superuser=True, is_staff=True))
    resp = c.post("/admin/open311/apikey/add/", {"name": "Tổng đài 1022", "active": "on",
                                                  "jurisdictions": [jurisdictions.get("46").pk]}, follow=True)
    shown = re.search(r"lưu lại\): ([A-Za-z0-9_-]{40,})", resp.content.decode())
    assert shown, resp.content.decode()[:500]
    key = ApiKey.objects.get(name="Tổng đài 1022")
    assert key.prefix == shown.group(1)[:8] and shown.group(1) not in key.key_hash
    ok = Client().post("/open311/v2/requests.json", post_form(api_key=shown.group(1)))  # Bãi Cháy: not Huế
    assert ok.status_code == 403


ODD = ["", "-1", "99999999999999999999", "nan", "inf", "9999-12-31", "0001-01-01", "2026-02-30",
       "2026-02-30T25:61:00+07:00", "😀", "a\x00b", "x" * 3000, "1,2,3,4", "-200,-100,200,100"]
ODD_GETS = [
    ("/open311/v2/requests.{fmt}", ["service_request_id", "service_code", "status", "start_date", "end_date",
                                    "page", "page_size", "bbox", "extensions", "jurisdiction_id", "api_key"]),
    ("/open311/v2/services.{fmt}", ["jurisdiction_id", "api_key"]),
    ("/open311/v2/services/do-thi-chieu-sang.{fmt}", ["jurisdiction_id"]),
    ("/open311/v2/servicerequestupdates.{fmt}", ["start_date", "end_date", "page_size", "jurisdiction_id"]),
    ("/open311/v2/requests/PA-1.{fmt}", ["jurisdiction_id", "api_key", "extensions"]),
]


@pytest.mark.parametrize("url,params", ODD_GETS, ids=[u for u, _p in ODD_GETS])
def test_odd_parameters_answer_the_error_array_never_a_500(db, url, params):
    c = Client()
    for fmt in ("json", "xml"):
        for name in params:
            for value in ODD:
                resp = c.get(url.format(fmt=fmt), {name: value})
                assert resp.status_code in (200, 400, 403, 404), (url, name, value, resp.status_code)
                if resp.status_code != 200:
                    assert errors_of(resp, fmt)[0][0] == resp.status_code


@pytest.mark.parametrize("field", ["service_code", "lat", "long", "description", "email", "phone", "first_name",
                                   "jurisdiction_id", "attribute[tinh-trang-den]", "address_string", "api_key"])
def test_odd_post_fields_never_a_500(key, field):
    c = Client()
    for value in ODD:
        form = post_form(api_key=key)
        form[field] = value
        resp = c.post("/open311/v2/requests.json", form)
        assert resp.status_code in (201, 400, 403, 404), (field, value, resp.status_code, resp.content[:200])


def test_every_state_has_an_extended_status():
    from open311.services import EXTENDED_STATUS
    from reports import policy

    fms = {"open", "closed", "fixed", "in_progress", "action_scheduled", "investigating", "duplicate",
           "not_councils_responsibility", "no_further_action", "internal_referral"}
    assert set(EXTENDED_STATUS) == set(policy.ALL.values) and set(EXTENDED_STATUS.values()) <= fms


def test_boston_requests_are_bostons_in_new_york_time(tmp_path, operator):
    """Real Boston 311 records (the 2015 file's first rows): listed under
    jurisdiction_id=boston with New York offsets, never in the default (Vietnamese) list."""
    import gzip

    import pandas as pd
    from django.conf import settings
    from django.db import connection

    from heatmaps.importer import import_records, load_mapping
    from reports import policy

    frame = pd.read_csv(settings.DATA_DIR / "boston-311" / "requests_2015_partial.csv.gz", dtype=str, nrows=60)
    path = tmp_path / "boston.csv.gz"
    with gzip.open(path, "wt") as fh:
        frame.to_csv(fh, index=False)
    import_records(str(path), load_mapping("boston311"))
    with connection.cursor() as cur:
        cur.execute(f"SELECT code FROM reports_report r WHERE source = 'import:boston311' AND {policy.PUBLIC.sql('r')}")
        expected = {row[0] for row in cur.fetchall()}
    assert expected
    c = Client()
    window = "start_date=2014-01-01T00:00:00Z&end_date=2016-12-31T00:00:00Z&page_size=1000"
    got = c.get(f"/open311/v2/requests.json?jurisdiction_id=boston&{window}").json()
    assert {r["service_request_id"] for r in got} == expected
    assert all(r["requested_datetime"][-6:] in ("-04:00", "-05:00") for r in got)
    ours = public_report(operator)
    national = {r["service_request_id"]
                for r in c.get(f"/open311/v2/requests.json?{window.replace('2016', '2099')}").json()}
    assert ours.code in national and not national & expected


def test_a_retry_with_the_same_idempotency_key_makes_one_report(key):
    c = Client()
    first = c.post("/open311/v2/requests.json", post_form(api_key=key), HTTP_IDEMPOTENCY_KEY="lan-1")
    again = c.post("/open311/v2/requests.json", post_form(api_key=key), HTTP_IDEMPOTENCY_KEY="lan-1")
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    other = c.post("/open311/v2/requests.json", post_form(api_key=key, description="Khác hẳn"),
                   HTTP_IDEMPOTENCY_KEY="lan-1")
    assert other.status_code == 400 and "idempotency_key" in other.json()[0]["description"]
    assert Report.objects.filter(source__startswith="open311").count() == 1


@pytest.mark.parametrize("accept,name,group", [
    ("", "Chiếu sáng công cộng", "Hạ tầng đô thị"),
    ("en", "Street lighting", "Urban infrastructure"),
    ("en-US,en;q=0.9", "Street lighting", "Urban infrastructure"),
    ("fr", "Chiếu sáng công cộng", "Hạ tầng đô thị"),
])
def test_names_follow_accept_language(db, accept, name, group):
    headers = {"HTTP_ACCEPT_LANGUAGE": accept} if accept else {}
    listed = Client().get("/open311/v2/services.json?jurisdiction_id=22", **headers).json()
    light = next(s for s in listed if s["service_code"] == "do-thi-chieu-sang")
    assert light["service_name"] == name and light["group"] == group


# A request without a position: the commune by its code (address_id) or named in the
# address (the spec: lat/long, address_string or address_id). Expected: the commune's code.
ADDRESSES = [
    ({"address_id": BAI_CHAY}, BAI_CHAY),
    ({"address_string": "Số 12 đường Hạ Long, phường Bãi Cháy, tỉnh Quảng Ninh"}, BAI_CHAY),
    ({"address_string": "12 Hạ Long, P. Bãi Cháy, TP Hạ Long"}, BAI_CHAY),
    ({"address_string": "trước chợ Hạ Long 1, PHUONG HONG GAI"}, HONG_GAI),
]


@pytest.mark.parametrize("place,commune", ADDRESSES)
def test_a_request_without_a_position_sits_in_the_commune_it_names(key, place, commune):
    resp = Client().post("/open311/v2/requests.json", post_form(api_key=key, lat=None, long=None, **place))
    assert resp.status_code == 201, resp.content
    report = Report.objects.get(code=resp.json()[0]["service_request_id"])
    assert (report.commune.code, report.location_precision) == (commune, "commune")
    assert report.authority is not None and report.authority.code == f"ubnd-{commune}"
    if "address_string" in place:
        assert report.address == place["address_string"]


def test_an_address_outside_the_jurisdiction_or_naming_several_communes_is_400(db, hue_key):
    key = ApiKey.create("Mọi nơi")[1]
    resp = Client().post("/open311/v2/requests.json", post_form(
        api_key=hue_key, lat=None, long=None, jurisdiction_id="46", address_string="phường Bãi Cháy"))
    assert resp.status_code == 400 and "address_string" in resp.json()[0]["description"]
    # A second "Phường Bãi Cháy", in Huế (a Huế commune's real outline under that name).
    from boundaries.models import Area

    hue = Area.objects.get(code=HUE_COMMUNE, version__code="vn-2025")
    Area.objects.create(version=hue.version, type=hue.type, parent=hue.parent, code="99001",
                        name="Phường Bãi Cháy", geom=hue.geom)
    before = Report.objects.count()
    resp = Client().post("/open311/v2/requests.json", post_form(api_key=key, lat=None, long=None,
                                                                 address_string="12 Hạ Long, phường Bãi Cháy"))
    assert resp.status_code == 400 and BAI_CHAY in resp.json()[0]["description"]
    assert "99001" in resp.json()[0]["description"]
    assert Report.objects.count() == before
    # the province named settles it
    resp = Client().post("/open311/v2/requests.json", post_form(
        api_key=key, lat=None, long=None, address_string="12 Hạ Long, phường Bãi Cháy, tỉnh Quảng Ninh"))
    assert resp.status_code == 201
    assert Report.objects.get(code=resp.json()[0]["service_request_id"]).commune.code == BAI_CHAY
