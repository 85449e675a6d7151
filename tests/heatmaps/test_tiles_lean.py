"""The lean ASGI path of the map's point tiles (heatmaps/tiles_lean.py) answers exactly what
Django's full path answers — status, bytes and headers — for a point tile asked by a
client without a session: stored (all time, a month) or rendered (a zoom not stored, a
period, a state, a tile due to be rendered again, a capped tile), plain, gzip, a current
or an old version, a matching ETag (304); and it hands to Django what it must not answer
itself: a filter that reads the database or that Django refuses, a cookie, a token, a
receipt token, another layer or zoom, a tile Django refuses, a repeated or NUL
parameter, another method. A tile without a point (at sea) is answered empty by both.

The lean path runs on its own asynchronous connections: the reports and the roll-ups
here are committed (by a thread of its own connection) and removed afterwards."""

import asyncio
import math

import httpx
import mapbox_vector_tile
import pytest
from django.db import connection
from django.utils import timezone

from boundaries import jurisdictions
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
    # the map's default place, read from the database and kept a minute per process: the
    # lean path hands a request over to Django until it is kept (a test of its own below).
    # Read afresh, so that its minute cannot end in the middle of a test (it did once in CI,
    # kept by an earlier test 60 s before).
    jurisdictions.clear_cache()
    agg.Filters.from_params({})
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


def this_month():
    return timezone.localdate().strftime("%Y-%m")


def assert_same_answers(client, requests, lean):
    for (_method, path, query, headers), fast in zip(requests, lean, strict=True):
        full = client.get(path, query, headers=headers)
        assert fast.status_code != 299, ("handed to Django", path, query, headers)
        assert full.status_code in (200, 204, 304), (path, full.status_code)
        assert fast.status_code == full.status_code, (path, query, headers)
        assert fast.raw == full.content, (path, query, headers)
        assert comparable_headers(fast.headers.items()) == comparable_headers(full.items()), (path, query, headers)


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
        ("GET", tile(12), {"month": this_month()}, {}),  # the month slider's view, stored too
    ]
    lean = lean_answers(answered)
    assert_same_answers(client, answered, lean)
    assert {fast.headers["X-Tile-Cache"] for fast in lean} == {"stored"}
    # what a user sees: the public's points of the tile, the unchecked ones left out
    plain = lean[2]
    assert len(features(plain.raw)) == PUBLIC
    assert lean[5].headers["Content-Encoding"] == "gzip" and "Content-Encoding" not in lean[6].headers
    assert lean[7].headers["Cache-Control"] == "public, max-age=86400"
    assert lean[8].headers["Cache-Control"] == "public, max-age=60, must-revalidate"
    assert [a.status_code for a in lean[10:13]] == [304, 304, 200]
    assert (lean[14].status_code, lean[14].raw) == (204, b"")
    assert len(features(lean[15].raw)) == PUBLIC


def public_points_in(z, buffer=0.0):
    """The public points of the fixture inside Hạ Long's tile at z (its buffer too, as a
    fraction of the tile's side), by Web Mercator's formula."""
    x, y = tile_of(*HA_LONG, z)
    n = 2**z

    def lat(row):
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    west, east = (x - buffer) / n * 360 - 180, (x + 1 + buffer) / n * 360 - 180
    south, north = lat(y + 1 + buffer), lat(y - buffer)
    return sum(west <= lon < east and south < la <= north for lon, la in _points(PUBLIC, 0))


# Rendered when asked, by both paths: (query, zoom, the public points a user sees)
RENDERED = [
    ({}, 15, public_points_in(15, buffer=80 / 4096)),  # beyond the stored zooms: part of them
    ({"month": "this"}, 15, public_points_in(15, buffer=80 / 4096)),  # a month beyond the stored zooms
    ({"month": "2020-01"}, 15, 0),  # a month without reports: empty
    ({"state": "forwarded"}, 12, PUBLIC),
    ({"state": "received"}, 12, 0),  # unchecked reports stay off the public map
    ({"start": "2020-01-01"}, 13, PUBLIC),
    ({"start": "2020-01-01", "end": "2020-12-31"}, 13, 0),
]


@pytest.mark.parametrize(("query", "z", "shown"), RENDERED)
def test_the_lean_path_renders_what_is_not_stored_as_django_does(stored, client, query, z, shown):
    query = {k: this_month() if v == "this" else v for k, v in query.items()}
    asked = [("GET", tile(z), query, {}), ("GET", tile(z), query, {"Accept-Encoding": "gzip"})]
    lean = lean_answers(asked)
    assert_same_answers(client, asked, lean)
    assert [fast.headers["X-Tile-Cache"] for fast in lean] == ["miss", "miss"]
    assert len(features(lean[0].raw)) == shown
    assert lean[0].status_code == (200 if shown else 204)


