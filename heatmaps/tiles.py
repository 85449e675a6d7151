"""Vector tiles (Mapbox Vector Tile, ST_AsMVT).

Layers
    reports — report points at z >= HEATMAP_MAX_BIN_ZOOM + 1 (10): id, code, category
        (code), state, overdue (computed at request time). Read from the ReportPoint
        projection (EPSG:3857, spatially ordered per month, refreshed with the roll-ups:
        a new report shows up after the next refresh, ~30 s; the IOC wall's live feed
        uses server-sent events instead), matched on its GiST (geom, created_at) index
        with && ST_TileEnvelope. A tile also holds the points of a BUFFER (80 of 4096
        tile units, 5 px of a 256-px tile) around it, so that a point's circle drawn at
        a tile's edge is whole in both tiles; nothing beyond the buffer. At most
        HEATMAP_TILE_MAX_POINTS points per tile so no tile grows past a few hundred KB:
        the points inside the tile first (newest first), then the buffer's; a tile with
        more points inside than that carries a "capped" layer (shown, total) and the
        view says ``X-Tile-Capped: 10000 of 12041``. The map asks for a period (the
        time slider's month) or all time.
    bins — at z < 10, the grid roll-up's cells of level z (64 per tile side): n and
        overdue per cell. Never reads raw reports. The map's default view (one month, no
        other filter) at z3-z9 is served as the refresh stored it (heatmaps.models.BinTile,
        store_bin_tiles): its time does not grow with the reports; other views are
        rendered from the grid roll-up at request time (all time: from its sums over the
        months, GridCellTotal or GridTotal, aggregates.grid_table).
Stored point tiles: a month of the map (exactly one calendar month, no other filter) at
HEATMAP_STORED_POINT_ZOOMS (z10-z13) is rendered by the refresh too, for staff who see
everything and for the public (heatmaps.models.PointTile, store_point_tiles), kept as
the gzip the view sends; other viewers and views are rendered when asked.
At z >= 10 the "bins" layer still answers (finest level cells), and "reports" at z < 10
returns bins under the name "bins": a client asking for the wrong layer still gets the
right kind of data for the zoom.

The connection has JIT and parallel workers off (settings). Placeholder points (City
Hall "not geocoded") are left out. Finished tiles are cached by heatmaps.tile_cache.
"""

import gzip
import time
import weakref

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from geo_portal.db import prepared_raw_connection
from heatmaps import aggregates as agg
from heatmaps.aggregates import Filters
from reports import policy

EXTENT = 4096
# Points this close outside the tile (tile units; 80 = 5 px of a 256-px tile) are in it
# too: the map draws a point as a 4-px circle with a 1-px outline, and a tile only
# draws what it holds, so a point just beyond the edge would show a cut circle there.
BUFFER = 80
TILE_WORK_MEM = "64MB"


def points_zoom():
    return agg.conf("HEATMAP_MAX_BIN_ZOOM") + 1


def valid_tile(z, x, y):
    return 0 <= z <= 22 and 0 <= x < 2**z and 0 <= y < 2**z


def point_tile(z, x, y, filters: Filters):
    """(MVT bytes, features, points inside the tile) of the "reports" layer.

    The points of the tile and of its buffer (BUFFER tile units around it) that match
    the filters; inside the tile first, newest first (then the higher report id), at
    most HEATMAP_TILE_MAX_POINTS; then the buffer's, newest first, as many as the cap
    leaves room for. "Inside" is
    half-open (x in [xmin, xmax), y in (ymin, ymax]) so that a point on a shared edge
    belongs to exactly one tile. When the tile holds more points than the cap, a second
    layer "capped" carries one feature with ``shown`` and ``total`` (the points inside
    the tile) for the map to say so."""
    sql, params = point_tile_sql(z, x, y, filters)
    # The newest 10,000 of a busy tile are a top-N sort of every point inside it: in
    # memory with 64 MB (with the default 4 MB it spilled to disk). Only for this
    # statement (SET LOCAL, in its transaction). Prepared (planned once per connection:
    # the plan took 0.6-0.7 ms of a small tile's 2-3 ms) and read in binary (the MVT as
    # bytes, not as hex text decoded again in Python).
    with transaction.atomic(), connection.wrap_database_errors:
        with psycopg.Cursor(prepared_raw_connection()) as cur:
            cur.execute(SET_TILE_WORK_MEM, prepare=False)
            cur.execute(sql, params, binary=True, prepare=True)
            return _point_tile_of_row(cur.fetchone())


async def apoint_tile(conn, z, x, y, filters: Filters):
    """point_tile on an asynchronous connection in autocommit (the lean ASGI path of
    tiles: heatmaps/tiles_lean.py): the same statement, prepared on that connection.
    Its work_mem is set once for the connection's session instead of around each tile
    (BEGIN, SET LOCAL, COMMIT: three statements more per tile, a third of the Python
    time of a small tile's render); the pool's other statement, the point lookup, sorts
    nothing large, and work_mem is only a ceiling."""
    sql, params = point_tile_sql(z, x, y, filters)
    if conn not in _tile_work_mem_set:
        await conn.execute(f"SET work_mem = '{TILE_WORK_MEM}'", prepare=False)
        _tile_work_mem_set.add(conn)
    async with conn.cursor(binary=True) as cur:
        await cur.execute(sql, params, prepare=True)
        return _point_tile_of_row(await cur.fetchone())


_tile_work_mem_set = weakref.WeakSet()  # the asynchronous connections whose work_mem is TILE_WORK_MEM
SET_TILE_WORK_MEM = f"SET LOCAL work_mem = '{TILE_WORK_MEM}'"


def _point_tile_of_row(row):
    data, n, inside = row
    return bytes(data or b""), n, int(inside or 0)


