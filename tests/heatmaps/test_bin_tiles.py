"""Stored bin tiles (heatmaps.models.BinTile): the map's default view at z3-z9 (one month,
no other filter) is served from tiles the roll-up refresh rendered. Every count is checked
against the reports table itself, after each kind of change a refresh must carry into
the stored tiles."""

import datetime as dt
import gzip

import mapbox_vector_tile
import pytest
from django.db import connection
from django.utils import timezone

from heatmaps import aggregates as agg
from tests.heatmaps.conftest import insert_points
from tests.heatmaps.test_tiles import HA_LONG, tile_of

# Điện Biên Phủ and Hạ Long: 4.4 degrees apart, in one tile at z5 (11.25 degrees wide),
# in two at z6.
DIEN_BIEN_PHU = (103.0200, 21.3860)


def this_month():
    return timezone.localdate().replace(day=1)


def reports_in_tile(z, x, y, month, province=None, category=None):
    """Reports received in ``month`` (local) inside tile z/x/y, counted in the reports table."""
    start = dt.datetime.combine(month, dt.time(), tzinfo=agg.tz())
    end = dt.datetime.combine(agg.next_month(month), dt.time(), tzinfo=agg.tz())
    sql = """SELECT count(*) FROM reports_report r
             WHERE ST_Intersects(ST_Transform(r.location, 3857), ST_TileEnvelope(%s, %s, %s))
               AND r.created_at >= %s AND r.created_at < %s"""
    params = [z, x, y, start, end]
    if province:
        sql += " AND r.province_code = %s"
        params.append(province)
    if category:
        sql += " AND r.category_id = (SELECT id FROM reports_category WHERE code = %s)"
        params.append(category)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


def stored(z, x, y, month):
    with connection.cursor() as cur:
        cur.execute("SELECT data, n, provinces FROM heatmaps_bintile WHERE level = %s AND month = %s AND x = %s "
                    "AND y = %s", [z, month, x, y])
        return cur.fetchone()


def served(client, z, x, y, month, **params):
    query = "&".join([f"month={month:%Y-%m}"] + [f"{k}={v}" for k, v in params.items()])
    resp = client.get(f"/tiles/bins/{z}/{x}/{y}.pbf?{query}", HTTP_ACCEPT_ENCODING="gzip")
    if resp.status_code == 204:
        return b"", 0
    assert resp.status_code == 200, resp.content[:300]
    body = gzip.decompress(resp.content) if resp.get("Content-Encoding") == "gzip" else resp.content
    feats = mapbox_vector_tile.decode(body)["bins"]["features"]
    return body, sum(f["properties"]["n"] for f in feats)


@pytest.mark.parametrize("z", [3, 5, 7, 9])
def test_every_stored_tile_counts_the_reports_of_its_cells(synthetic, z):
    with connection.cursor() as cur:
        cur.execute("SELECT month, x, y, n FROM heatmaps_bintile WHERE level = %s", [z])
        rows = cur.fetchall()
    assert rows
    for month, x, y, n in rows:
        assert n == reports_in_tile(z, x, y, month) > 0, (z, x, y, month)
    with connection.cursor() as cur:
        cur.execute("SELECT count(DISTINCT date_trunc('month', created_at AT TIME ZONE %s)) FROM reports_report",
                    [agg.tz().key])
        months = cur.fetchone()[0]
    assert len({m for m, *_ in rows}) == months


def test_the_default_view_is_served_as_stored_and_filters_are_rendered(client, synthetic):
    month = this_month()
    x, y = tile_of(*HA_LONG, 7)
    insert_points([HA_LONG] * 3, created_at=timezone.now(), province_code="22")
    agg.refresh_incremental()
    data, n, provinces = stored(7, x, y, month)
    body, total = served(client, 7, x, y, month)
    assert body == bytes(data)  # the stored bytes, as they are
    assert total == n == reports_in_tile(7, x, y, month) >= 3
    assert provinces == ["22"]
    # A category filter is not stored: rendered from the grid roll-up, counted right.
    _body, lights = served(client, 7, x, y, month, category="do-thi-chieu-sang")
    assert lights == reports_in_tile(7, x, y, month, category="do-thi-chieu-sang") >= 3
    assert lights < total or reports_in_tile(7, x, y, month) == lights


# Each change a refresh must carry into the stored tile of its cells, and the reports
# of the tile after it (counted in the reports table by the test).
def _new_tile_of_its_own():
    # Cô Tô island, far from the synthetic points of the mainland at z9
    return insert_points([(107.7620, 20.9700)], created_at=timezone.now(), province_code="22")


def _deleted():
    ids = insert_points([HA_LONG], created_at=timezone.now(), province_code="22")
    agg.refresh_for_reports(ids)
    from reports.models import Report

    Report.objects.filter(pk__in=ids).delete()
    return ids


def _became_overdue():
    late = timezone.now() - dt.timedelta(hours=1)
    return insert_points([HA_LONG], state="forwarded", created_at=timezone.now(), province_code="22",
                         forward_due=late, resolve_due=late)


@pytest.mark.parametrize("change, point, overdue", [
    (_new_tile_of_its_own, (107.7620, 20.9700), 0),
    (_deleted, HA_LONG, 0),
    (_became_overdue, HA_LONG, 1),
])
def test_a_refresh_renders_the_tiles_it_changed_again(synthetic, change, point, overdue):
    month = this_month()
    z = 9
    x, y = tile_of(*point, z)
    before = stored(z, x, y, month)
    overdue_before = 0
    if before:
        feats = mapbox_vector_tile.decode(bytes(before[0]))["bins"]["features"]
        overdue_before = sum(f["properties"]["overdue"] for f in feats)
    ids = change()
    agg.refresh_months([(month, "22")])
    after = stored(z, x, y, month)
    expected = reports_in_tile(z, x, y, month)
    if expected == 0:
        assert after is None  # an empty tile is no row
        return
    assert after[1] == expected
    feats = mapbox_vector_tile.decode(bytes(after[0]))["bins"]["features"]
    assert sum(f["properties"]["n"] for f in feats) == expected
    assert sum(f["properties"]["overdue"] for f in feats) >= overdue_before + overdue
    assert ids


def test_a_tile_of_two_provinces_keeps_the_other_province_when_one_is_refreshed(client, synthetic):
    month = this_month()
    x, y = tile_of(*HA_LONG, 5)
    assert (x, y) == tile_of(*DIEN_BIEN_PHU, 5)
    insert_points([DIEN_BIEN_PHU] * 2, created_at=timezone.now(), province_code="11")
    insert_points([HA_LONG] * 4, created_at=timezone.now(), province_code="22")
    agg.refresh_months([(month, "11")])
    agg.refresh_months([(month, "22")])  # Quảng Ninh's refresh renders the shared tile again
    _data, n, provinces = stored(5, x, y, month)
    assert n == reports_in_tile(5, x, y, month)
    assert {"11", "22"} <= set(provinces)
    # One province's view of the shared tile is rendered (the stored one counts both).
    _body, only_22 = served(client, 5, x, y, month, province="22")
    assert only_22 == reports_in_tile(5, x, y, month, province="22") < n
