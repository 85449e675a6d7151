"""The lean ASGI path of /api/v1/locate (reports/api_locate_lean.py) answers exactly what
Django's full path answers — status, JSON and headers — on a table of requests: interior
points of communes, shared borders and vertices, pins in Hạ Long Bay, far at sea, outside
Vietnam, dated before the 2025 reform, in English, bad input; and it hands to Django what
it must not answer itself (category, cookies, tokens, other methods).

The lean path runs on its own asynchronous connections: it sees the boundary data
committed at the session's set-up, as Django's connection does."""

import asyncio

import httpx
import pytest
from django.db import connection

from geo_portal import async_db
from reports.api_locate_lean import lean_locate_app
from tests.boundaries._points import interior_point, shared_vertex

pytestmark = pytest.mark.django_db

COMMUNES = ["06673", "06685", "06709", "06661", "19753", "03127", "32002"]

# (query, headers): what a client may send; compared between both paths.
FIXED = [
    ({"lat": "20.94", "lon": "107.05"}, {}),  # Hạ Long Bay, ~620 m off Bãi Cháy: snapped
    ({"lat": "20.90", "lon": "107.10"}, {}),  # further out in the bay
    ({"lat": "20.85", "lon": "107.25"}, {}),  # among the bay's islands
    ({"lat": "20.5", "lon": "107.6"}, {}),  # Gulf of Tonkin: too far
    ({"lat": "20.5", "lon": "107.6"}, {"Accept-Language": "en"}),  # …its message in English
    ({"lat": "48.85", "lon": "2.35"}, {}),  # Paris: outside
    ({"lat": "13.75", "lon": "100.50"}, {"Accept-Language": "en-GB,en;q=0.8"}),  # Bangkok
    ({"lat": "42.3504", "lon": "-71.0867"}, {}),  # Boston, its own jurisdiction
    ({"lat": "0", "lon": "0"}, {}),
    ({"lat": "90", "lon": "180"}, {}),  # the limits are valid
    ({"lat": "-90", "lon": "-180"}, {}),
    ({"lat": " 20.94 ", "lon": "107.05", "ignored": "x"}, {}),
    ({"lat": "20.94", "lon": "107.05", "at": "2025-03-01"}, {}),  # before the reform
    ({"lat": "20.94", "lon": "107.05", "at": "2025-06-30T23:30:00"}, {}),  # naive: local time
    ({"lat": "20.94", "lon": "107.05", "at": "2025-07-01T00:30:00+07:00"}, {}),
    ({"lat": "20.94", "lon": "107.05", "at": "1990-01-01"}, {}),  # no version then
    ({"lat": "20.94", "lon": "107.05", "category": "   "}, {}),  # a blank category is none
    # bad input: a 400 naming each field
    ({"lon": "107"}, {}),
    ({"lat": "", "lon": "107"}, {}),
    ({"lat": "abc", "lon": "107"}, {"Accept-Language": "en"}),
    ({"lat": "20.9", "lon": "1e999"}, {}),
    ({"lat": "nan", "lon": "107"}, {}),
    ({"lat": "91", "lon": "107"}, {}),
    ({"lat": "20.9", "lon": "-181"}, {"Accept-Language": "en"}),
    ({"lat": "2_0", "lon": "107"}, {}),
    ({"lat": "20.9", "lon": "107", "at": "hôm qua"}, {}),
    ({"lat": "20.9", "lon": "107", "at": "2025-13-45"}, {"Accept-Language": "en"}),
    ({"lat": "20.9", "lon": "107", "at": "0001-01-01T00:00:00+14:00"}, {}),
    ({"lat": "20.9", "lon": "107", "at": "9999-12-31T23:59:59-12:00"}, {}),
    ({"lat": "x", "lon": "y", "at": "z"}, {"Accept-Language": "fr"}),  # unsupported: Vietnamese
    ({}, {}),
    ({"lat": "20.9\x00", "lon": "107"}, {}),  # the input guard's 400 (handed to Django)
]

IGNORED_HEADERS = {"date", "server"}