def point_tile_sql(z, x, y, filters: Filters):
    """The point tile's query and parameters: MVT bytes, features, points inside.

    Where the time of a busy tile went (EXPLAIN ANALYZE, 70,000 points inside a z10
    tile, 1.45 s): the tile's bounds were computed again for every row (ST_XMin of the
    envelope, inlined by the planner), ST_X / ST_Y read every point's geometry four
    times, and a window counted the points inside over all the rows before the sort.
    Now the bounds are computed once (MATERIALIZED), x and y are plain columns, the
    points inside and those of the buffer are two queries that each stop at what the
    cap leaves, the buffer's are read from its four strips only (not the whole box
    again), the points inside are counted only when the cap is reached (the CASE runs
    that sub-query only then), and a point's tile coordinates are computed directly
    (ST_AsMVTGeom's clipping and snapping, for a point known to be in the box, is the
    same affine map rounded to the integer grid): 0.31 s for that tile."""
    where, params = filters.raw_sql("p")
    limit = int(agg.conf("HEATMAP_TILE_MAX_POINTS"))
    is_inside, in_box = inside_sql("p", "t"), in_box_sql("p", "t")
    columns = ("p.report_id, p.code, p.category, p.state, p.x, p.y, p.created_at, p.forward_due, "
               "p.resolve_due")
    sql = f"""
    WITH t AS MATERIALIZED (
        SELECT *,
               ST_MakeEnvelope(bx0, by0, x0, by1, 3857) AS west, ST_MakeEnvelope(x1, by0, bx1, by1, 3857) AS east,
               ST_MakeEnvelope(x0, by0, x1, y0, 3857) AS south, ST_MakeEnvelope(x0, y1, x1, by1, 3857) AS north
        FROM ({tile_bounds_sql("%s", "%s", "%s")}) bounds
    ),
    inside AS MATERIALIZED (
        SELECT {columns} FROM heatmaps_reportpoint p, t
        WHERE p.geom && t.e AND {is_inside} AND {where}
        ORDER BY p.created_at DESC, p.report_id DESC LIMIT {limit}
    ),
    shown AS MATERIALIZED (SELECT count(*) AS n FROM inside),
    rim AS (
        SELECT {columns} FROM heatmaps_reportpoint p, t
        WHERE (p.geom && t.west OR p.geom && t.east OR p.geom && t.south OR p.geom && t.north)
          AND {in_box} AND NOT ({is_inside}) AND {where}
        ORDER BY p.created_at DESC, p.report_id DESC LIMIT {limit} - (SELECT n FROM shown)
    ),
    kept AS (SELECT * FROM inside UNION ALL SELECT * FROM rim),
    mvt AS (
        SELECT {point_geom_sql("k", "t")} AS geom,
               k.report_id AS id, k.code, k.category, k.state, coalesce({policy.overdue_sql('k')}, false) AS overdue
        FROM kept k, t
    )
    SELECT CASE WHEN r.inside > {limit}
                THEN coalesce(r.data, ''::bytea) || {capped_layer_sql(limit, "r.inside", "%s", "%s", "%s")}
                ELSE r.data END,
           r.n, r.inside
    FROM (
        SELECT ST_AsMVT(mvt, 'reports', {EXTENT}, 'geom', 'id') AS data, count(*) AS n,
               CASE WHEN (SELECT n FROM shown) < {limit} THEN (SELECT n FROM shown)
                    ELSE (SELECT count(*) FROM heatmaps_reportpoint p, t
                          WHERE p.geom && t.e AND {is_inside} AND {where})
               END AS inside
        FROM mvt
    ) r
    """
    return sql, [z, x, y, z, x, y, *params, *params, z, x, y, *params]


# The parts of a point tile's query that the stored render (_render_point_tiles_sql)
# uses too: the tile's exact bounds, which points are inside or in the buffer, and a
# point's tile coordinates. ``p``: the points' alias (columns x, y); ``t``: the bounds'.


def tile_bounds_sql(z, x, y):
    """SELECT of one row: the tile envelope ``e`` and the buffered one ``b`` (BUFFER tile
    units around it), with their bounds x0 x1 y0 y1 and bx0 bx1 by0 by1. ``z``, ``x``,
    ``y``: SQL (placeholders or columns)."""
    return f"""SELECT e, b, ST_XMin(e) AS x0, ST_XMax(e) AS x1, ST_YMin(e) AS y0, ST_YMax(e) AS y1,
                      ST_XMin(b) AS bx0, ST_XMax(b) AS bx1, ST_YMin(b) AS by0, ST_YMax(b) AS by1
               FROM (SELECT ST_TileEnvelope({z}, {x}, {y}) AS e,
                            ST_TileEnvelope({z}, {x}, {y}, margin => {BUFFER / EXTENT!r}) AS b) env"""


def inside_sql(p, t):
    # && alone compares float4 boxes (a point up to ~1 m outside passes): the exact
    # bounds make "beyond the buffer" never, and "inside" exact (half-open: a point on
    # a shared edge is inside one tile).
    return f"{p}.x >= {t}.x0 AND {p}.x < {t}.x1 AND {p}.y > {t}.y0 AND {p}.y <= {t}.y1"


def in_box_sql(p, t):
    return f"{p}.x BETWEEN {t}.bx0 AND {t}.bx1 AND {p}.y BETWEEN {t}.by0 AND {t}.by1"


def point_geom_sql(p, t):
    """A point's position in tile coordinates (y down), computed directly: for a point
    known to be in the box, ST_AsMVTGeom's clipping and snapping is this affine map
    rounded to the integer grid."""
    return (f"ST_Point(round(({p}.x - {t}.x0) * {EXTENT} / ({t}.x1 - {t}.x0)), "
            f"round(({t}.y1 - {p}.y) * {EXTENT} / ({t}.y1 - {t}.y0)))")


def capped_layer_sql(shown, total, z, x, y):
    """The "capped" layer as an SQL expression of SQL expressions: one point at the
    tile's centre whose properties say that tile z/x/y shows ``shown`` of its ``total``
    points (the map shows a notice, draws nothing)."""
    return f"""(SELECT ST_AsMVT(m, 'capped', {EXTENT}, 'geom') FROM (
                   SELECT ST_Point({EXTENT // 2}, {EXTENT // 2}) AS geom, true AS capped,
                          ({shown})::int AS shown, ({total})::int AS total, ({z})::int AS z, ({x})::int AS x,
                          ({y})::int AS y) m)"""


def aligned_cell_geom_sql(cx0, cy1):
    """A cell of level z in tile z/x/y as a polygon in tile coordinates: each cell is a
    square of EXTENT / B tile units, written directly (y down; ST_Reverse makes the
    exterior ring clockwise as MVT wants): no ST_AsMVTGeom clipping, ~4x cheaper.
    ``cx0`` / ``cy1``: SQL for the tile's first cx and last cy (numbers or columns); the
    row's own ``cx`` and ``cy`` are read."""
    px = EXTENT // agg.conf("HEATMAP_BINS_PER_TILE")
    return (f"ST_Reverse(ST_MakeEnvelope((cx - {cx0}) * {px}, ({cy1} - cy) * {px}, "
            f"(cx - {cx0} + 1) * {px}, ({cy1} - cy + 1) * {px}))")