def test_a_capped_tile_rendered_on_the_lean_path_says_so(stored, client, settings):
    """More public points in the tile than the cap: the newest are shown, the tile says
    how many it holds (the header and its "capped" layer), as Django's path says."""
    settings.HEATMAP_TILE_MAX_POINTS = 10
    asked = [("GET", tile(15), {}, {})]
    lean = lean_answers(asked)
    assert_same_answers(client, asked, lean)
    inside = public_points_in(15)
    assert inside > 10
    assert lean[0].headers["X-Tile-Capped"] == f"10 of {inside}"
    layers = mapbox_vector_tile.decode(lean[0].raw)
    assert len(layers["reports"]["features"]) == 10
    assert layers["capped"]["features"][0]["properties"]["total"] == inside


HANDED_OVER = [
    # (method, path, query, headers, why)
    ("GET", tile(12), {"category": "do-thi-chieu-sang"}, {}, "a category: read from the database"),
    ("GET", tile(12), {"province": "22"}, {}, "a province: read from the database"),
    ("GET", tile(12), {"authority": "x"}, {}, "an authority: read from the database"),
    ("GET", tile(12), {"month": "2026-13"}, {}, "a bad month: Django's translated 400"),
    ("GET", tile(12), {"start": "2026-12-01", "end": "2026-11-01"}, {}, "a period backwards: Django's 400"),
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
    ("GET", "/tiles/reports/12/4096/1.pbf", {}, {}, "no such tile: Django's 400"),
    ("GET", "/tiles/reports/12/1/1.pbf/", {}, {}, "not the route"),
]


def test_the_lean_path_hands_to_django_what_it_must_not_answer(stored):
    lean = lean_answers([(m, path, q, h) for m, path, q, h, _why in HANDED_OVER])
    wrong = [why for (*_r, why), fast in zip(HANDED_OVER, lean, strict=True) if fast.status_code != 299]
    assert wrong == []


def test_a_tile_due_to_be_rendered_again_is_rendered_with_the_new_report_then_stored(stored, settings):
    """A new report marks its tiles due (a refresh of more changes than it renders
    itself); until the warm-up renders them, they are rendered when asked, with the new
    report on them; after it, the stored tile answers, with the new report."""
    settings.HEATMAP_ALL_TIME_RENDER_IN_REFRESH = 0
    before = lean_answers([("GET", tile(13), {}, {})])[0]
    assert before.headers["X-Tile-Cache"] == "stored" and len(features(before.raw)) == PUBLIC
    committed_call(lambda: insert_points(_points(1, 50), state="forwarded", created_at=timezone.now(),
                                         province_code="22"))
    committed_call(agg.refresh_incremental)
    due = lean_answers([("GET", tile(13), {}, {})])[0]
    assert due.headers["X-Tile-Cache"] == "miss" and len(features(due.raw)) == PUBLIC + 1
    from heatmaps import tiles

    committed_call(tiles.render_due_all_time_tiles)
    after = lean_answers([("GET", tile(13), {}, {})])[0]
    assert after.headers["X-Tile-Cache"] == "stored" and len(features(after.raw)) == PUBLIC + 1


def test_when_the_jurisdictions_must_be_read_again_django_answers_then_the_lean_path(stored, client):
    """The map's default place (the home country less other countries' jurisdictions) is
    read from the database and kept a minute in the process; the event loop may not
    read it (a 500 on the real server before this was handled): the first request after
    it expired goes to Django, which reads it again, and the next is answered lean."""
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


def test_a_tile_rendered_on_the_lean_path_is_shared_through_redis(stored, client, settings):
    """A tile one worker rendered on its event loop is another worker's Redis hit (here:
    the process's own copy forgotten, then Django's view), and the other way round."""
    import geo_portal.settings as project

    settings.CACHES = {"default": dict(project.CACHES["default"], KEY_PREFIX=f"lean-{timezone.now().timestamp()}")}
    tile_cache.forget()
    first = lean_answers([("GET", tile(15), {}, {})])[0]
    tile_cache.forget()  # another worker: nothing in its process
    full = client.get(tile(15))
    assert (first.headers["X-Tile-Cache"], full["X-Tile-Cache"]) == ("miss", "hit")
    assert full.content == first.raw
    other = tile(15, lon_lat=(HA_LONG[0] + 0.02, HA_LONG[1]))
    assert client.get(other)["X-Tile-Cache"] == "miss"
    tile_cache.forget()
    assert lean_answers([("GET", other, {}, {})])[0].headers["X-Tile-Cache"] == "hit"


def test_with_redis_down_the_lean_path_still_renders_the_tile(stored, settings, caplog):
    """A cache outage must not break the map: the tile is rendered and sent, the outage
    logged."""
    settings.CACHES = {"default": {"BACKEND": "geo_portal.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/1",
                                   "KEY_PREFIX": "down"}}
    tile_cache.forget()
    answer = lean_answers([("GET", tile(15), {}, {})])[0]
    assert (answer.status_code, answer.headers["X-Tile-Cache"]) == (200, "miss")
    assert len(features(answer.raw)) == public_points_in(15, buffer=80 / 4096)
    assert "tile cache unavailable" in caplog.text
