"""Vector tiles decode and hold exactly the reports (or the binned counts) of their area."""

import math
import re

import mapbox_vector_tile
import pytest
from django.db import connection

from heatmaps import aggregates as agg
from tests.heatmaps.conftest import HA_LONG, insert_points, raw_count


def tile_of(lon, lat, z):
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def inside(features, extent=4096):
    """The features inside the tile proper (a tile also carries the points of a buffer
    around it, tile coordinates beyond 0..extent)."""
    return [f for f in features
            if 0 <= f["geometry"]["coordinates"][0] <= extent and 0 <= f["geometry"]["coordinates"][1] <= extent]


def in_tile(z, x, y, states=None, or_province=None):
    """Reports in the tile (of ``states``; or of the province ``or_province``: a desk's view)."""
    cond = " AND (r.state = ANY(%s) OR r.province_code = %s)" if or_province else " AND r.state = ANY(%s)"
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM reports_report r WHERE r.location && ST_Transform(ST_TileEnvelope(%s, %s, %s), 4326)"
            + (cond if states else ""),
            [z, x, y] + ([list(states)] if states else []) + ([or_province] if or_province else []),
        )
        return cur.fetchone()[0]


def test_point_tile_has_every_report_of_the_tile_with_its_attributes(client, synthetic):
    ids = insert_points([(HA_LONG[0] + i * 1e-4, HA_LONG[1]) for i in range(5)], state="in_progress")
    agg.refresh_for_reports(ids)  # what the beat does within 30 s
    z = 12
    x, y = tile_of(*HA_LONG, z)
    resp = client.get(f"/tiles/reports/{z}/{x}/{y}.pbf")
    assert resp.status_code == 200
    assert resp["Content-Type"] == "application/vnd.mapbox-vector-tile"
    assert "max-age" in resp["Cache-Control"] and resp["ETag"]
    layer = mapbox_vector_tile.decode(resp.content)["reports"]
    # the public sees the reports the desk has let through; a reporter's unchecked
    # ("received") or rejected report is not on the public map
    from reports.policy import PUBLIC
    PUBLIC_STATES = PUBLIC.values

    assert len(inside(layer["features"])) == in_tile(z, x, y, PUBLIC_STATES) >= 5
    assert in_tile(z, x, y) > in_tile(z, x, y, PUBLIC_STATES)
    agg.refresh_for_reports(insert_points([(HA_LONG[0] + 1e-5, HA_LONG[1])], state="received"))
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username="+84900000001"))  # the desk of 22
    staff = client.get(f"/tiles/reports/{z}/{x}/{y}.pbf")
    assert staff["Cache-Control"].startswith("private") and resp["Cache-Control"].startswith("public")
    # The desk sees its province's reports in every state, elsewhere the public ones.
    desk_view = in_tile(z, x, y, PUBLIC_STATES, or_province="22")
    assert (len(inside(mapbox_vector_tile.decode(staff.content)["reports"]["features"]))
            == desk_view > in_tile(z, x, y, PUBLIC_STATES))
    props = {f["properties"]["code"]: f["properties"] for f in layer["features"]}
    from reports.models import Report

    mine = Report.objects.get(pk=ids[0])
    assert props[mine.code]["category"] == "do-thi-chieu-sang"
    assert props[mine.code]["state"] == "in_progress"
    assert props[mine.code]["overdue"] is False


def test_bins_tile_counts_come_from_the_rollup(client, synthetic):
    z = 7
    x, y = tile_of(*HA_LONG, z)
    resp = client.get(f"/tiles/bins/{z}/{x}/{y}.pbf")
    assert resp.status_code == 200
    feats = mapbox_vector_tile.decode(resp.content)["bins"]["features"]
    assert sum(f["properties"]["n"] for f in feats) == in_tile(z, x, y) > 0
    # the reports layer at a low zoom answers with bins, never thousands of points
    resp = client.get(f"/tiles/reports/{z}/{x}/{y}.pbf")
    assert resp["X-Tile-Layer"] == "bins"


def test_tile_cache_headers_version_etag_and_empty_tiles(client, synthetic):
    z = 12
    x, y = tile_of(*HA_LONG, z)
    version = agg.data_version()
    resp = client.get(f"/tiles/reports/{z}/{x}/{y}.pbf?v={version}")
    assert resp["Cache-Control"] == "public, max-age=86400"
    again = client.get(f"/tiles/reports/{z}/{x}/{y}.pbf?v={version}", HTTP_IF_NONE_MATCH=resp["ETag"])
    assert again.status_code == 304
    agg.refresh_for_reports(insert_points([HA_LONG], state="forwarded"))
    # a new report (after the refresh that puts it on the map) changes the version and
    # the tile: the old URL's ETag no longer matches
    assert agg.data_version() != version
    fresh = client.get(f"/tiles/reports/{z}/{x}/{y}.pbf?v={version}", HTTP_IF_NONE_MATCH=resp["ETag"])
    assert fresh.status_code == 200
    assert "must-revalidate" in fresh["Cache-Control"]
    # the middle of the Pacific
    ox, oy = tile_of(-150.0, 0.0, 12)
    assert client.get(f"/tiles/reports/12/{ox}/{oy}.pbf").status_code == 204
    assert client.get("/tiles/reports/3/99/0.pbf").status_code == 400
    assert client.get("/tiles/reports/12/1/1.pbf?month=2025-13").json()["errors"]["month"]