def table():
    """The ~50 requests: fixed ones plus points computed from the data in SQL."""
    rows = list(FIXED)
    with connection.cursor() as cur:  # and a few more communes of each province, any
        cur.execute("""SELECT a.code FROM boundaries_area a JOIN boundaries_boundaryversion v ON v.id = a.version_id
                       JOIN boundaries_areatype t ON t.id = a.type_id
                       WHERE v.code = 'vn-2025' AND t.code = 'commune' ORDER BY md5(a.code) LIMIT 6""")
        more = [code for (code,) in cur.fetchall()]
    for code in COMMUNES + more:
        lon, lat = interior_point(code)
        rows.append(({"lat": repr(lat), "lon": repr(lon)}, {}))
    for a, b in [("06673", "06661")]:
        lon, lat = shared_vertex(a, b)  # a vertex both communes cover: the lowest code wins
        rows.append(({"lat": repr(lat), "lon": repr(lon)}, {}))
        rows.append(({"lat": repr(lat), "lon": repr(lon), "at": "2025-03-01"}, {"Accept-Language": "en"}))
    lon, lat = interior_point("06673", version="vn-2009")
    rows.append(({"lat": repr(lat), "lon": repr(lon), "at": "2024-12-31"}, {}))
    return rows


async def _handed_over(scope, receive, send):
    """Stands in for Django in the lean app: says that the request was handed over."""
    await send({"type": "http.response.start", "status": 299, "headers": [(b"x-handed-to", b"django")]})
    await send({"type": "http.response.body", "body": b""})


def lean_answers(requests, method="GET", fallback=_handed_over):
    async def main():
        transport = httpx.ASGITransport(app=lean_locate_app(fallback))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                return [await client.request(method, "/api/v1/locate", params=q, headers=h) for q, h in requests]
        finally:
            await async_db.close_pools()

    return asyncio.run(main())


def comparable_headers(items):
    return {k.lower(): v for k, v in items if k.lower() not in IGNORED_HEADERS}


def test_the_lean_path_answers_as_django_does_on_a_table_of_requests(client):
    requests = table()
    assert len(requests) >= 45
    lean = lean_answers(requests)
    mismatches = []
    for (query, headers), fast in zip(requests, lean, strict=True):
        full = client.get("/api/v1/locate", query, headers=headers)
        if fast.status_code == 299:  # handed to Django: only what the input guard refuses
            assert full.status_code == 400 and "NUL" in full.json()["errors"]["lat"][0], query
            continue
        assert full.status_code in (200, 400), (query, full.status_code)
        same = (
            fast.status_code == full.status_code
            and fast.json() == full.json()
            and fast.content == full.content
            and comparable_headers(fast.headers.multi_items()) == comparable_headers(full.headers.items())
        )
        if not same:
            mismatches.append((query, headers, fast.status_code, fast.content[:300], full.status_code,
                               full.content[:300], comparable_headers(fast.headers.multi_items()),
                               comparable_headers(full.headers.items())))
    assert mismatches == []


def test_kept_answers_are_the_answers_of_their_own_point_day_and_language(client):
    # The lean path keeps each answer by the query's rows, day and language: the table
    # asked twice in one worker gives the same answers the second time (from what was
    # kept: Vietnamese and English of the same pin, the same pin before and after the
    # reform), and a second point of each commune gets exactly what Django gives it.
    requests = table()
    twice = lean_answers(requests + requests)
    first, second = twice[: len(requests)], twice[len(requests):]
    for (query, _headers), a, b in zip(requests, first, second, strict=True):
        assert (a.status_code, a.content, comparable_headers(a.headers.multi_items())) == (
            b.status_code, b.content, comparable_headers(b.headers.multi_items())), query
    others = []
    for code in COMMUNES:
        lon, lat = interior_point(code)
        for dlon, dlat in ((1e-5, 0), (0, 1e-5)):
            others.append(({"lat": repr(lat + dlat), "lon": repr(lon + dlon)}, {"Accept-Language": "en"}))
            others.append(({"lat": repr(lat + dlat), "lon": repr(lon + dlon)}, {}))
    lean = lean_answers(others)
    codes = set()
    for (query, headers), fast in zip(others, lean, strict=True):
        full = client.get("/api/v1/locate", query, headers=headers)
        assert fast.status_code == full.status_code == 200
        assert fast.content == full.content, query
        assert fast.headers["content-language"] == full.headers["content-language"]
        codes.add(fast.json()["areas"][-1]["code"])
    assert codes == set(COMMUNES)


