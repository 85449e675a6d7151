"""Vector tiles (Mapbox Vector Tile, ST_AsMVT).

Layers
    reports — report points at z >= HEATMAP_MAX_BIN_ZOOM + 1 (10): id, code, category
        (code), state, overdue (computed at request time). Read from the ReportPoint
        projection (EPSG:3857, spatially ordered per month, refreshed with the roll-ups:
        a new report shows up after the next refresh, ~30 s; the IOC wall's live feed
        uses server-sent events instead), matched on its GiST (geom, created_at) index
        with && ST_TileEnvelope. At most HEATMAP_TILE_MAX_POINTS points per tile
        (newest first) so no tile grows past a few hundred KB; the map always asks for
        a period (the time slider's month).
    bins — at z < 10, the grid roll-up's cells of level z (64 per tile side): n and
        overdue per cell. Never reads raw reports.
At z >= 10 the "bins" layer still answers (finest level cells), and "reports" at z < 10
returns bins under the name "bins": a client asking for the wrong layer still gets the
right kind of data for the zoom.

The connection has JIT and parallel workers off (settings). Placeholder points (City
Hall "not geocoded") are left out.
"""

from django.db import connection

from heatmaps import aggregates as agg
from heatmaps.aggregates import Filters
from reports import policy

EXTENT = 4096


def points_zoom():
    return agg.conf("HEATMAP_MAX_BIN_ZOOM") + 1


def valid_tile(z, x, y):
    return 0 <= z <= 22 and 0 <= x < 2**z and 0 <= y < 2**z


def point_tile(z, x, y, filters: Filters):
    where, params = filters.raw_sql("p")
    limit = int(agg.conf("HEATMAP_TILE_MAX_POINTS"))
    sql = f"""
    WITH env AS (SELECT ST_TileEnvelope(%s, %s, %s) AS e),
    pts AS (
        SELECT p.report_id, p.code, p.category, p.state, p.geom,
               coalesce({policy.overdue_sql('p')}, false) AS overdue
        FROM heatmaps_reportpoint p, env
        WHERE p.geom && env.e AND {where}
        ORDER BY p.created_at DESC
        LIMIT {limit}
    ),
    mvt AS (
        SELECT ST_AsMVTGeom(p.geom, env.e, {EXTENT}, 0, true) AS geom,
               p.report_id AS id, p.code, p.category, p.state, p.overdue
        FROM pts p, env
    )
    SELECT ST_AsMVT(mvt, 'reports', {EXTENT}, 'geom', 'id'), count(*) FROM mvt
    """
    with connection.cursor() as cur:
        cur.execute(sql, [z, x, y, *params])
        data, n = cur.fetchone()
    return bytes(data or b""), n


def bin_tile(z, x, y, filters: Filters):
    level = agg.level_for_zoom(z)
    cx0, cx1, cy0, cy1 = agg.cell_range_for_tile(z, x, y, level)
    s = agg.cell_size(level)
    o = agg.ORIGIN
    cells_sql, cells_params = agg.cells_query(level, cx0, cx1, cy0, cy1, filters)
    if level == z:
        # The cells are aligned to the tile: each is a square of EXTENT / B tile units.
        # Written directly in tile coordinates (y down; ST_Reverse makes the exterior
        # ring clockwise as MVT wants): no ST_AsMVTGeom clipping, ~4x cheaper.
        px = EXTENT // agg.conf("HEATMAP_BINS_PER_TILE")
        geom = (f"ST_Reverse(ST_MakeEnvelope((cx - {cx0}) * {px}, ({cy1} - cy) * {px}, "
                f"(cx - {cx0} + 1) * {px}, ({cy1} - cy + 1) * {px}))")
        env_params = []
    else:
        geom = (f"ST_AsMVTGeom(ST_MakeEnvelope({o!r} + cx * {s!r}, {o!r} + cy * {s!r}, {o!r} + (cx + 1) * {s!r}, "
                f"{o!r} + (cy + 1) * {s!r}, 3857), ST_TileEnvelope(%s, %s, %s), {EXTENT}, 0, true)")
        env_params = [z, x, y]
    sql = f"""
    WITH cells AS ({cells_sql}),
    mvt AS (SELECT {geom} AS geom, n, overdue FROM cells)
    SELECT ST_AsMVT(mvt, 'bins', {EXTENT}, 'geom'), coalesce(sum(n), 0) FROM mvt
    """
    with connection.cursor() as cur:
        cur.execute(sql, [*cells_params, *env_params])
        data, n = cur.fetchone()
    return bytes(data or b""), int(n)


def tile(layer, z, x, y, filters: Filters):
    """(bytes, feature-or-report count, layer actually served)."""
    if layer == "reports" and z >= points_zoom():
        data, n = point_tile(z, x, y, filters)
        return data, n, "reports"
    data, n = bin_tile(z, x, y, filters)
    return data, n, "bins"