def bin_tile(z, x, y, filters: Filters):
    level = agg.level_for_zoom(z)
    cx0, cx1, cy0, cy1 = agg.cell_range_for_tile(z, x, y, level)
    s = agg.cell_size(level)
    o = agg.ORIGIN
    cells_sql, cells_params = agg.cells_query(level, cx0, cx1, cy0, cy1, filters)
    if level == z:
        geom = aligned_cell_geom_sql(cx0, cy1)
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


# --- stored bin tiles (heatmaps.models.BinTile) --------------------------------------


def stored_month(z, filters: Filters):
    """The month whose stored bin tile answers ``filters`` at zoom ``z``, or None: z is a
    bin level (cells aligned to the tile), the period is within one month and nothing
    else is filtered but provinces (checked against the tile's own provinces by
    stored_bin_tile)."""
    if z not in agg.bin_levels():
        return None
    return filters.one_month() if filters.by_time_and_place_only() else None


def stored_bin_tile(z, x, y, filters: Filters):
    """(MVT bytes, reports counted) from the stored tiles, or None when the view is not
    one they answer (stored_month) or the tile holds a province the view leaves out."""
    month = stored_month(z, filters)
    if month is None:
        return None
    with connection.cursor() as cur:
        cur.execute("SELECT data, n, provinces FROM heatmaps_bintile WHERE level = %s AND month = %s AND x = %s "
                    "AND y = %s", [z, month, x, y])
        row = cur.fetchone()
    if row is None:
        return b"", 0
    data, n, provinces = row
    if not all(filters.counts_province(code) for code in provinces):
        return None
    return bytes(data), int(n)


def _render_bin_tiles_sql(tiles_join=""):
    """INSERT of the stored tiles; ``tiles_join`` limits it to the tiles of a work table
    ``a`` (level, month, tx, tcy: the tile's column and row of cells, counted from the
    south as cy is). The cells of each tile summed over categories, states and provinces,
    then one ST_AsMVT per tile (GROUP BY: the row type heatmaps_bin_feature gives the
    layer exactly bin_tile's attributes)."""
    B = agg.conf("HEATMAP_BINS_PER_TILE")
    geom = aligned_cell_geom_sql(f"tx * {B}", f"(tcy * {B} + {B - 1})")
    return f"""
    INSERT INTO heatmaps_bintile (level, month, x, y, data, n, provinces)
    SELECT level, month, tx, (1 << level) - 1 - tcy,
           ST_AsMVT(ROW({geom}, n, overdue)::heatmaps_bin_feature, 'bins', {EXTENT}, 'geom'), sum(n),
           -- the cells' province lists joined and split again: arrays of unequal length
           -- cannot be aggregated; regexp_split keeps a blank code ('' splits to {''})
           ARRAY(SELECT DISTINCT p FROM unnest(regexp_split_to_array(string_agg(provinces, ','), ',')) p ORDER BY p)
    FROM (SELECT g.level, g.month, g.cx, g.cy, div(g.cx, {B}) AS tx, div(g.cy, {B}) AS tcy,
                 sum(g.n)::int AS n, sum(g.overdue)::int AS overdue,
                 string_agg(DISTINCT g.province_code, ',') AS provinces
          FROM heatmaps_gridrollup g {tiles_join}
          WHERE g.level = ANY(%(levels)s)
          GROUP BY g.level, g.month, g.cx, g.cy) cells
    GROUP BY level, month, tx, tcy
    """


def store_all_bin_tiles():
    """Render every stored tile again from the grid roll-up (refresh_all)."""
    with connection.cursor() as cur:
        cur.execute("DELETE FROM heatmaps_bintile")  # not TRUNCATE: readers keep the old ones meanwhile
        cur.execute(_render_bin_tiles_sql(), {"levels": agg.bin_levels()})


def touched_tiles_sql(alias, months, provinces, whole):
    """WHERE fragment and parameters: the stored tiles (alias, with month and provinces)
    that a refresh of (month, province) pairs — ``months`` and ``provinces`` two lists —
    and of ``whole`` months must render again: a refreshed province in that month, or
    any in a whole month."""
    return (f"""{alias}.month = ANY(%s::date[])
                AND ({alias}.month = ANY(%s::date[])
                     OR EXISTS (SELECT 1 FROM unnest(%s::date[], %s::text[]) p(month, province)
                                WHERE p.month = {alias}.month AND p.province = ANY({alias}.provinces)))""",
            [sorted({*months, *whole}), whole, months, provinces])


def store_bin_tiles(cur, stage, months, provinces, whole):
    """Within a refresh of (month, province) pairs (aggregates.refresh_months, its cursor
    and transaction; ``months`` and ``provinces`` two lists, ``whole`` months of every
    province): ``stage`` "before" notes the stored tiles of a whole month; "after" adds
    the tiles of the grid's cells whose rows the refresh changed (``_grid_changed``,
    aggregates._write_grid_changes: rows that went or came, counts included), deletes
    the noted tiles and renders them again from every province's cells. A tile none of
    whose cells changed stays as it is.

    One refresh at a time renders (a transaction-scoped advisory lock): two refreshes of
    neighbouring provinces may share a tile, and after the lock the render sees the
    other's committed cells."""
    B = agg.conf("HEATMAP_BINS_PER_TILE")
    if stage == "before":
        cur.execute("DROP TABLE IF EXISTS _bin_tiles_to_render")
        cur.execute("CREATE TEMP TABLE _bin_tiles_to_render (level smallint, month date, tx int, tcy int, "
                    "PRIMARY KEY (level, month, tx, tcy)) ON COMMIT DROP")
        cur.execute("INSERT INTO _bin_tiles_to_render SELECT b.level, b.month, b.x, (1 << b.level) - 1 - b.y "
                    "FROM heatmaps_bintile b WHERE b.month = ANY(%s::date[])", [whole])
        return
    cur.execute(f"""INSERT INTO _bin_tiles_to_render
                    SELECT DISTINCT g.level, g.month, div(g.cx, {B}), div(g.cy, {B}) FROM _grid_changed g
                    WHERE g.level = ANY(%(levels)s)
                    ON CONFLICT DO NOTHING""", {"levels": agg.bin_levels()})
    cur.execute("SELECT pg_advisory_xact_lock(hashtext('heatmaps_bintile'))")
    cur.execute("""DELETE FROM heatmaps_bintile b USING _bin_tiles_to_render a
                   WHERE b.level = a.level AND b.month = a.month AND b.x = a.tx
                     AND b.y = (1 << a.level) - 1 - a.tcy""")
    join = (f"JOIN _bin_tiles_to_render a ON a.level = g.level AND a.month = g.month "
            f"AND g.cx BETWEEN a.tx * {B} AND a.tx * {B} + {B - 1} "
            f"AND g.cy BETWEEN a.tcy * {B} AND a.tcy * {B} + {B - 1}")
    cur.execute(_render_bin_tiles_sql(join), {"levels": agg.bin_levels()})
    cur.execute("DROP TABLE _bin_tiles_to_render")


