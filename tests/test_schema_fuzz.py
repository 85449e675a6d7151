"""schemathesis over the whole OpenAPI schema, in-process against the test database:
every documented operation, anonymous and with a staff token, answers no 5xx and
exactly what its schema says (status code, content type, body).

Fixed seed (derandomize) and a small budget per operation keep it short (~2 min on 2
cores: the schema's own examples, schemathesis' coverage cases — boundary and invalid
values of every parameter — and 10 fuzzed cases per operation and caller). For a longer
run: SCHEMA_FUZZ_EXAMPLES=200, SCHEMA_FUZZ_PHASES=examples,coverage,fuzzing.
"""

import os

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = int(os.environ.get("SCHEMA_FUZZ_EXAMPLES", "10"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

full_schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())
schema = full_schema
schema.config.phases.update(phases=os.environ.get("SCHEMA_FUZZ_PHASES", "examples,coverage,fuzzing").split(","))
# The schema and docs pages document nothing of ours; the live stream is not in the schema.
schema = schema.exclude(path_regex=r"^/api/v1/(schema|docs)/")
# Open311 and OGC API answer the same to everyone (no token): fuzzed once, anonymously.
staff_schema = schema.exclude(path_regex=r"^/(open311|ogcapi)/")


@pytest.fixture(autouse=True)
def _in_the_test_transaction(settings):
    """The app runs in-process on the test's own connection: Django must not close it
    after each request (the test client does the same)."""
    settings.RATELIMIT_ENABLE = False
    settings.SMS_BACKEND = "geo_portal.accounts.sms.ConsoleSmsBackend"
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def staff_token(db):
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    operator = get_user_model().objects.get(username="+84900000001")
    return Token.objects.get_or_create(user=operator)[0].key


# Schemathesis' WSGI transport sends "Accept-Encoding: gzip" and does not decode the answer;
# ask for plain bodies (compression has its own tests: tests/boundaries/test_geojson_compressed.py,
# tests/heatmaps/test_tile_cache.py).
PLAIN = {"Accept-Encoding": "identity"}

FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.django_db
@schema.parametrize()
@FUZZ
def test_anonymous(case):
    case.call_and_validate(checks=CHECKS, headers=PLAIN)


@pytest.mark.django_db
@staff_schema.parametrize()
@FUZZ
def test_staff(case, staff_token):
    case.call_and_validate(checks=CHECKS, headers={**PLAIN, "Authorization": f"Token {staff_token}"})


# --- real answers, with data behind them, match the schema --------------------------------
# The fuzzer mostly meets unknown codes (404); these calls reach every documented 200 with
# a real report, real areas and real statistics and validate each body against the schema.


@pytest.fixture
def report_in_progress(db):
    from django.contrib.auth import get_user_model

    from reports import intake, workflow
    from tests.reports.conftest import new_key, report_data

    users = get_user_model().objects
    citizen, operator, officer = (users.get(username=p) for p in ("+84910000001", "+84900000001", "+84900000002"))
    report = intake.create_report(report_data(), None, citizen, new_key())
    report = workflow.transition(report, "forward", operator)
    report = workflow.transition(report, "accept", officer)
    report = workflow.transition(report, "start", officer)
    workflow.add_comment(report, citizen, "Vẫn còn hỏng")
    return report


def test_real_answers_match_the_schema(report_in_progress, staff_token):
    from tests.reports.conftest import BAI_CHAY, point_in

    code = report_in_progress.code
    lon, lat = point_in(BAI_CHAY)
    area_id = report_in_progress.commune_id
    bbox = f"{lon - 0.05},{lat - 0.05},{lon + 0.05},{lat + 0.05}"
    calls = [
        ("/api/v1/reports", "GET", {}, {}),
        ("/api/v1/reports", "GET", {}, {"scope": "queue"}),
        ("/api/v1/reports/{code}", "GET", {"code": code}, {}),
        ("/api/v1/reports/{code}/private", "GET", {"code": code}, {}),
        ("/api/v1/reports/{code}/comments", "GET", {"code": code}, {}),
        ("/api/v1/reports/nearby", "GET", {}, {"lat": lat, "lon": lon, "category": "do-thi-chieu-sang"}),
        ("/api/v1/reports/preview", "GET", {}, {"lat": lat, "lon": lon, "category": "do-thi-chieu-sang"}),
        ("/api/v1/categories", "GET", {}, {}),
        ("/api/v1/locate", "GET", {}, {"lat": lat, "lon": lon, "category": "do-thi-chieu-sang"}),
        ("/api/v1/areas/{id}", "GET", {"id": area_id}, {}),
        ("/api/v1/areas/by-code/{code}", "GET", {"code": BAI_CHAY}, {}),
        ("/api/v1/boundaries/{version}/{type_code}.geojson", "GET", {"version": "vn-2025", "type_code": "commune"},
         {"province": "22", "zoom": "8"}),
        ("/api/v1/heatmaps/version/", "GET", {}, {}),
        ("/api/v1/heatmaps/heat/", "GET", {}, {"bbox": bbox, "zoom": "12"}),
        ("/api/v1/heatmaps/hex/", "GET", {}, {"bbox": bbox, "zoom": "12"}),
        ("/api/v1/heatmaps/areas/", "GET", {}, {"type": "commune", "parent": "22"}),
        ("/api/v1/heatmaps/series/", "GET", {}, {"by": "category"}),
        ("/api/v1/heatmaps/hotspots/", "GET", {}, {"province": "22", "all": "1"}),
        ("/api/v1/heatmaps/overdue/", "GET", {}, {"province": "22"}),
        ("/api/v1/heatmaps/export.{fmt}", "GET", {"fmt": "geojson"}, {"bbox": bbox}),
        ("/api/v1/stats/", "GET", {}, {}),
        ("/api/v1/stats/{kind}/{code}/", "GET", {"kind": "province", "code": "22"}, {}),
        ("/api/v1/stats/by/{by}/", "GET", {"by": "authority"}, {}),
        ("/api/v1/stats/ranking/", "GET", {}, {"min": "0"}),
        ("/api/v1/stats/series/", "GET", {}, {"by": "group"}),
        ("/api/v1/ioc/state/", "GET", {}, {"province": "22"}),
    ]
    for path, method, path_parameters, query in calls:
        case = full_schema[path][method].Case(path_parameters=path_parameters, query=query)
        response = case.call(headers={**PLAIN, "Authorization": f"Token {staff_token}"})
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        case.validate_response(response, checks=CHECKS)
    writes = [
        ("/api/v1/reports/{code}/comments", {"text": "Đơn vị đã tiếp nhận."}, 201),
        ("/api/v1/reports/{code}/follow", None, 201),
        # the unit asks, not the desk
        ("/api/v1/reports/{code}/actions/{action}", {"reason": "Chờ vật tư", "until": "2999-01-01"}, 403),
    ]
    for path, body, expected in writes:
        kwargs = {"body": body, "media_type": "application/json"} if body is not None else {}
        case = full_schema[path]["POST"].Case(path_parameters={"code": code, "action": "request_extension"}, **kwargs)
        response = case.call(headers={**PLAIN, "Authorization": f"Token {staff_token}"})
        assert response.status_code == expected, (path, response.status_code, response.text[:300])
        case.validate_response(response, checks=CHECKS)


def test_open311_and_ogc_answers_match_the_schema(report_in_progress, tmp_path, settings):
    """The fuzzer meets unknown ids and no API key: these reach every documented 200/201
    of Open311 (JSON and XML) and OGC API Features (JSON and HTML) with real data."""
    import io

    from django.core.management import call_command

    from boundaries import jurisdictions
    from open311.models import ApiKey
    from tests.reports.conftest import BAI_CHAY, point_in

    settings.MEDIA_ROOT = tmp_path
    call_command("open311", "seed", stdout=io.StringIO())
    raw_key = ApiKey.create("schema", [jurisdictions.get("22")])[1]
    lon, lat = point_in(BAI_CHAY)
    form = {"api_key": raw_key, "jurisdiction_id": "22", "service_code": "do-thi-chieu-sang", "lat": str(lat),
            "long": str(lon), "description": "Đèn đường trước số 12 tắt hai tuần nay.",
            "attribute[tinh-trang-den]": "tat"}
    created = {}
    for fmt in ("json", "xml"):
        case = full_schema["/open311/v2/requests.{fmt}"]["POST"].Case(
            path_parameters={"fmt": fmt}, body=form, media_type="application/x-www-form-urlencoded")
        response = case.call()
        assert response.status_code == 201, (fmt, response.text[:300])
        case.validate_response(response, checks=CHECKS)
        if fmt == "json":
            created = response.json()[0]
    code = report_in_progress.code
    calls = [
        ("/open311/v2/discovery.{fmt}", {}, {}),
        ("/open311/v2/services.{fmt}", {}, {"jurisdiction_id": "22"}),
        ("/open311/v2/services/{code}.{fmt}", {"code": "do-thi-chieu-sang"}, {}),
        ("/open311/v2/requests.{fmt}", {}, {"extensions": "true", "jurisdiction_id": "22"}),
        ("/open311/v2/requests/{request_id}.{fmt}", {"request_id": code}, {"extensions": "true"}),
        ("/open311/v2/requests/{request_id}.{fmt}", {"request_id": created["service_request_id"]},
         {"api_key": raw_key}),
        ("/open311/v2/tokens/{token}.{fmt}", {"token": created["token"]}, {}),
        ("/open311/v2/servicerequestupdates.{fmt}", {}, {}),
    ]
    for path, path_parameters, query in calls:
        for fmt in ("json", "xml"):
            case = full_schema[path]["GET"].Case(path_parameters={**path_parameters, "fmt": fmt}, query=query)
            response = case.call()
            assert response.status_code == 200, (path, fmt, response.status_code, response.text[:300])
            content_type = "".join(response.headers["content-type"])  # schemathesis: a list of values
            assert content_type.startswith("application/json" if fmt == "json" else "text/xml")
            case.validate_response(response, checks=CHECKS)
    assert code in {r["service_request_id"] for r in full_schema["/open311/v2/requests.{fmt}"]["GET"].Case(
        path_parameters={"fmt": "json"}, query={"jurisdiction_id": "22"}).call().json()}

    bbox = f"{lon - 0.05},{lat - 0.05},{lon + 0.05},{lat + 0.05}"
    ogc = [
        ("/ogcapi/", {}, {}),
        ("/ogcapi/conformance", {}, {}),
        ("/ogcapi/api", {}, {}),
        ("/ogcapi/collections", {}, {}),
        ("/ogcapi/collections/{cid}", {"cid": "reports-22"}, {}),
        ("/ogcapi/collections/{cid}/queryables", {"cid": "reports"}, {}),
        ("/ogcapi/collections/{cid}/items", {"cid": "reports"}, {"bbox": bbox, "limit": "5"}),
        ("/ogcapi/collections/{cid}/items", {"cid": "areas-vn-2025-province"}, {"limit": "2", "zoom": "6"}),
        ("/ogcapi/collections/{cid}/items/{fid}", {"cid": "reports", "fid": code}, {}),
        ("/ogcapi/collections/{cid}/items/{fid}", {"cid": "areas-vn-2025-commune", "fid": BAI_CHAY}, {"zoom": "10"}),
    ]
    for path, path_parameters, query in ogc:
        for f in ("json", "html"):
            case = full_schema[path]["GET"].Case(path_parameters=path_parameters, query={**query, "f": f})
            response = case.call()
            assert response.status_code == 200, (path, f, response.status_code, response.text[:300])
            case.validate_response(response, checks=CHECKS)
    case = full_schema["/ogcapi/collections/{cid}/items"]["GET"].Case(path_parameters={"cid": "reports"},
                                                                     query={"bbox": bbox})
    assert code in {f["id"] for f in case.call().json()["features"]}


def test_every_api_url_is_in_the_schema():
    """A new JSON endpoint cannot be left out of the schema (and so out of the fuzzing)."""
    import re

    from django.urls import URLPattern, URLResolver, get_resolver

    def routes(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from routes(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern)

    api_urls = {"/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r).replace("{pk}", "{id}")
                for r in routes(get_resolver().url_patterns)
                if r.startswith(("api/", "tiles/", "accounts/api/", "open311/", "ogcapi/"))}
    documented = set(full_schema.raw_schema["paths"])
    assert api_urls - documented == {"/api/v1/docs/"}  # the docs page is HTML
    assert {"/api/v1/heatmaps/areas/", "/api/v1/stats/", "/api/v1/locate", "/api/v1/ioc/state/",
            "/api/v1/boundaries/{version}/{type_code}.geojson", "/api/v1/areas/{id}",
            "/open311/v2/requests.{fmt}", "/ogcapi/collections/{cid}/items"} <= documented


def test_every_filtered_endpoint_documents_every_filter():
    """The maps, statistics and tiles read the same filters (heatmaps.aggregates.Filters):
    each one's schema lists all of them, ?jurisdiction= included."""
    from heatmaps.aggregates import Filters

    paths = full_schema.raw_schema["paths"]
    filtered = [p for p in paths if p.startswith(("/api/v1/heatmaps/", "/api/v1/stats/", "/tiles/"))
                and p not in ("/api/v1/heatmaps/version/", "/api/v1/heatmaps/overdue/")]
    assert len(filtered) >= 12
    for path in filtered:
        names = {p["name"] for p in paths[path]["get"].get("parameters", []) if p["in"] == "query"}
        assert set(Filters.PARAMS) <= names, (path, set(Filters.PARAMS) - names)