def test_what_a_user_sees_on_the_lean_path():
    # Expected values from the data itself (SQL), not from the lookup code.
    lon, lat = interior_point("06673")
    vlon, vlat = shared_vertex("06673", "06661")
    inside, bay, sea, paris, bad, vertex = lean_answers([
        ({"lat": lat, "lon": lon}, {}),
        ({"lat": 20.94, "lon": 107.05}, {}),
        ({"lat": 20.5, "lon": 107.6}, {"Accept-Language": "en"}),
        ({"lat": 48.85, "lon": 2.35}, {}),
        ({"lat": "abc", "lon": "200"}, {"Accept-Language": "en"}),
        ({"lat": vlat, "lon": vlon}, {}),
    ])
    assert [(a["type"], a["code"]) for a in inside.json()["areas"]] == [("province", "22"), ("commune", "06673")]
    assert inside.json()["areas"][1]["name"] == "Phường Bãi Cháy"
    assert bay.json()["areas"][-1]["code"] == "06673" and 500 < bay.json()["snapped_m"] < 750
    assert sea.json()["areas"] == [] and sea.json()["reason"] == "too_far" and "km" in sea.json()["message"]
    assert sea.headers["content-language"] == "en"
    assert paris.json()["reason"] == "outside"
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"lat", "lon"}
    assert bad.json()["errors"]["lat"] == ["Must be a decimal number (e.g. 20.95)."]
    assert vertex.json()["areas"][-1]["code"] == "06661"
    for r in (inside, bay, sea, paris, bad):
        assert r.headers["content-type"] == "application/json"
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    "method,query,headers",
    [
        ("GET", {"lat": "20.94", "lon": "107.05", "category": "xay-dung-trai-phep"}, {}),  # routing
        ("GET", {"lat": "20.94", "lon": "107.05"}, {"Cookie": "sessionid=abc"}),  # a signed-in browser
        ("GET", {"lat": "20.94", "lon": "107.05"}, {"Cookie": "django_language=en"}),  # a chosen language
        ("GET", {"lat": "20.94", "lon": "107.05"}, {"Authorization": "Token abc"}),  # an API token
        ("POST", {"lat": "20.94", "lon": "107.05"}, {}),
        ("HEAD", {"lat": "20.94", "lon": "107.05"}, {}),
        ("OPTIONS", {}, {}),
        ("GET", {f"f{i}": "1" for i in range(1200)}, {}),  # more fields than Django accepts
    ],
)
def test_what_the_lean_path_leaves_to_django(method, query, headers):
    (answer,) = lean_answers([(query, headers)], method=method)
    assert answer.status_code == 299 and answer.headers["x-handed-to"] == "django"


def test_https_behind_the_proxy_gets_the_same_strict_transport_header(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    query, headers = {"lat": "20.94", "lon": "107.05"}, {"X-Forwarded-Proto": "https"}
    (fast,) = lean_answers([(query, headers)])
    full = client.get("/api/v1/locate", query, headers=headers)
    assert fast.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert comparable_headers(fast.headers.multi_items()) == comparable_headers(full.headers.items())
    assert fast.content == full.content


def test_the_served_router_sends_the_lookup_to_the_lean_path_and_the_rest_to_django():
    # geo_portal.asgi as scripts/run serves it: the lean path answers an API client's
    # lookup; a request it leaves (a signed-in browser's cookie) and /livez reach Django.
    from geo_portal import asgi

    lon, lat = interior_point("06673")

    async def main():
        transport = httpx.ASGITransport(app=asgi.application)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                api = await client.get("/api/v1/locate", params={"lat": lat, "lon": lon})
                browser = await client.get("/api/v1/locate", params={"lat": lat, "lon": lon},
                                           headers={"Cookie": "django_language=en"})
                live = await client.get("/livez")
                return api, browser, live
        finally:
            await async_db.close_pools()

    assert "/api/v1/locate" in asgi.lean
    api, browser, live = asyncio.run(main())
    assert api.status_code == 200 and api.json()["areas"][-1]["code"] == "06673"
    assert browser.status_code == 200 and browser.json() == api.json()
    assert browser.headers["content-language"] == "en" and api.headers["content-language"] == "vi"
    assert live.text == "ok"
