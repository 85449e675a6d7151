"""The lean ASGI path of the map's point tiles (heatmaps/tiles_lean.py) answers exactly what
Django's full path answers — status, bytes and headers — for the all-time view of a
stored tile asked by a client without a session: plain, gzip, a current or an old
version, a matching ETag (304); and it hands to Django what it must not answer itself:
a period or another filter, a cookie, a token, a receipt token, another layer or zoom,
a tile Django refuses, a repeated or NUL parameter, another method, a tile due to be
rendered again. A tile without a point (at sea) is answered empty by both.

The lean path runs on its own asynchronous connections: the reports and the roll-ups
here are committed (by a thread of its own connection) and removed afterwards."""

import asyncio

import httpx
import pytest
from django.db import connection
from django.utils import timezone

from geo_portal import async_db
from heatmaps import aggregates as agg
from heatmaps import tile_cache
from heatmaps.tiles_lean import lean_tile_app
from tests.heatmaps.conftest import insert_points, remove_committed_reports
from tests.heatmaps.test_point_tiles_all_time import AT_SEA
from tests.heatmaps.test_point_tiles_stored import features
from tests.heatmaps.test_rebuild_online import committed_call
from tests.heatmaps.test_tiles import HA_LONG, tile_of

pytestmark = pytest.mark.django_db

PUBLIC, UNCHECKED = 30, 6  # reports the desk let through (on the public map), and not yet
IGNORED_HEADERS = {"date", "server"}


def _points(n, shift):
    return [(HA_LONG[0] + (shift + i) * 3e-4, HA_LONG[1] + (i % 5) * 2e-4) for i in range(n)]


@pytest.fixture
def stored():
    """Reports in Hạ Long, the roll-ups and the stored tiles of all time built; committed."""
    now = timezone.now()
    committed_call(lambda: insert_points(_points(PUBLIC, 0), state="forwarded", created_at=now, province_code="22"))
    committed_call(lambda: insert_points(_points(UNCHECKED, PUBLIC), state="received", created_at=now,
                                         province_code="22"))
    committed_call(agg.refresh_all)
    tile_cache.forget()
    yield
    committed_call(remove_committed_reports)
    tile_cache.forget()


async def _handed_over(scope, receive, send):
    """Stands in for Django in the lean app: says that the request was handed over."""
    await send({"type": "http.response.start", "status": 299, "headers": [(b"x-handed-to", b"django")]})
    await send({"type": "http.response.body", "body": b""})


def lean_answers(requests):
    """``requests``: (method, path, query, headers) each."""

    async def ask(client, method, path, query, headers):
        # the bytes as sent (httpx would decompress a gzip body), no encoding unless asked
        request = client.build_request(method, path, params=query, headers={"Accept-Encoding": "", **headers})
        response = await client.send(request, stream=True)
        response.raw = b"".join([chunk async for chunk in response.aiter_raw()])
        return response

    async def main():
        transport = httpx.ASGITransport(app=lean_tile_app(_handed_over))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                return [await ask(client, *r) for r in requests]
        finally:
            await async_db.close_pools()

    return asyncio.run(main())


def comparable_headers(items):
    return {k.lower(): v for k, v in items if k.lower() not in IGNORED_HEADERS}


def tile(z, lon_lat=HA_LONG, layer="reports"):
    x, y = tile_of(*lon_lat, z)
    return f"/tiles/{layer}/{z}/{x}/{y}.pbf"


def version():
    with connection.cursor() as cur:
        cur.execute("SELECT data_version FROM heatmaps_refreshstate WHERE name = 'default'")
        return str(cur.fetchone()[0])


def test_the_lean_path_answers_stored_tiles_as_django_does(stored, client):
    etag = client.get(tile(12))["ETag"]
    answered = [
        *[("GET", tile(z), {}, {}) for z in (10, 11, 12, 13, 14)],
        ("GET", tile(12), {}, {"Accept-Encoding": "gzip, deflate, br"}),
        ("GET", tile(13), {}, {"Accept-Encoding": "br, gzip;q=0"}),  # gzip refused: the plain MVT
        ("GET", tile(12), {"v": version()}, {"Accept-Encoding": "gzip"}),  # current version: cached a day
        ("GET", tile(12), {"v": "0"}, {}),  # an old one: revalidated
        ("GET", tile(12), {"v": ""}, {}),
        ("GET", tile(12), {}, {"If-None-Match": etag}),  # 304
        ("GET", tile(12), {}, {"If-None-Match": f'"other", {etag}'}),
        ("GET", tile(12), {}, {"If-None-Match": '"other"'}),  # no match: the tile
        ("GET", tile(14), {}, {"Accept-Language": "en"}),
        ("GET", tile(12, lon_lat=AT_SEA), {}, {}),  # no point there: empty (204), known from the stored tiles
    ]
    lean = lean_answers(answered)
    for (_method, path, query, headers), fast in zip(answered, lean, strict=True):
        full = client.get(path, query, headers=headers)
        assert fast.status_code != 299, ("handed to Django", path, query, headers)
        assert full.status_code in (200, 204, 304), (path, full.status_code)
        assert fast.status_code == full.status_code, (path, query, headers)
        assert fast.raw == full.content, (path, query, headers)
        assert comparable_headers(fast.headers.items()) == comparable_headers(full.items()), (path, query, headers)
        assert fast.headers["X-Tile-Cache"] == "stored"
    # what a user sees: the public's points of the tile, the unchecked ones left out
    plain = lean[2]
    assert len(features(plain.raw)) == PUBLIC
    assert lean[5].headers["Content-Encoding"] == "gzip" and "Content-Encoding" not in lean[6].headers
    assert lean[7].headers["Cache-Control"] == "public, max-age=86400"
    assert lean[8].headers["Cache-Control"] == "public, max-age=60, must-revalidate"
    assert [a.status_code for a in lean[10:13]] == [304, 304, 200]
    assert (lean[14].status_code, lean[14].raw) == (204, b"")


