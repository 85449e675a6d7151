"""Point tiles: the cap takes the points inside the tile first and says so; the buffer
holds what it should; the server-side tile cache (hits, gzip, ETags, a new version,
never one viewer's tile for another)."""

import gzip
import math

import mapbox_vector_tile
import pytest
from django.contrib.auth import get_user_model

from heatmaps import aggregates as agg
from tests.heatmaps.conftest import insert_points

R = 6378137.0
HALF = math.pi * R
# An empty stretch of the East Sea (no synthetic report there): tile 14/13289/7793.
Z, X, Y = 14, 13289, 7793
SIZE = 2 * HALF / 2**Z
BUFFER_FRACTION = 80 / 4096  # the documented buffer: 80 of 4096 tile units (5 px of 256)


@pytest.fixture(autouse=True)
def _no_shared_cache(settings):
    """Overrides the heatmaps' dummy cache: these tests need the real one (Redis, in the
    test's own key namespace: tests/conftest.py). The refresh leaves the stored tiles of
    all time that its changes touched due, so that these tests' tiles are rendered and
    cached (a refresh of a few changes renders them itself by default:
    test_point_tiles_all_time.py)."""
    from heatmaps import tile_cache

    settings.HEATMAP_ALL_TIME_RENDER_IN_REFRESH = 0
    tile_cache.forget()


def lonlat(fx, fy):
    """The point at fraction (fx, fy) of tile Z/X/Y, measured from its north-west corner
    (fy grows southwards), in degrees."""
    mx = -HALF + (X + fx) * SIZE
    my = HALF - (Y + fy) * SIZE
    return math.degrees(mx / R), math.degrees(math.atan(math.sinh(my / R)))


def grid(n, x0=0.1, x1=0.9, fy=0.5):
    return [lonlat(x0 + (x1 - x0) * i / max(1, n - 1), fy) for i in range(n)]


def add(points, created_at, **kw):
    """Reports at these points, and the roll-up refresh the worker would run, committed
    as far as the tile cache can tell (its version is dropped on commit)."""
    from django.test import TestCase

    ids = insert_points(points, state=kw.pop("state", "forwarded"), created_at=created_at, **kw)
    with TestCase.captureOnCommitCallbacks(execute=True):
        agg.refresh_for_reports(ids)
    return ids


def features(resp, layer="reports"):
    return mapbox_vector_tile.decode(resp.content).get(layer, {"features": []})["features"]


def is_inside(feature):
    x, y = feature["geometry"]["coordinates"]
    return 0 <= x <= 4096 and 0 <= y <= 4096


URL = f"/tiles/reports/{Z}/{X}/{Y}.pbf"


@pytest.mark.parametrize(
    "inside, buffer, beyond, cap, expect_features, expect_capped",
    [
        # more points inside than the cap: only inside points, the newest; capped
        (25, 10, 4, 20, 20, "20 of 25"),
        # fewer inside than the cap: all of them first, then buffer points up to the cap
        (15, 10, 4, 20, 20, None),
        (5, 3, 4, 20, 8, None),
        # exactly the cap inside: not capped, no room left for the buffer
        (20, 6, 0, 20, 20, None),
    ],
)
def test_capped_tile_takes_the_points_inside_first_and_says_so(
        client, db, settings, inside, buffer, beyond, cap, expect_features, expect_capped):
    from django.utils import timezone

    settings.HEATMAP_TILE_MAX_POINTS = cap
    now = timezone.now()
    # The buffer points are the newest: newest-first alone would have taken them first.
    add(grid(inside), now - timezone.timedelta(days=2))
    add([lonlat(1 + BUFFER_FRACTION / 2, 0.1 + 0.8 * i / max(1, buffer - 1)) for i in range(buffer)],
        now - timezone.timedelta(hours=1))
    add([lonlat(1 + BUFFER_FRACTION * 3, 0.5)] * beyond, now)  # beyond the buffer: never in the tile
    resp = client.get(URL)
    feats = features(resp)
    assert len(feats) == expect_features
    flags = [is_inside(f) for f in feats]
    assert flags == sorted(flags, reverse=True), "every inside point comes before any buffer point"
    assert sum(flags) == min(inside, cap)
    assert all(f["geometry"]["coordinates"][0] <= 4096 + 80 for f in feats)
    assert resp.get("X-Tile-Capped") == expect_capped
    meta = features(resp, "capped")
    if expect_capped:
        assert [(m["properties"]["shown"], m["properties"]["total"]) for m in meta] == [(cap, inside)]
    else:
        assert meta == []


