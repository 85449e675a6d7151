"""No bad input and no stored value gives a 500 (issue 8, item 2).

The cases the review found, one row each: NUL bytes in a parameter, a path code or a
written field; year-9999 dates on every filter; JSON bodies that are not objects; a list
where one value belongs; a chunked body; an extension to the year 10000. Each answers a
4xx that names the field. Then a year-10000 time stored directly in the database (as
one request could before the fix): every page and API that shows the report renders.
"""

import datetime as dt
import io
import json
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from reports import intake, sla, workflow
from reports.models import Comment, Report
from tests.reports.conftest import BAI_CHAY, new_key, point_in, report_data

pytestmark = pytest.mark.django_db

QN_BBOX = "106.9,20.9,107.2,21.1"


@pytest.fixture
def api():
    return APIClient(REMOTE_ADDR=f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.9")


def client_for(user):
    c = APIClient()
    c.force_authenticate(user)
    return c


@pytest.fixture
def published(citizen, operator, officer):
    """A report visible to the public, in progress at Bãi Cháy, reported by the citizen."""
    report = intake.create_report(report_data(), None, citizen, new_key())
    report = workflow.transition(report, "forward", operator)
    report = workflow.transition(report, "accept", officer)
    return workflow.transition(report, "start", officer)


def errors_of(resp):
    body = resp.json()
    return body.get("errors") or {}


# --- NUL bytes and year-9999 dates in query parameters and paths -------------------------

@pytest.mark.parametrize("url, field", [
    ("/api/v1/stats/?category=%00", "category"),
    ("/api/v1/reports?state=%00", "state"),
    ("/api/v1/reports?bbox=1,2%00", "bbox"),
    ("/api/v1/reports/nearby?lat=21%00&lon=107", "lat"),
    ("/api/v1/locate?lat=%00&lon=107", "lat"),
    ("/api/v1/heatmaps/areas/?province=22%00", "province"),
    ("/api/v1/boundaries/vn-2025/province.geojson?province=%00", "province"),
    ("/api/v1/reports?%00=1", "field"),
    ("/api/v1/reports/PA%00", "code"),
    ("/api/v1/reports/PA%00/comments", "code"),
    ("/api/v1/areas/by-code/22%00", "code"),
    ("/api/v1/stats/province/22%00/", "code"),
])
def test_nul_in_a_parameter_or_path_is_a_400_naming_it(api, url, field):
    resp = api.get(url)
    assert resp.status_code == 400, resp.content
    assert field in errors_of(resp), resp.json()
    assert "NUL" in errors_of(resp)[field][0]


@pytest.mark.parametrize("url", ["/phan-anh/?category=%00", "/phan-anh/PA-1%00/", "/ban-do/?x=%00"])
def test_nul_on_a_page_is_a_plain_400(url):
    resp = Client().get(url)
    assert resp.status_code == 400
    assert resp["Content-Type"].startswith("text/plain") and "NUL" in resp.content.decode()


@pytest.mark.parametrize("url, field", [
    ("/api/v1/reports?date_to=9999-12-31", "date_to"),
    ("/api/v1/reports?date_from=0001-01-01", "date_from"),
    ("/api/v1/heatmaps/areas/?end=9999-12-31", "end"),
    ("/api/v1/heatmaps/hex/?bbox=" + QN_BBOX + "&end=9999-12-31", "end"),
    ("/api/v1/heatmaps/series/?start=0001-01-01", "start"),
    ("/api/v1/heatmaps/export.geojson?bbox=" + QN_BBOX + "&end=9999-12-31", "end"),
    ("/api/v1/heatmaps/heat/?bbox=" + QN_BBOX + "&month=3000-01", "month"),
    ("/api/v1/stats/?end=9999-12-31", "end"),
    ("/api/v1/stats/series/?end=9999-12-31", "end"),
    ("/tiles/bins/5/25/14.pbf?end=9999-12-31", "end"),
])
def test_a_date_out_of_range_is_a_400_naming_the_range(api, url, field):
    resp = api.get(url)
    assert resp.status_code == 400, resp.content
    message = errors_of(resp)[field]
    message = message[0] if isinstance(message, list) else message
    assert "2999-12-31" in message


@pytest.mark.parametrize("url", ["/phan-anh/?date_to=9999-12-31", "/phan-anh/?date_from=0001-01-01"])
def test_a_date_out_of_range_on_the_public_list_is_a_message(url):
    resp = Client().get(url)
    assert resp.status_code == 400 and "2999-12-31" in resp.content.decode()


def test_a_date_inside_the_range_still_filters(api, published):
    today = timezone.localdate().isoformat()
    inside = api.get(f"/api/v1/reports?date_from={today}&date_to=2999-12-31").json()
    codes = [f["properties"]["code"] for f in inside["features"]]
    assert published.code in codes


@pytest.mark.parametrize("token", ["😀", "é", "１２", "\u202e", "x" * 5000])
def test_an_odd_receipt_token_is_a_404_not_a_500(api, token):
    unpublished = intake.create_report(report_data(), None, None, new_key())
    for url, headers in [
        (f"/api/v1/reports/{unpublished.code}", {"t": token}),
        (f"/api/v1/reports/{unpublished.code}/comments", {"t": token}),
        (f"/phan-anh/{unpublished.code}/", {"t": token}),
        (f"/phan-anh/{unpublished.code}/da-gui/", {"t": token}),
    ]:
        assert api.get(url, headers).status_code == 404, url
    # as a header too (a header's bytes arrive as Latin-1 text)
    header = token.encode("utf-8").decode("latin-1")
    resp = api.get(f"/api/v1/reports/{unpublished.code}", HTTP_X_RECEIPT_TOKEN=header)
    assert resp.status_code == 404
    assert api.get(f"/api/v1/reports/{unpublished.code}", {"t": unpublished.receipt_token}).status_code == 200


def test_an_unknown_code_and_an_unpublished_report_get_one_translated_404(api):
    unpublished = intake.create_report(report_data(), None, None, new_key())
    year = unpublished.code.split("-")[1]
    for suffix in ("", "/comments"):
        hidden = api.get(f"/api/v1/reports/{unpublished.code}{suffix}")
        missing = api.get(f"/api/v1/reports/PA-{year}-999999{suffix}")
        assert hidden.status_code == missing.status_code == 404
        # the same words (the code aside): "No Report matches the given query." told them apart
        assert hidden.json()["detail"].replace(unpublished.code, "X") == missing.json()["detail"].replace(
            f"PA-{year}-999999", "X")
        assert "Không tìm thấy phản ánh" in missing.json()["detail"]
    area = api.get("/api/v1/areas/999999999")
    assert area.status_code == 404 and "Không tìm thấy" in area.json()["detail"]


def test_too_many_parameters_is_a_400_naming_the_query(api):
    many = "&".join(["a=1"] * 1200)
    resp = api.get(f"/api/v1/reports?{many}")
    assert resp.status_code == 400 and "1000" in errors_of(resp)["query"][0]
    page = Client().get(f"/phan-anh/?{many}")
    assert page.status_code == 400 and "query" in page.content.decode()
    wrong_host = api.get("/api/v1/reports", HTTP_HOST="evil.example")
    assert wrong_host.status_code == 400 and wrong_host["Content-Type"].startswith("application/json")


# --- write bodies ------------------------------------------------------------------------

def _endpoints(code):
    return [
        ("/accounts/api/token", None),
        ("/api/v1/reports", None),
        (f"/api/v1/reports/{code}/comments", "citizen"),
        (f"/api/v1/reports/{code}/rating", "citizen"),
        (f"/api/v1/reports/{code}/actions/request_extension", "officer"),
    ]


@pytest.mark.parametrize("body", ["[null,null]", "null", "\"text\"", "5", "[]"])
def test_a_json_body_that_is_not_an_object_is_a_400(published, citizen, officer, body):
    users = {"citizen": citizen, "officer": officer}
    for url, who in _endpoints(published.code):
        c = client_for(users[who]) if who else APIClient()
        resp = c.post(url, body, content_type="application/json")
        assert resp.status_code == 400, (url, resp.content)
        assert "body" in errors_of(resp), (url, resp.json())
    assert Comment.objects.filter(report=published).count() == 0


@pytest.mark.parametrize("payload, field", [
    ({"text": ["a"]}, "text"),
    ({"text": {"a": 1}}, "text"),
    ({"text": "trước\x00sau"}, "text"),
    ({"text": "lone \ud800 surrogate"}, "text"),
    ({"te\x00xt": "ok"}, "text"),
    ({"text": True}, "text"),  # was stored as the text "True"
])
def test_a_comment_field_of_the_wrong_kind_is_refused_not_stored(published, citizen, payload, field):
    resp = client_for(citizen).post(f"/api/v1/reports/{published.code}/comments",
                                    json.dumps(payload), content_type="application/json")
    assert resp.status_code == 400, resp.content
    assert field in errors_of(resp)
    assert not Comment.objects.filter(report=published).exists()


@pytest.mark.parametrize("action, data, field", [
    ("request_extension", {"reason": "chờ\x00vật tư", "until": "2030-01-01"}, "reason"),
    ("transfer", {"authority": "ubnd\x00"}, "authority"),
    ("merge", {"into": "PA\x00"}, "into"),
])
@pytest.mark.parametrize("fmt", ["json", "multipart"])
def test_nul_in_an_action_field_is_a_400_naming_it(published, officer, operator, action, data, field, fmt):
    who = officer if action == "request_extension" else operator
    resp = client_for(who).post(f"/api/v1/reports/{published.code}/actions/{action}", data, format=fmt)
    assert resp.status_code == 400, resp.content
    assert field in errors_of(resp)
    published.refresh_from_db()
    assert published.extension_requested_until is None and published.row_version == 3


@pytest.mark.parametrize("field", ["description", "address", "contact_name"])
def test_true_or_false_where_text_belongs_is_a_400_on_the_field(api, published, officer, field):
    resp = api.post("/api/v1/reports", {**report_data(), field: True}, format="json")
    assert resp.status_code == 400 and field in errors_of(resp)
    assert not Report.objects.filter(description="True").exists()
    resp = client_for(officer).post(f"/api/v1/reports/{published.code}/actions/request_extension",
                                    {"reason": False, "until": "2030-01-01"}, format="json")
    assert resp.status_code == 400 and "reason" in errors_of(resp)


def test_nul_in_the_idempotency_key_or_a_create_field_is_a_400(api):
    resp = api.post("/api/v1/reports", report_data(idempotency_key="k\x00"), format="multipart")
    assert resp.status_code == 400 and "idempotency_key" in errors_of(resp)
    resp = api.post("/api/v1/reports", report_data(), format="multipart", HTTP_IDEMPOTENCY_KEY="k\x00")
    assert resp.status_code == 400 and "Idempotency-Key" in errors_of(resp)
    resp = api.post("/api/v1/reports", report_data(description="đèn\x00hỏng"), format="multipart")
    assert resp.status_code == 400 and "description" in errors_of(resp)
    assert not Report.objects.filter(description__startswith="đèn").exists()


def test_nul_in_a_page_form_is_a_400(operator, published):
    c = Client()
    c.force_login(operator)
    resp = c.post(f"/dieu-hanh/{published.code}/", {"action": "transfer", "authority": "x\x00"})
    assert resp.status_code == 400 and "authority" in resp.content.decode()


def test_a_chunked_body_is_read(published, citizen):
    body = json.dumps({"text": "Gửi theo từng khúc"}).encode()
    # What a WSGI server hands over for a chunked request: the de-chunked stream, no length.
    resp = client_for(citizen).generic(
        "POST", f"/api/v1/reports/{published.code}/comments", b"",
        content_type="application/json", CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": io.BytesIO(body)},
    )
    assert resp.status_code == 201, resp.content
    assert Comment.objects.get(report=published).text == "Gửi theo từng khúc"


def test_a_chunked_upload_larger_than_memory_keeps_its_photo(api, settings, tmp_path):
    from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

    from tests.reports.conftest import photo

    settings.MEDIA_ROOT = tmp_path
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 512  # the body goes to a temporary file, not memory
    body = encode_multipart(BOUNDARY, {**report_data(description="Gửi ảnh theo từng khúc"), "photos": [photo()]})
    assert len(body) > 2 * settings.FILE_UPLOAD_MAX_MEMORY_SIZE
    resp = api.generic("POST", "/api/v1/reports", b"", content_type=MULTIPART_CONTENT, CONTENT_LENGTH="",
                       HTTP_TRANSFER_ENCODING="chunked", **{"wsgi.input": io.BytesIO(body)})
    assert resp.status_code == 201, resp.content
    report = Report.objects.get(code=resp.json()["properties"]["code"])
    assert report.description == "Gửi ảnh theo từng khúc" and report.media.filter(kind="photo").count() == 1


def test_a_chunked_body_over_the_limit_is_a_413(published, citizen, settings):
    settings.REPORT_MAX_REQUEST_BYTES = 1000
    body = json.dumps({"text": "x" * 2000}).encode()
    resp = client_for(citizen).generic(
        "POST", f"/api/v1/reports/{published.code}/comments", b"",
        content_type="application/json", CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": io.BytesIO(body)},
    )
    assert resp.status_code == 413 and "body" in errors_of(resp)
    assert not Comment.objects.filter(report=published).exists()


# --- extensions: checked where written ----------------------------------------------------

@pytest.mark.parametrize("until", [
    "9999-12-31T23:59:59-12:00",   # the review's request: year 10000 in UTC
    "9999-12-31",
    "2026-02-30",                   # well-formed, impossible
    "2026-01-01T10:00:00+25:00",
])
def test_an_impossible_extension_is_refused(published, officer, until):
    resp = client_for(officer).post(f"/api/v1/reports/{published.code}/actions/request_extension",
                                    {"reason": "Chờ vật tư", "until": until}, format="json")
    assert resp.status_code == 400, resp.content
    assert "until" in errors_of(resp)
    published.refresh_from_db()
    assert published.extension_requested_until is None


def test_an_extension_is_limited_to_the_set_working_days(published, officer, settings):
    settings.MAX_EXTENSION_WORKING_DAYS = 30
    due = published.resolve_due.astimezone(sla.LOCAL_TZ).date()
    # 30 working days are at most ~45 calendar days (Tết included): 60 is too far, 10 is fine.
    far, near = (due + dt.timedelta(days=60)).isoformat(), (due + dt.timedelta(days=10)).isoformat()
    c = client_for(officer)
    resp = c.post(f"/api/v1/reports/{published.code}/actions/request_extension",
                  {"reason": "Chờ vật tư", "until": far}, format="json")
    assert resp.status_code == 400 and "30" in errors_of(resp)["until"][0]
    resp = c.post(f"/api/v1/reports/{published.code}/actions/request_extension",
                  {"reason": "Chờ vật tư", "until": near}, format="json")
    assert resp.status_code == 200, resp.content
    settings.MAX_EXTENSION_WORKING_DAYS = 5
    published.refresh_from_db()
    resp = c.post(f"/api/v1/reports/{published.code}/actions/request_extension",
                  {"reason": "Lại chờ", "until": near}, format="json")
    assert resp.status_code == 400


# --- an impossible value already stored ---------------------------------------------------

@pytest.mark.parametrize("stored", ["10000-01-01 11:59:59+00", "infinity", "9999-12-31 23:00:00+00"])
def test_every_page_renders_with_an_impossible_stored_time(published, citizen, operator, officer, stored):
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE reports_report SET extension_requested_until = %s::timestamptz, "
            "resolve_due = %s::timestamptz WHERE id = %s",
            [stored, stored, published.pk],
        )
    admin = get_user_model().objects.filter(is_superuser=True).first() or get_user_model().objects.create_superuser(
        "root-test", password="x")
    lon, lat = point_in(BAI_CHAY)
    anonymous = Client()
    pages = [
        (anonymous, "/phan-anh/"),
        (anonymous, "/api/v1/reports"),
        (anonymous, f"/api/v1/reports/nearby?lat={lat}&lon={lon}&radius=2000"),
        (anonymous, f"/api/v1/reports/{published.code}"),
        (anonymous, f"/phan-anh/{published.code}/"),
        (citizen, "/phan-anh/cua-toi/"),
        (officer, "/xu-ly/"),
        (officer, f"/xu-ly/{published.code}/"),
        (officer, f"/api/v1/reports/{published.code}/private"),
        (operator, "/dieu-hanh/?tab=extension"),
        (operator, f"/dieu-hanh/{published.code}/"),
        (admin, "/admin/reports/report/"),
        (admin, f"/admin/reports/report/{published.pk}/change/"),
    ]
    for who, url in pages:
        c = who if isinstance(who, Client) else Client()
        if not isinstance(who, Client):
            c.force_login(who)
        resp = c.get(url)
        assert resp.status_code == 200, (url, resp.status_code)
        assert published.code in resp.content.decode() or url.startswith("/api/v1/reports/nearby"), url