HANDED_OVER = [
    # (method, path, query, headers, why)
    ("GET", tile(12), {"month": "2026-11"}, {}, "a period"),
    ("GET", tile(12), {"state": "open"}, {}, "a filter"),
    ("GET", tile(12), {"category": "do-thi-chieu-sang"}, {}, "a category"),
    ("GET", tile(12), {"province": "22"}, {}, "a province"),
    ("GET", tile(12), {"x": "1"}, {}, "an unknown parameter"),
    ("GET", tile(12), {"v": ["1", "2"]}, {}, "a repeated parameter"),
    ("GET", tile(12), {"v": "1\x00"}, {}, "a NUL byte: the input guard's 400"),
    ("GET", tile(12), {"t": "receipt"}, {}, "a receipt token"),
    ("GET", tile(12), {}, {"Cookie": "sessionid=abc"}, "a session"),
    ("GET", tile(12), {}, {"Authorization": "Token abc"}, "an API token"),
    ("GET", tile(12), {}, {"X-Receipt-Token": "abc"}, "a receipt token"),
    ("HEAD", tile(12), {}, {}, "another method"),
    ("POST", tile(12), {}, {}, "another method"),
    ("GET", tile(12, layer="bins"), {}, {}, "the bins"),
    ("GET", tile(9), {}, {}, "below the point zooms: bins"),
    ("GET", tile(15), {}, {}, "not stored at z15"),
    ("GET", "/tiles/reports/12/4096/1.pbf", {}, {}, "no such tile: Django's 400"),
    ("GET", "/tiles/reports/12/1/1.pbf/", {}, {}, "not the route"),
]


def test_the_lean_path_hands_to_django_what_it_must_not_answer(stored):
    lean = lean_answers([(m, path, q, h) for m, path, q, h, _why in HANDED_OVER])
    wrong = [why for (*_r, why), fast in zip(HANDED_OVER, lean, strict=True) if fast.status_code != 299]
    assert wrong == []


def test_a_tile_due_to_be_rendered_again_goes_to_django_and_is_answered_after_its_render(stored):
    """A new report marks its tiles due (the refresh); until the warm-up renders them,
    Django renders them when asked, then the lean path serves the stored tile again,
    with the new report on it."""
    x, y = tile_of(*HA_LONG, 13)
    before = lean_answers([("GET", tile(13), {}, {})])[0]
    assert before.headers["X-Tile-Cache"] == "stored" and len(features(before.raw)) == PUBLIC
    committed_call(lambda: insert_points(_points(1, 50), state="forwarded", created_at=timezone.now(),
                                         province_code="22"))
    committed_call(agg.refresh_incremental)
    assert lean_answers([("GET", tile(13), {}, {})])[0].status_code == 299
    from heatmaps import tiles

    committed_call(tiles.render_due_all_time_tiles)
    after = lean_answers([("GET", tile(13), {}, {})])[0]
    assert after.status_code == 200 and len(features(after.raw)) == PUBLIC + 1


def test_when_the_jurisdictions_must_be_read_again_django_answers_then_the_lean_path(stored, client):
    """The map's default place (the home country less other countries' jurisdictions) is
    read from the database and kept a minute in the process; the event loop may not
    read it (a 500 on the real server before this was handled): the first request after
    it expired goes to Django, which reads it again, and the next is answered lean."""
    from boundaries import jurisdictions

    jurisdictions.clear_cache()
    assert lean_answers([("GET", tile(12), {}, {})])[0].status_code == 299
    assert client.get(tile(12)).status_code == 200  # Django, on its thread, reads them
    assert lean_answers([("GET", tile(12), {}, {})])[0].status_code == 200


def test_a_tile_served_once_is_kept_in_the_process(stored, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "lean-tiles"}}
    tile_cache.forget()
    first, second = lean_answers([("GET", tile(14), {}, {}), ("GET", tile(14), {}, {})])
    assert (first.headers["X-Tile-Cache"], second.headers["X-Tile-Cache"]) == ("stored", "hit")
    assert first.raw == second.raw and len(features(second.raw)) == PUBLIC


@pytest.mark.parametrize(("path", "lean"), [
    ("/tiles/reports/12/3263/1792.pbf", "heatmaps.tiles_lean"),
    ("/api/v1/locate", "reports.api_locate_lean"),
    ("/tiles/bins/12/3263/1792.pbf", None),
    ("/tiles/reportsx/12/3263/1792.pbf", None),
    ("/api/v1/reports/", None),
])
def test_the_server_routes_the_lean_paths(path, lean):
    from geo_portal import asgi

    app = asgi._lean_app(path)
    assert (app.__module__ if app else None) == lean