# --- stored point tiles (heatmaps.models.PointTile) ----------------------------------

AUDIENCES = ("all", "public")


ALL_TIME = "all time"


def stored_point_month(z, filters: Filters):
    """The month whose stored point tiles answer ``filters`` at zoom ``z`` (ALL_TIME: the
    tiles of all time), or None: nothing is filtered but the period and provinces
    (checked against the tile's own provinces), and the period is exactly one calendar
    month with z one of HEATMAP_STORED_POINT_ZOOMS, or all time with z one of
    HEATMAP_STORED_ALL_TIME_ZOOMS."""
    if not filters.by_time_and_place_only():
        return None
    if filters.start is None and filters.end is None:
        return ALL_TIME if z in agg.conf("HEATMAP_STORED_ALL_TIME_ZOOMS") else None
    return filters.whole_month() if z in agg.conf("HEATMAP_STORED_POINT_ZOOMS") else None


# stored_audience before a tile's provinces are known: they decide (a province's staff)
BY_PROVINCES = "by provinces"


def scope_audience(scope):
    """stored_audience as far as ``scope`` alone decides it: "all", "public", None, or
    BY_PROVINCES when the tile's provinces decide."""
    if scope is None or scope.everything:
        return "all"
    if scope.authorities or scope.reporter_id is not None:
        return None
    return "public" if not scope.provinces else BY_PROVINCES


def stored_audience(scope, provinces):
    """Which stored tile shows what ``scope`` (reports.policy.access.Scope, None: no
    limit) may see of a tile whose points are of ``provinces``: "all", "public", or None
    when neither is exactly it (an officer's authority, a reporter's own reports, a
    province's staff over a tile shared with another province)."""
    audience = scope_audience(scope)
    if audience != BY_PROVINCES:
        return audience
    if set(provinces) <= set(scope.provinces):
        return "all"  # every point of the tile is of their provinces: they see all
    if not set(provinces) & set(scope.provinces):
        return "public"
    return None


def stored_point_tile(z, x, y, filters: Filters):
    """(the tile's gzip, features, points inside) from the stored tiles, or None when the
    view is not one they answer (stored_point_month, stored_audience, a province of the
    tile left out of the view)."""
    query = stored_point_tile_query(z, x, y, filters)
    return None if query is None else stored_point_tile_of_rows(fetch_binary(*query), filters)


async def astored_point_tile(connect, z, x, y, filters: Filters):
    """stored_point_tile on an asynchronous connection taken with ``connect()`` (the lean
    ASGI path of tiles: heatmaps/tiles_lean.py) only when a stored tile may answer the
    view: the same query, the same rows, the same answer."""
    query = stored_point_tile_query(z, x, y, filters)
    if query is None:
        return None
    async with connect() as conn, conn.cursor(binary=True) as cur:
        await cur.execute(*query, prepare=True)  # as fetch_binary
        rows = await cur.fetchall()
    return stored_point_tile_of_rows(rows, filters)


def stored_point_tile_query(z, x, y, filters: Filters):
    """(sql, params) reading the stored rows of the tile that may answer the view, or None
    when no stored tile can (stored_point_month, scope_audience)."""
    month = stored_point_month(z, filters)
    if month is None:
        return None
    # Only the data of the audience served is read (a busy tile's gzip is 60-160 KB a
    # row): known before the tile's provinces are, unless a province's staff ask.
    known = scope_audience(filters.scope)
    if known is None:
        return None
    if known == BY_PROVINCES:
        known = None  # both rows' data
    columns = "t.audience, t.data IS NULL, CASE WHEN %s::text IS NULL OR t.audience = %s THEN t.data END, " \
              "t.n, t.inside, t.provinces"
    # No row is no point only at a complete zoom (else the tile is rendered); one row of
    # NULLs when the tile has none.
    if month != ALL_TIME:
        return (f"SELECT {columns}, %s = ANY(s.month_tile_zooms) FROM heatmaps_refreshstate s "
                "LEFT JOIN heatmaps_pointtile t ON t.month = %s AND t.z = %s AND t.x = %s AND t.y = %s "
                "WHERE s.name = 'default'", [known, known, z, month, z, x, y])
    return (f"SELECT {columns}, %s = ANY(s.all_time_tile_zooms) FROM heatmaps_refreshstate s "
            "LEFT JOIN heatmaps_pointtile t ON t.month IS NULL AND t.z = %s AND t.x = %s AND t.y = %s "
            "WHERE s.name = 'default'", [known, known, z, z, x, y])


def stored_point_tile_of_rows(rows, filters: Filters):
    """stored_point_tile's answer from the rows of stored_point_tile_query."""
    complete = any(row[-1] for row in rows)
    rows = {audience: rest[:-1] for audience, *rest in rows if audience is not None}
    every = rows.get("all")
    if every is None:
        # no point in the tile or its buffer; or not stored yet (before the zoom's first
        # full render)
        return (b"", 0, 0) if complete else None
    if every[0]:
        return None  # due (a tile of all time)
    audience = stored_audience(filters.scope, every[4])
    if audience is None:
        return None
    if audience not in rows:
        return b"", 0, 0
    due, data, n, inside, provinces = rows[audience]
    if due:
        return None  # due to be rendered again
    if not all(filters.counts_province(code) for code in provinces):
        return None
    return bytes(data), n, inside


def fetch_binary(sql, params):
    """The rows of a query in PostgreSQL's binary format, on Django's connection (and
    transaction), the statement prepared. Django's psycopg cursors bind parameters
    client-side, and those results come as text: a bytea as hex, twice its size, decoded
    again in Python — for a stored tile of 200 KB that was most of its time. Prepared
    (planned once per connection, as the render is): the stored tile's query took
    0.27-0.37 ms a tile unprepared, 0.18-0.25 ms prepared (national 1 M, 3,000 busiest
    tiles of each of z12-z14, in process)."""
    with psycopg.Cursor(prepared_raw_connection()) as cur:
        cur.execute(sql, params, binary=True, prepare=True)
        return cur.fetchall()