def test_point_tile_filters(client, synthetic):
    z = 10
    x, y = tile_of(*HA_LONG, z)
    resp = client.get(f"/tiles/reports/{z}/{x}/{y}.pbf?category=dien&state=open")
    feats = mapbox_vector_tile.decode(resp.content).get("reports", {"features": []})["features"]
    assert {f["properties"]["category"] for f in feats} <= {"dien-mat-dien", "dien-cot-day"}
    assert {f["properties"]["state"] for f in feats} <= {"received", "forwarded", "accepted", "in_progress", "reopened"}
    assert len(inside(feats)) == raw_count(
        """r.location && ST_Transform(ST_TileEnvelope(%s, %s, %s), 4326) AND r.state = ANY(%s)
           AND r.category_id IN (SELECT c.id FROM reports_category c LEFT JOIN reports_category g ON g.id = c.parent_id
                                 WHERE 'dien' IN (c.code, g.code))""",
        [z, x, y, ["received", "forwarded", "accepted", "in_progress", "reopened"]],
    )


# Which index reads a tile's points, by the view's filter (EXPLAIN, no timing; the
# projection filled to a real size: on a few rows the planner's choice is a coin toss).
# A category leads to its own R-tree, and the open reports have their own index, so the
# tile reads only the points it draws; through (geom, created_at) it read every point of
# its box and kept the few that matched, growing with every report of the place.
# Anything else keeps (geom, created_at).
@pytest.mark.parametrize("filters, index", [
    ({}, "heat_point_geom_created"),
    ({"month": "2026-11"}, "heat_point_geom_created"),
    ({"category_ids": [7]}, "heat_point_category_geom"),
    ({"category_ids": [7], "states": ["closed"]}, "heat_point_category_geom"),
    ({"states": ["received", "reopened", "forwarded", "accepted", "in_progress"]}, "heat_point_open_geom"),
    ({"states": ["received"]}, "heat_point_open_geom"),
    ({"states": ["closed", "rated"]}, "heat_point_geom_created"),
])
def test_a_filtered_views_tile_reads_its_own_points(db, filters, index):
    import datetime as dt

    from heatmaps import tiles
    from heatmaps.aggregates import Filters

    if "month" in filters:
        filters = {"start": dt.date(2026, 11, 1), "end": dt.date(2026, 11, 30)}
    with connection.cursor() as cur:
        # 200,000 points around Hạ Long over 5 years, 20 categories, 8 states
        cur.execute("""
            INSERT INTO heatmaps_reportpoint (report_id, month, created_at, geom, code, category, category_id, state,
                                              province_code)
            SELECT i, date_trunc('month', at)::date, at,
                   ST_Transform(ST_SetSRID(ST_MakePoint(106.9 + random() * 0.4, 20.8 + random() * 0.3), 4326), 3857),
                   'T-' || i, 'c' || i % 20, i % 20,
                   (ARRAY['received', 'forwarded', 'in_progress', 'published', 'resolved', 'closed', 'rated',
                          'rejected'])[1 + i % 8], '22'
            FROM generate_series(1, 200000) i, LATERAL (SELECT now() - (i % 1800) * interval '1 day' AS at) t""")
        cur.execute("ANALYZE heatmaps_reportpoint")
    sql, params = tiles.point_tile_sql(10, 816, 451, Filters(**filters))
    plan = generic_plan(sql, params)
    # the points inside the tile (the first scan of the plan; the buffer's strips follow)
    first = re.search(r"(?:Index|Bitmap Index) Scan (?:using |on )(\w+)", plan)
    assert first and first.group(1) == index, plan


def generic_plan(sql, params):
    """The plan a tile's statement runs with: prepared as tiles.point_tile prepares it
    (server-side parameters; the connection's plan_cache_mode=force_generic_plan), then
    EXPLAIN EXECUTE of that statement: what the planner knows without the values."""
    import psycopg
    from psycopg import sql as psql

    from geo_portal.db import prepared_raw_connection

    raw = prepared_raw_connection()
    with psycopg.Cursor(raw) as cur:
        cur.execute(sql, params, prepare=True)
        cur.execute("SELECT name FROM pg_prepared_statements ORDER BY prepare_time DESC LIMIT 1", prepare=False)
        name = cur.fetchone()[0]
        values = psql.SQL(", ").join(psql.Literal(p) for p in params)
        cur.execute(psql.SQL("EXPLAIN EXECUTE {}({})").format(psql.Identifier(name), values), prepare=False)
        return "\n".join(r[0] for r in cur.fetchall())