# --- odd but well-formed values in every write field: never a 500 -------------------------

ODD_VALUES = [True, None, -1, 1.5, 10**30, "", "x" * 6000, "1e309", "NaN", "9999-12-31", "😀"]


@pytest.mark.parametrize("action, who, fields", [
    ("request_extension", "officer", ["until", "reason"]),
    ("transfer", "operator", ["authority"]),
    ("merge", "operator", ["into"]),
    ("move_pin", "operator", ["lat", "lon"]),
    ("change_category", "operator", ["category"]),
    ("return", "officer", ["reason", "suggested_authority"]),
    ("resolve", "officer", ["result_text"]),
    ("reject", "operator", ["reason_code", "reason"]),
])
def test_odd_values_in_action_fields_never_give_a_500(published, officer, operator, action, who, fields):
    c = client_for({"officer": officer, "operator": operator}[who])
    seen = set()
    for field in [*fields, "row_version"]:
        for value in ODD_VALUES:
            resp = c.post(f"/api/v1/reports/{published.code}/actions/{action}", {field: value}, format="json")
            assert resp.status_code < 500, (field, value, resp.content[:300])
            seen.add(resp.status_code)
    assert seen <= {200, 400, 403, 409}


@pytest.mark.parametrize("url", ["comments", "rating"])
def test_odd_values_in_citizen_writes_never_give_a_500(published, citizen, url):
    c = client_for(citizen)
    for field in ["text", "level", "reason", "row_version"]:
        for value in ODD_VALUES:
            resp = c.post(f"/api/v1/reports/{published.code}/{url}", {field: value}, format="json")
            assert resp.status_code < 500, (field, value, resp.content[:300])


def test_odd_values_in_the_token_and_create_bodies_never_give_a_500(api):
    for field in ["phone", "code", "username", "password"]:
        for value in ODD_VALUES:
            resp = APIClient().post("/accounts/api/token", {field: value}, format="json")
            assert resp.status_code < 500, (field, value, resp.content[:300])
    base = report_data()
    for field in ["category", "lat", "lon", "description", "contact_phone", "contact_email"]:
        for value in ODD_VALUES:
            resp = api.post("/api/v1/reports", {**base, field: value}, format="json")
            assert resp.status_code < 500, (field, value, resp.content[:300])


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN", "Infinity"])
def test_json_numbers_past_float_are_a_400(api, published, operator, number):
    data = report_data()
    body = json.dumps({k: v for k, v in data.items() if k != "lat"})[:-1] + f', "lat": {number}}}'
    resp = api.post("/api/v1/reports", body, content_type="application/json")
    assert resp.status_code == 400, resp.content
    body = '{"lat": ' + number + ', "lon": 107.0}'
    resp = client_for(operator).post(f"/api/v1/reports/{published.code}/actions/move_pin", body,
                                     content_type="application/json")
    assert resp.status_code == 400, resp.content