def _point_tiles_of_points_sql(where, points="heatmaps_reportpoint", all_time=False):
    """SELECT of the (z, month, x, y) of the stored zooms whose tile or buffer may hold a
    point of ``points`` (heatmaps_reportpoint, or a table of its month, x and y) aliased
    ``p`` matching ``where``: the tiles at the point's position give or take the buffer
    (a little wider, so that none is missed; the render applies the exact bounds).
    ``all_time``: the tiles of all time (month NULL) at their zooms instead."""
    half = agg.WORLD / 2
    # the buffer as a share of a tile's width, widened by 1 %
    margin = BUFFER / EXTENT * 1.01
    span = f"({half!r} * 2 / (1 << z))"
    xs = (f"generate_series(greatest(0, floor((p.x + {half!r}) / {span} - {margin!r}))::int, "
          f"least((1 << z) - 1, floor((p.x + {half!r}) / {span} + {margin!r}))::int)")
    ys = (f"generate_series(greatest(0, floor(({half!r} - p.y) / {span} - {margin!r}))::int, "
          f"least((1 << z) - 1, floor(({half!r} - p.y) / {span} + {margin!r}))::int)")
    month, zooms = ("NULL::date", "%(all_time_zooms)s") if all_time else ("p.month", "%(point_zooms)s")
    return f"""SELECT DISTINCT z, {month}, tx, ty FROM {points} p
               CROSS JOIN unnest({zooms}::int[]) z
               CROSS JOIN LATERAL {xs} tx CROSS JOIN LATERAL {ys} ty
               WHERE {where}"""


def _render_point_tiles_sql():
    """INSERT of the stored point tiles of the work table ``_point_tiles_to_render`` (z,
    month, x, y), for both audiences: each tile's points read as point_tile_sql reads
    them (the GiST index on the buffered box, the exact bounds), inside first, newest
    first, then the buffer's, the cap kept, one ST_AsMVT per tile (the row type
    heatmaps_point_feature gives the layer point_tile's attributes).
    Overdue is as of %(now)s, the refresh's time; ``stale_after`` is the earliest running
    deadline at or after it among the points shown: the moment a point of the tile turns
    overdue, and the tile with it (store_point_tiles renders it again then).

    Each (tile, audience) keeps its points with ORDER BY … LIMIT cap: a bounded top-N sort,
    and a point's tile coordinates and flags computed for the kept points only. Before,
    a row_number() window ranked every point of the box (a full sort of all of them, with
    every attribute computed first): the busiest z10 tile of the national 1 M database
    took 352 ms for its two audiences. The points inside and the provinces of a capped
    tile are counted from the whole box; below the cap every point of the box was kept."""
    limit = int(agg.conf("HEATMAP_TILE_MAX_POINTS"))
    time_sql = "p.created_at >= a.t0 AND p.created_at < a.t1"

    def audience_sql(audience):
        return f"({audience} = 0 OR {policy.PUBLIC.sql('p')})"

    # The bounds of each tile computed once (MATERIALIZED): inlined, the planner computed
    # ST_TileEnvelope again for every point, four times in the filter and four in the
    # sort (a month at 1 M reports: 1.65 s, 0.4 s of it in the sort alone).
    return f"""
    WITH a AS MATERIALIZED (
        SELECT w.z, w.month, w.x, w.y, t.*,
               -- a month's reports, or all of them (month NULL: the tile of all time)
               coalesce(w.month::timestamp AT TIME ZONE %(tz)s, '-infinity') AS t0,
               coalesce((w.month + interval '1 month')::timestamp AT TIME ZONE %(tz)s, 'infinity') AS t1
        FROM _point_tiles_to_render w CROSS JOIN LATERAL ({tile_bounds_sql("w.z", "w.x", "w.y")}) t
    ),
    -- the two audiences as a number (0 "all", 1 "public")
    kept AS (
        SELECT au.audience, a.z, a.month, a.x, a.y,
               ST_AsMVT(ROW({point_geom_sql("k", "a")}, k.report_id, k.code, k.category, k.state,
                            coalesce({policy.overdue_sql('k', '%(now)s')}, false))::heatmaps_point_feature,
                        'reports', {EXTENT}, 'geom', 'id'
                        ORDER BY k.inside DESC, k.created_at DESC, k.report_id DESC) AS mvt,
               count(*) AS n, count(*) FILTER (WHERE k.inside) AS inside,
               array_agg(DISTINCT k.province_code ORDER BY k.province_code) AS provinces,
               min({policy.due_sql('k')}) FILTER (WHERE {policy.due_sql('k')} >= %(now)s) AS stale_after
        FROM a CROSS JOIN (VALUES (0), (1)) au(audience)
        CROSS JOIN LATERAL (
            SELECT p.*, ({inside_sql("p", "a")}) AS inside FROM heatmaps_reportpoint p
            WHERE p.geom && a.b AND {in_box_sql("p", "a")} AND {time_sql} AND {audience_sql("au.audience")}
            ORDER BY inside DESC, p.created_at DESC, p.report_id DESC LIMIT {limit}
        ) k
        GROUP BY au.audience, a.z, a.month, a.x, a.y
    )
    INSERT INTO _point_tiles_rendered (audience, z, month, x, y, data, n, inside, provinces, stale_after)
    SELECT (ARRAY{list(AUDIENCES)!r})[kept.audience + 1], kept.z, kept.month, kept.x, kept.y,
           CASE WHEN coalesce(whole.inside, kept.inside) > {limit}
                THEN kept.mvt || {capped_layer_sql(limit, "whole.inside", "kept.z", "kept.x", "kept.y")}
                ELSE kept.mvt END,
           kept.n, coalesce(whole.inside, kept.inside), coalesce(whole.provinces, kept.provinces), kept.stale_after
    FROM kept
    JOIN a ON a.z = kept.z AND a.month IS NOT DISTINCT FROM kept.month AND a.x = kept.x AND a.y = kept.y
    -- a capped tile: its points inside and its provinces counted from the whole box
    LEFT JOIN LATERAL (
        SELECT count(*) FILTER (WHERE {inside_sql("p", "a")}) AS inside,
               array_agg(DISTINCT p.province_code ORDER BY p.province_code) AS provinces
        FROM heatmaps_reportpoint p
        WHERE kept.n >= {limit} AND p.geom && a.b AND {in_box_sql("p", "a")} AND {time_sql}
              AND {audience_sql("kept.audience")}
    ) whole ON kept.n >= {limit}
    """