def test_second_request_is_served_from_the_cache_gzipped_with_etags(client, db, django_assert_max_num_queries):
    from django.utils import timezone

    add(grid(12), timezone.now())
    first = client.get(URL)
    assert first.status_code == 200 and first["X-Tile-Cache"] == "miss"
    # no tile query; at most the version, when its one-second copy in the cache expired
    with django_assert_max_num_queries(1) as queries:
        again = client.get(URL)
    assert not any("reportpoint" in q["sql"] for q in queries.captured_queries)
    assert again["X-Tile-Cache"] == "hit"
    assert again.content == first.content and again["ETag"] == first["ETag"]
    # a client that accepts gzip gets the stored gzip as it is
    zipped = client.get(URL, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert zipped["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped["Vary"]
    assert gzip.decompress(zipped.content) == first.content
    assert "Content-Encoding" not in client.get(URL, HTTP_ACCEPT_ENCODING="gzip;q=0, identity")
    # the ETag it was given: 304, no body
    not_modified = client.get(URL, HTTP_IF_NONE_MATCH=first["ETag"])
    assert not_modified.status_code == 304 and not_modified.content == b""
    # other parameters that do not change the tile share the entry
    assert client.get(URL + "?v=whatever&_=1").get("X-Tile-Cache") == "hit"


def test_a_new_report_gives_a_new_etag_and_the_new_point(client, db):
    from django.utils import timezone

    from reports.models import Report

    add(grid(3), timezone.now() - timezone.timedelta(days=1))
    before = client.get(URL)
    new_id = add([lonlat(0.5, 0.25)], timezone.now())[0]
    after = client.get(URL, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200 and after["X-Tile-Cache"] == "miss"
    assert after["ETag"] != before["ETag"]
    codes = {f["properties"]["code"] for f in features(after)}
    assert Report.objects.get(pk=new_id).code in codes and len(codes) == 4


def test_an_officers_tile_is_never_served_to_anonymous(client, db):
    from django.utils import timezone

    now = timezone.now()
    add(grid(4), now, province_code="22")  # public (forwarded)
    add([lonlat(0.5, 0.7)], now, state="received", province_code="22")  # unchecked: the desk's only
    desk = get_user_model().objects.get(username="+84900000001")  # the desk of province 22
    client.force_login(desk)
    staff = client.get(URL)
    assert len(features(staff)) == 5 and staff["Cache-Control"].startswith("private")
    client.logout()
    public = client.get(URL)
    assert public["X-Tile-Cache"] == "miss"
    assert len(features(public)) == 4
    assert {f["properties"]["state"] for f in features(public)} == {"forwarded"}
    # and the other way round: the anonymous entry is not the desk's
    client.force_login(desk)
    assert len(features(client.get(URL))) == 5


def test_warm_up_renders_the_busiest_tiles_for_anonymous_viewers(client, db, settings):
    from django.utils import timezone

    from heatmaps import tile_cache

    settings.HEATMAP_TILE_WARM_ZOOMS = [12, 14]
    add(grid(30), timezone.now())
    assert tile_cache.warm(max_tiles=10, max_seconds=30) > 0
    resp = client.get(URL)
    assert resp["X-Tile-Cache"] == "hit" and len(features(resp)) == 30
    parent = client.get(f"/tiles/reports/12/{X >> 2}/{Y >> 2}.pbf")
    assert parent["X-Tile-Cache"] == "hit" and len(features(parent)) == 30
    # a zoom the cache was not warmed for: its tile of all time as stored (the warm-up
    # rendered the tiles the refresh marked due first), no cache entry
    assert client.get(f"/tiles/reports/13/{X >> 1}/{Y >> 1}.pbf")["X-Tile-Cache"] == "stored"
    # and a view no stored tile answers is rendered on demand
    assert client.get(f"/tiles/reports/13/{X >> 1}/{Y >> 1}.pbf?state=open")["X-Tile-Cache"] == "miss"