def _render_point_tiles(cur, params):
    """Render the tiles of ``_point_tiles_to_render`` into heatmaps_pointtile, each stored
    as the gzip the tile view sends (gzip_tile: PostgreSQL has no gzip, so the rendered
    tiles pass through here once; the view then neither compresses nor decompresses)."""
    cur.execute("DROP TABLE IF EXISTS _point_tiles_rendered")
    cur.execute("CREATE TEMP TABLE _point_tiles_rendered (audience text, z smallint, month date, x int, y int, "
                "data bytea, n int, inside int, provinces text[], stale_after timestamptz) ON COMMIT DROP")
    cur.execute(SET_TILE_WORK_MEM)
    cur.execute(_render_point_tiles_sql(), params)
    columns = "audience, z, month, x, y, data, n, inside, provinces, stale_after"
    cur.execute(f"SELECT {columns} FROM _point_tiles_rendered")
    rows = cur.fetchall()
    with cur.copy(f"COPY heatmaps_pointtile ({columns}) FROM STDIN") as copy:
        for audience, z, month, x, y, data, n, inside, provinces, stale_after in rows:
            copy.write_row((audience, z, month, x, y, gzip_tile(bytes(data)), n, inside, provinces, stale_after))
    cur.execute("DROP TABLE _point_tiles_rendered")


def _point_work_table(cur):
    cur.execute("DROP TABLE IF EXISTS _point_tiles_to_render")
    # month NULL: a tile of all time
    cur.execute("CREATE TEMP TABLE _point_tiles_to_render (z smallint, month date, x int, y int, "
                "UNIQUE NULLS NOT DISTINCT (z, month, x, y)) ON COMMIT DROP")


def _point_params(now):
    return {"point_zooms": list(agg.conf("HEATMAP_STORED_POINT_ZOOMS")),
            "all_time_zooms": list(agg.conf("HEATMAP_STORED_ALL_TIME_ZOOMS")), "now": now or timezone.now(),
            "tz": settings.TIME_ZONE}


def store_all_point_tiles(now=None):
    """Render every stored point tile again from the point projection (refresh_all):
    the months', then those of all time."""
    store_month_point_tiles(now)
    store_all_time_point_tiles(now)


def store_month_point_tiles(now=None):
    """Render every stored point tile of a month again, a month at a time (each month's
    sort stays small); the zooms rendered are complete (RefreshState.month_tile_zooms)."""
    from heatmaps.models import RefreshState

    zooms = render_month_point_tiles(now)
    RefreshState.objects.update_or_create(name="default", defaults={"month_tile_zooms": zooms})


def render_month_point_tiles(now=None):
    """store_month_point_tiles without recording the zooms (migration 0021 records them on
    its own model); returns the zooms rendered."""
    params = _point_params(now)
    with transaction.atomic(), connection.cursor() as cur:
        # not TRUNCATE: readers keep the old ones meanwhile
        cur.execute("DELETE FROM heatmaps_pointtile WHERE month IS NOT NULL")
        if not params["point_zooms"]:
            return []
        cur.execute("SELECT DISTINCT month FROM heatmaps_reportpoint ORDER BY month")
        for (month,) in cur.fetchall():
            _point_work_table(cur)
            cur.execute("INSERT INTO _point_tiles_to_render " + _point_tiles_of_points_sql("p.month = %(month)s"),
                        {**params, "month": month})
            _render_point_tiles(cur, params)
            cur.execute("DROP TABLE _point_tiles_to_render")
    return params["point_zooms"]


# Tiles of all time rendered in one statement: each tile's points are ranked in one sort,
# so a batch holds at most this many tiles (a z14 tile of the national 1 M database holds
# up to 4,346 points, a z10 one 69,991).
ALL_TIME_BATCH = 2000


def store_all_time_point_tiles(now=None):
    """Render every stored point tile of all time again: the tiles of every point at
    HEATMAP_STORED_ALL_TIME_ZOOMS, in batches of ALL_TIME_BATCH tiles."""
    from heatmaps.models import RefreshState

    params = _point_params(now)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM heatmaps_pointtile WHERE month IS NULL")
        if params["all_time_zooms"]:
            cur.execute(f"SELECT z, tx, ty FROM ({_point_tiles_of_points_sql('TRUE', all_time=True)}) "
                        "t(z, month, tx, ty) ORDER BY 1, 2, 3", params)
            keys = cur.fetchall()
            for i in range(0, len(keys), ALL_TIME_BATCH):
                _render_all_time_tiles(cur, keys[i:i + ALL_TIME_BATCH], params)
        # every tile of these zooms with a point now has its row (a refresh marks the
        # tiles of new points): a tile without one is empty
        RefreshState.objects.update_or_create(name="default",
                                              defaults={"all_time_tile_zooms": params["all_time_zooms"]})


def _render_all_time_tiles(cur, keys, params):
    """Render the stored tiles of all time of these (z, x, y) keys again: their rows
    deleted, the tiles with points inserted."""
    _point_work_table(cur)
    with cur.copy("COPY _point_tiles_to_render (z, x, y) FROM STDIN") as copy:
        for key in keys:
            copy.write_row(key)
    # month IS NULL: the key's index is read from (NULL, z, x, y), not scanned whole
    cur.execute("""DELETE FROM heatmaps_pointtile t USING _point_tiles_to_render a
                   WHERE t.month IS NULL AND t.z = a.z AND t.x = a.x AND t.y = a.y""")
    _render_point_tiles(cur, params)
    cur.execute("DROP TABLE _point_tiles_to_render")


def mark_all_time_tiles_due(cur, where_sql, params):
    """Mark the stored tiles of all time matching ``where_sql`` (alias ``t``, a table of
    z, x, y with month NULL) due to be rendered again: their rows lose their data (the
    tile is rendered when asked meanwhile); a tile with no row yet gets one for each
    audience. render_due_all_time_tiles renders them."""
    cur.execute(f"""INSERT INTO heatmaps_pointtile (audience, z, month, x, y, data, n, inside, provinces)
                    SELECT au.audience, t.z, NULL, t.x, t.y, NULL, 0, 0, '{{}}'
                    FROM {where_sql} CROSS JOIN (VALUES {", ".join(f"('{a}')" for a in AUDIENCES)}) au(audience)
                    ON CONFLICT (month, z, x, y, audience) DO UPDATE SET data = NULL, stale_after = NULL
                    -- a tile already due is not written again (each write leaves a dead row)
                    WHERE heatmaps_pointtile.data IS NOT NULL""", params)


# A stored tile of all time due to be rendered again (mark_all_time_tiles_due): on the
# partial index heat_pointtile_due (heatmaps.models.PointTile).
DUE_SQL = "month IS NULL AND data IS NULL"


def any_all_time_tile_due():
    """Whether a stored tile of all time is due (read on the partial index of due tiles)."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT EXISTS (SELECT 1 FROM heatmaps_pointtile WHERE {DUE_SQL})")
        return cur.fetchone()[0]


def render_due_all_time_tiles(max_tiles=None, max_seconds=None, now=None):
    """Render the stored tiles of all time marked due (mark_all_time_tiles_due), a batch
    at a time, each in its own transaction under the refreshes' lock (a refresh waits for
    one batch at most: 200 tiles at z14, half as many a zoom lower, as a tile a zoom lower
    holds about four times the points); the lowest zoom first (its tiles cover the most of
    the map, and every view of a place at a higher zoom starts there). Returns the tiles
    rendered."""
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    done = 0
    while (max_tiles is None or done < max_tiles) and (deadline is None or time.monotonic() < deadline):
        with transaction.atomic(), connection.cursor() as cur:
            agg.lock_refreshes()
            params = _point_params(now)
            cur.execute(f"SELECT min(z) FROM heatmaps_pointtile WHERE {DUE_SQL}")
            [(z,)] = cur.fetchall()
            if z is None:
                return done
            batch = max(1, 200 >> max(0, 14 - z))
            cur.execute("SELECT DISTINCT z, x, y FROM heatmaps_pointtile "
                        f"WHERE {DUE_SQL} AND z = %s ORDER BY x, y LIMIT %s",
                        [z, batch if max_tiles is None else min(batch, max_tiles - done)])
            keys = cur.fetchall()
            if not keys:
                return done
            _render_all_time_tiles(cur, keys, params)
            done += len(keys)
    return done


# What a stored point tile shows of a point (its place, its rank, its attributes, its
# audience, its overdue flag, the tile's provinces): a point whose row changed in any of
# these, or appeared, or went, is a change its tiles must show.
POINT_SHOWN_COLUMNS = ("month", "x", "y", "created_at", "code", "category", "state", "forward_due", "resolve_due",
                       "province_code")


def store_point_tiles(cur, stage, months, provinces, whole, now):
    """store_bin_tiles for the point tiles, rendering again only the tiles a refresh
    changed. "before" notes the stored tiles of the refreshed (month, province) pairs that
    went stale (a point's deadline passed: ``stale_after``) and every tile of a whole
    month, and keeps the pairs' points as they are; "after" adds the tiles of every point
    that appeared, went or changed what its tiles show (POINT_SHOWN_COLUMNS) — where it
    was and where it is — deletes the noted tiles and renders them again from every
    province's points. Before, every stored tile of a refreshed (month, province) was
    rendered again: a whole month of a province for one new report."""
    params = _point_params(now)
    if stage == "before":
        forget_zooms_not_kept(cur, params)
    if not params["point_zooms"] and not params["all_time_zooms"]:
        return
    pairs = agg.pairs_sql("p")
    pair_params = agg.pair_params(months, provinces)
    shown = ", ".join(POINT_SHOWN_COLUMNS)
    if stage == "before":
        _point_work_table(cur)
        touched, touched_params = touched_tiles_sql("t", months, provinces, whole)
        cur.execute("INSERT INTO _point_tiles_to_render SELECT t.z, t.month, t.x, t.y FROM heatmaps_pointtile t "
                    f"WHERE t.audience = 'all' AND {touched} AND (t.month = ANY(%s::date[]) OR t.stale_after < %s)",
                    [*touched_params, whole, params["now"]])
        cur.execute("DROP TABLE IF EXISTS _points_before")
        # a whole month's points all (a province may have none left in it)
        cur.execute(f"CREATE TEMP TABLE _points_before ON COMMIT DROP AS "
                    f"SELECT report_id, {shown} FROM heatmaps_reportpoint p "
                    f"WHERE {pairs} OR p.month = ANY(%(whole)s::date[])", {**pair_params, "whole": whole})
        return
    cur.execute("DROP TABLE IF EXISTS _points_changed")
    cur.execute(f"""CREATE TEMP TABLE _points_changed ON COMMIT DROP AS
                    SELECT b.month, b.x, b.y FROM _points_before b
                    LEFT JOIN heatmaps_reportpoint p ON p.report_id = b.report_id
                    WHERE p.report_id IS NULL OR ({_columns_of("b")}) IS DISTINCT FROM ({_columns_of("p")})
                    UNION ALL
                    SELECT p.month, p.x, p.y FROM heatmaps_reportpoint p
                    LEFT JOIN _points_before b ON b.report_id = p.report_id
                    WHERE {pairs}
                      AND (b.report_id IS NULL OR ({_columns_of("b")}) IS DISTINCT FROM ({_columns_of("p")}))""",
                pair_params)
    cur.execute("INSERT INTO _point_tiles_to_render " + _point_tiles_of_points_sql("TRUE", "_points_changed")
                + " ON CONFLICT DO NOTHING", params)
    if params["all_time_zooms"]:
        # the tiles of all time: only marked here (a day's reports touch thousands of them,
        # each holding every report of its place); the warm-up after the refresh renders
        # them, and the ones whose overdue flags went stale
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('heatmaps_pointtile'))")
        changed = _point_tiles_of_points_sql("TRUE", "_points_changed", all_time=True)
        mark_all_time_tiles_due(cur, f"({changed}) t(z, month, x, y)", params)
        cur.execute("UPDATE heatmaps_pointtile SET data = NULL, stale_after = NULL "
                    "WHERE month IS NULL AND stale_after < %(now)s", params)
    cur.execute("DROP TABLE _points_changed, _points_before")
    cur.execute("SELECT pg_advisory_xact_lock(hashtext('heatmaps_pointtile'))")
    cur.execute("""DELETE FROM heatmaps_pointtile t USING _point_tiles_to_render a
                   WHERE t.month = a.month AND t.z = a.z AND t.x = a.x AND t.y = a.y""")
    _render_point_tiles(cur, params)
    cur.execute("DROP TABLE _point_tiles_to_render")
    if params["all_time_zooms"]:
        _render_few_due_all_time_tiles(cur, params)


def forget_zooms_not_kept(cur, params):
    """A zoom taken out of the settings is no longer complete: its stored rows are not
    kept up to date from now on, and if it came back they would be trusted."""
    cur.execute("""UPDATE heatmaps_refreshstate
                   SET month_tile_zooms = ARRAY(SELECT z FROM unnest(month_tile_zooms) z
                                                WHERE z = ANY(%(point_zooms)s::smallint[])),
                       all_time_tile_zooms = ARRAY(SELECT z FROM unnest(all_time_tile_zooms) z
                                                   WHERE z = ANY(%(all_time_zooms)s::smallint[]))
                   WHERE name = 'default' AND NOT (month_tile_zooms <@ %(point_zooms)s::smallint[]
                                                   AND all_time_tile_zooms <@ %(all_time_zooms)s::smallint[])""",
                params)


def _render_few_due_all_time_tiles(cur, params):
    """Render the stored tiles of all time that are due, in the refresh's own transaction,
    when they are at most HEATMAP_ALL_TIME_RENDER_IN_REFRESH: the beat's refresh of a few
    new reports and passed deadlines (a report touches one tile a zoom, 5 in all). Then
    no tile is due when the refresh commits and moves the data version, and the viewers
    of the map (a wall's screens, the planners) do not each render the same busy tile
    (a capped z10 tile: ~160 ms at 1 M reports) in the seconds before the warm-up. More
    than that (a day's reports at once, an import: thousands) are left to the warm-up,
    so that the refresh stays short."""
    limit = agg.conf("HEATMAP_ALL_TIME_RENDER_IN_REFRESH")
    if limit <= 0:
        return
    cur.execute(f"SELECT DISTINCT z, x, y FROM heatmaps_pointtile WHERE {DUE_SQL} LIMIT %s", [limit + 1])
    keys = cur.fetchall()
    if 0 < len(keys) <= limit:
        _render_all_time_tiles(cur, keys, params)


def _columns_of(alias):
    return ", ".join(f"{alias}.{column}" for column in POINT_SHOWN_COLUMNS)


def store_tiles(cur, stage, months, provinces, whole, now):
    """The stored tiles' part of a refresh (aggregates.refresh_months): bins and points."""
    store_bin_tiles(cur, stage, months, provinces, whole)
    store_point_tiles(cur, stage, months, provinces, whole, now)


def store_all_tiles(now=None):
    store_all_bin_tiles()
    store_all_point_tiles(now)


# gzip levels. A stored point tile is compressed once, by the refresh: level 4 (a capped
# z10 tile of 420 KB: 16 ms and 158 KB, against level 6's 42 ms and 153 KB). A tile
# compressed in the request (rendered when asked, or a stored bin tile, kept as MVT):
# level 1. On the busiest 40 tiles of the
# national 1 M database, render and gzip in process (median): z10 28.0 ms + 5.8 ms at
# level 4 (145 KB) or 3.4 ms at level 1 (155 KB); z12 7.9 + 2.1 / 1.3 ms (54 / 57 KB);
# z14 4.2 + 0.9 / 0.6 ms (26 / 27 KB). (TiPG compresses at level 6.)
STORED_GZIP_LEVEL = 4
RENDERED_GZIP_LEVEL = 1


def gzip_tile(data, level=STORED_GZIP_LEVEL):
    """A tile's bytes as sent with Content-Encoding: gzip. mtime=0: the same bytes at the
    same level give the same gzip (the ETag)."""
    return gzip.compress(data, compresslevel=level, mtime=0) if data else b""


class Tile:
    """A tile as served: its MVT bytes (``data``) and their gzip (``gz``), one of them
    given and the other made when first asked — a rendered tile comes as MVT, a stored
    point tile as the gzip it was stored as (the view sends it as it is)."""

    def __init__(self, data=None, count=0, layer="", capped=None, gz=None):
        self._data, self._gz = data, gz
        self.count = count  # features (points), or reports counted in the bins
        self.layer = layer  # the layer actually served
        self.capped = capped  # (shown, total points inside the tile) when over the cap

    @property
    def data(self):
        if self._data is None:
            self._data = gzip.decompress(self._gz) if self._gz else b""
        return self._data

    @property
    def gz(self):
        if self._gz is None:  # compressed in the request: rendered, or a stored bin tile
            self._gz = gzip_tile(self._data, RENDERED_GZIP_LEVEL)
        return self._gz


def tile(layer, z, x, y, filters: Filters) -> Tile:
    """The tile as stored when a stored tile answers the view, else rendered."""
    return stored_tile(layer, z, x, y, filters) or rendered_tile(layer, z, x, y, filters)


def stored_tile(layer, z, x, y, filters: Filters):
    """The stored tile that answers the view (stored_point_tile, stored_bin_tile), or None."""
    if layer == "reports" and z >= points_zoom():
        return _stored_point_tile(stored_point_tile(z, x, y, filters))
    stored = stored_bin_tile(z, x, y, filters)
    return None if stored is None else Tile(stored[0], stored[1], "bins")


async def astored_point_tile_of_view(connect, z, x, y, filters: Filters):
    """stored_tile of the point layer on an asynchronous connection taken with ``connect()``
    when needed (z >= points_zoom())."""
    return _stored_point_tile(await astored_point_tile(connect, z, x, y, filters))


def _stored_point_tile(stored):
    if stored is None:
        return None
    gz, n, inside = stored
    return Tile(None, n, "reports", _capped(inside), gz=gz)


def rendered_tile(layer, z, x, y, filters: Filters) -> Tile:
    """The tile rendered now (point_tile from the point projection, bin_tile from the
    grid roll-up)."""
    if layer == "reports" and z >= points_zoom():
        data, n, inside = point_tile(z, x, y, filters)
        return Tile(data, n, "reports", _capped(inside))
    data, n = bin_tile(z, x, y, filters)
    return Tile(data, n, "bins")


async def arendered_point_tile(conn, z, x, y, filters: Filters) -> Tile:
    """rendered_tile of the point layer on an asynchronous connection (z >= points_zoom())."""
    data, n, inside = await apoint_tile(conn, z, x, y, filters)
    return Tile(data, n, "reports", _capped(inside))


def _capped(inside):
    limit = int(agg.conf("HEATMAP_TILE_MAX_POINTS"))
    return (limit, inside) if inside > limit else None
