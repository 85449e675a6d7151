"""Point lookup: which areas contain a point, in the boundary versions valid at a time.

``locate(point, at=None, jurisdiction=None)`` asks the database ONE query (``LOCATE_SQL``
below) and returns one area per area type, ordered by the type's level (province,
district, commune…).

Rules, in the order the query applies them:

1. **Covering.** The subdivided parts (``boundaries_areapart``, ``ST_Subdivide(geom, 256)``
   with a GiST index) of every area of the versions valid on the day of ``at`` are
   probed with ``ST_Covers``: a point on an area's boundary (or on a cut line between
   two parts of one area) is covered.
2. **Border rule.** A point exactly on the border shared by two areas of the same type
   is covered by both; it goes to the area with the **lowest code** (text order:
   "06670" before "06673"). Deterministic and independent of insertion order.
3. **Snap.** When no area of any valid version covers the point, the nearest area of
   each type within ``settings.LOCATE_SNAP_TOLERANCE_M`` metres (geography distance,
   i.e. on the spheroid) is returned and ``snapped_m`` says how far the pin was. The
   GiST index is used through a bounding-box prefilter (``&&`` with a box expanded by
   the tolerance converted to degrees at the point's latitude).
4. **Not found.** Otherwise no area; ``reason`` is ``"too_far"`` when some area lies
   within ``settings.LOCATE_OUTSIDE_M`` (50 km) — a pin at sea off our coast —,
   ``"outside"`` when none does (another country, or a jurisdiction we do not manage),
   ``"no_version"`` when no boundary version is valid on that day. ``message`` is the
   translated explanation for people.

The plan (EXPLAIN ANALYZE on the 4-province data and on the national full-resolution
communes): ``hit`` is a Bitmap/Index Scan on ``boundaries_areapart_geom_id`` (the GiST
index) with ``ST_Covers`` rechecked on the few candidate parts, followed by nested-loop
index scans on ``boundaries_area_pkey``; ``near`` and ``beyond`` are guarded by one-time
filters (``NOT EXISTS (SELECT 1 FROM hit)``) and are "never executed" when the point is
covered; ``beyond`` is a KNN index scan (``<->``) on the same GiST index. The parts are
filtered by version with ``version_id + 0`` so the planner never ANDs the GiST bitmap
with the version index (that read every part of the version: 4x slower).

By code instead of a point: ``locate_area(code, at, type_code="commune")`` gives the
same kind of result for an area the citizen chose by name (the accessible alternative
to the map), with ``point`` set to a point inside it (``ST_PointOnSurface``).

Many points at once: ``locate_many(points_table, version, area_type)`` applies the same
covering, border and snap rules to a table of points with set-based SQL (one join
driven from the parts, one snapping statement), for one version and one area type; it
is what ``locate_points`` and ``heatmaps.importer`` use. It does not report
"too_far"/"outside": a point in no area within tolerance simply has no row. The same
rules as an SQL fragment for hand-written queries: ``placement_sql`` (the choropleths
place the reports of another boundary version with it).

Speed: the query runs as a server-side prepared statement with a generic plan
(``run_prepared``; settings add ``plan_cache_mode=force_generic_plan`` to the
connection), so a lookup costs one round trip and no planning: ~0.35 ms p50 on the
national full-resolution communes (bench/routing.py), against ~0.9 ms re-planned.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import psycopg
from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, Point
from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from boundaries.models import Area, AreaType, BoundaryVersion
from geo_portal import async_db
from geo_portal.db import prepared_raw_connection

# Column order = the models' field order (Model.from_db maps values by it).
_AREA_FIELDS = ["id", "version_id", "type_id", "code", "name", "name_en", "parent_id"]
_TYPE_FIELDS = ["id", "code", "name", "name_en", "level"]
_VERSION_FIELDS = ["id", "code", "name", "jurisdiction", "valid_from", "valid_to", "active"]

# The one query of a lookup. Parameters: lon, lat, day, jurisdiction, dx, dy, tol, outside.
# The point is written as a constant expression so the planner folds it and can use the
# GiST index for && / ST_Covers / <-> (a CTE column would turn it into a join).
LOCATE_SQL = """
WITH ver AS MATERIALIZED (
    SELECT id FROM boundaries_boundaryversion
    WHERE active
      AND (valid_from IS NULL OR valid_from <= %(day)s)
      AND (valid_to IS NULL OR valid_to >= %(day)s)
      AND (%(jurisdiction)s::text IS NULL OR jurisdiction = %(jurisdiction)s::text)
),
hit AS MATERIALIZED (               -- 1+2: covering parts, lowest code per type
    SELECT DISTINCT ON (p.type_id) p.area_id, p.type_id, NULL::float8 AS snapped_m
    FROM boundaries_areapart p
    JOIN boundaries_area a ON a.id = p.area_id
    WHERE (p.version_id + 0) = ANY (ARRAY(SELECT id FROM ver))
      AND ST_Covers(p.geom, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326))
    ORDER BY p.type_id, a.code
),
near AS MATERIALIZED (              -- 3: nothing covers it: nearest within tolerance
    SELECT DISTINCT ON (p.type_id) p.area_id, p.type_id,
           ST_Distance(p.geom::geography,
                       ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography) AS snapped_m
    FROM boundaries_areapart p
    JOIN boundaries_area a ON a.id = p.area_id
    WHERE NOT EXISTS (SELECT 1 FROM hit)
      AND (p.version_id + 0) = ANY (ARRAY(SELECT id FROM ver))
      AND p.geom && ST_Expand(ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), %(dx)s, %(dy)s)
      AND ST_DWithin(p.geom::geography,
                     ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography, %(tol)s)
    ORDER BY p.type_id, 3, a.code
),
beyond AS MATERIALIZED (            -- 4: how far is the nearest area at all?
    SELECT p.area_id,
           ST_Distance(p.geom::geography,
                       ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography) AS d
    FROM boundaries_areapart p
    WHERE NOT EXISTS (SELECT 1 FROM hit) AND NOT EXISTS (SELECT 1 FROM near)
      AND (p.version_id + 0) = ANY (ARRAY(SELECT id FROM ver))
    ORDER BY p.geom <-> ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)
    LIMIT 8
),
found AS (SELECT * FROM hit UNION ALL SELECT * FROM near)
SELECT (SELECT count(*) FROM ver) AS n_versions,
       (SELECT min(d) FROM beyond) AS beyond_m,
       f.snapped_m,
       a.id, a.version_id, a.type_id, a.code, a.name, a.name_en, a.parent_id,
       t.id, t.code, t.name, t.name_en, t.level,
       v.id, v.code, v.name, v.jurisdiction, v.valid_from, v.valid_to, v.active
FROM (SELECT 1) one
LEFT JOIN found f ON true
LEFT JOIN boundaries_area a ON a.id = f.area_id
LEFT JOIN boundaries_areatype t ON t.id = a.type_id
LEFT JOIN boundaries_boundaryversion v ON v.id = a.version_id
ORDER BY t.level, t.code
"""


@dataclass
class LocateResult:
    areas: list[Area] = field(default_factory=list)  # one per type, ordered by level
    snapped_m: float | None = None  # metres, when the pin was outside but within tolerance
    reason: str = ""  # "" | "outside" | "too_far" | "no_version"
    message: str = ""  # translated explanation when not found
    nearest_m: float | None = None  # for "too_far": distance to the nearest area
    # locate_area() only: a point inside the chosen area (PostGIS ST_PointOnSurface),
    # where a report placed by its commune rather than by a pin is drawn.
    point: Point | None = None

    def area_of_type(self, type_code) -> Area | None:
        for area in self.areas:
            if area.type.code == type_code:
                return area
        return None

    @property
    def found(self) -> bool:
        return bool(self.areas)

    @property
    def commune(self) -> Area | None:
        return self.area_of_type("commune")

    @property
    def district(self) -> Area | None:
        return self.area_of_type("district")

    @property
    def province(self) -> Area | None:
        return self.area_of_type("province")

    @property
    def version(self) -> BoundaryVersion | None:
        """The version of the finest area found (the commune's, normally)."""
        return self.areas[-1].version if self.areas else None


def _coords(point) -> tuple[float, float]:
    if isinstance(point, Point):
        if point.srid and point.srid != 4326:
            point = point.transform(4326, clone=True)
        lon, lat = point.x, point.y
    else:
        lon, lat = point
    lon, lat = float(lon), float(lat)
    if not (math.isfinite(lon) and math.isfinite(lat)) or not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(_("Tọa độ không hợp lệ: kinh độ %(lon)s, vĩ độ %(lat)s.") % {"lon": lon, "lat": lat})
    return lon, lat


def _day(at) -> dt.date:
    if at is None:
        return timezone.localdate()
    if isinstance(at, dt.datetime):
        if timezone.is_aware(at):
            return timezone.localdate(at)
        return at.date()
    return at


def snap_box_degrees(lat: float, tolerance_m: float) -> tuple[float, float]:
    """Half-sides (dx, dy) in degrees of a box that holds every point within
    ``tolerance_m`` of a point at latitude ``lat`` (with a 2 % margin)."""
    dy = tolerance_m / 110_574.0 * 1.02
    coslat = max(math.cos(math.radians(min(abs(lat) + dy, 89.9))), 1e-6)
    dx = min(tolerance_m / (111_320.0 * coslat) * 1.02, 180.0)
    return dx, dy


def locate_params(lon, lat, day, jurisdiction=None, tolerance_m=None) -> dict:
    tol = float(settings.LOCATE_SNAP_TOLERANCE_M if tolerance_m is None else tolerance_m)
    dx, dy = snap_box_degrees(lat, tol)
    return {"lon": lon, "lat": lat, "day": day, "jurisdiction": jurisdiction, "dx": dx, "dy": dy, "tol": tol}


def locate(point, at=None, jurisdiction=None) -> LocateResult:
    """The areas containing ``point`` (GEOS Point or (lon, lat)) in the versions valid at
    ``at`` (date or datetime, default now); ``jurisdiction`` ("VN", "US-MA-BOS")
    restricts the versions. See the module docstring for the rules."""
    lon, lat = _coords(point)
    day = _day(at)
    params = locate_params(lon, lat, day, jurisdiction)
    rows = run_prepared(LOCATE_SQL, params)
    return _result(rows, day, params["tol"])


def run_prepared(sql, params):
    """Run ``sql`` on Django's connection (same transaction) as a server-side prepared
    statement: after a few executions PostgreSQL reuses the plan, which saves the
    planning time (~0.9 ms for LOCATE_SQL, four times the execution)."""
    raw = prepared_raw_connection()
    with connection.wrap_database_errors:
        with psycopg.Cursor(raw) as cur:
            cur.execute(sql, params, prepare=True)
            return cur.fetchall()


async def alocate(point, at=None, jurisdiction=None) -> LocateResult:
    """locate() on the event loop (the lean ASGI path of /api/v1/locate): the same
    query, parameters and rules, on a connection of geo_portal.async_db's pool instead
    of Django's connection (it sees what is committed)."""
    rows, day, tol = await alocate_rows(point, at, jurisdiction)
    return locate_result(rows, day, tol)


async def alocate_rows(point, at=None, jurisdiction=None):
    """The lookup query's rows for a point, with the day and the tolerance they were
    asked for: ``locate_result(rows, day, tol)`` makes the LocateResult. Apart so that a
    caller can keep what it made of the same rows (the lean path keeps its answers)."""
    lon, lat = _coords(point)
    day = _day(at)
    params = locate_params(lon, lat, day, jurisdiction)
    async with async_db.pool().connection() as conn:
        cur = await conn.execute(LOCATE_SQL, params, prepare=True)
        rows = await cur.fetchall()
    return rows, day, params["tol"]


def locate_result(rows, day, tol) -> LocateResult:
    """The LocateResult of the lookup query's rows (alocate_rows)."""
    return _result(rows, day, tol, db=DEFAULT_DB_ALIAS)


def _result(rows, day, tol, db=None) -> LocateResult:
    n_versions, beyond_m = rows[0][0], rows[0][1]
    if not n_versions:
        return LocateResult(
            reason="no_version",
            message=_("Không có phiên bản địa giới nào có hiệu lực vào ngày %(day)s.")
            % {"day": day.strftime("%d/%m/%Y")},
        )
    areas, snapped = [], None
    db = db or connection.alias
    for row in rows:
        if row[3] is None:
            continue
        area = Area.from_db(db, _AREA_FIELDS, row[3:10])
        area.type = AreaType.from_db(db, _TYPE_FIELDS, row[10:15])
        area.version = BoundaryVersion.from_db(db, _VERSION_FIELDS, row[15:22])
        areas.append(area)
        if row[2] is not None:
            snapped = max(snapped or 0.0, float(row[2]))
    if areas:
        return LocateResult(areas=areas, snapped_m=snapped)
    if beyond_m is not None and beyond_m <= settings.LOCATE_OUTSIDE_M:
        return LocateResult(
            reason="too_far",
            nearest_m=float(beyond_m),
            message=_(
                "Vị trí cách đơn vị hành chính gần nhất khoảng %(km).1f km, xa hơn mức cho phép %(tol)d m. "
                "Vui lòng đặt ghim trên đất liền hoặc gần bờ hơn."
            )
            % {"km": beyond_m / 1000.0, "tol": tol},
        )
    return LocateResult(reason="outside", message=_("Vị trí nằm ngoài mọi địa bàn do hệ thống quản lý."))


# --- an area chosen by its code (no pin) -------------------------------------------

# Parameters: code, type, day, jurisdiction. The area of that code and type in the
# versions valid on the day (the version that started last when several are), its
# ancestors, and a point inside it (computed by PostGIS on the full geometry).
LOCATE_AREA_SQL = """
WITH RECURSIVE target AS (
    SELECT a.id FROM boundaries_area a
    JOIN boundaries_areatype t ON t.id = a.type_id
    JOIN boundaries_boundaryversion v ON v.id = a.version_id
    WHERE a.code = %(code)s AND t.code = %(type)s AND v.active
      AND (v.valid_from IS NULL OR v.valid_from <= %(day)s)
      AND (v.valid_to IS NULL OR v.valid_to >= %(day)s)
      AND (%(jurisdiction)s::text IS NULL OR v.jurisdiction = %(jurisdiction)s::text)
    ORDER BY v.valid_from DESC NULLS LAST, v.code
    LIMIT 1
),
lineage AS (
    SELECT a.id, a.parent_id, 0 AS depth FROM boundaries_area a JOIN target ON target.id = a.id
    UNION ALL
    SELECT p.id, p.parent_id, l.depth + 1 FROM boundaries_area p JOIN lineage l ON p.id = l.parent_id
    WHERE l.depth < 8
)
SELECT CASE WHEN l.depth = 0 THEN ST_AsText(ST_PointOnSurface(a.geom)) END,
       a.id, a.version_id, a.type_id, a.code, a.name, a.name_en, a.parent_id,
       t.id, t.code, t.name, t.name_en, t.level,
       v.id, v.code, v.name, v.jurisdiction, v.valid_from, v.valid_to, v.active
FROM lineage l
JOIN boundaries_area a ON a.id = l.id
JOIN boundaries_areatype t ON t.id = a.type_id
JOIN boundaries_boundaryversion v ON v.id = a.version_id
ORDER BY t.level, t.code
"""


def locate_area(code, at=None, type_code="commune", jurisdiction=None) -> LocateResult:
    """The area of ``type_code`` with official ``code`` in the versions valid at ``at``
    (default now), with its ancestors, as a LocateResult like locate()'s (so routing
    treats it exactly as a pin inside it); ``point`` is a point inside it
    (ST_PointOnSurface). What a citizen who cannot use the map gives instead of a pin.
    A code of another boundary version, or of none, is not found (reason
    ``"unknown_area"``)."""
    code = str(code or "").strip()
    day = _day(at)
    rows = []
    if code and len(code) <= 40:
        with connection.cursor() as cur:
            cur.execute(LOCATE_AREA_SQL, {"code": code, "type": type_code, "day": day, "jurisdiction": jurisdiction})
            rows = cur.fetchall()
    if not rows:
        return LocateResult(
            reason="unknown_area",
            message=_("Không có xã/phường mã “%(code)s” trong địa giới đang có hiệu lực.") % {"code": code[:40]},
        )
    db = connection.alias
    areas, point = [], None
    for row in rows:
        area = Area.from_db(db, _AREA_FIELDS, row[1:8])
        area.type = AreaType.from_db(db, _TYPE_FIELDS, row[8:13])
        area.version = BoundaryVersion.from_db(db, _VERSION_FIELDS, row[13:20])
        areas.append(area)
        if row[0] is not None:
            point = GEOSGeometry(row[0], srid=4326)
    return LocateResult(areas=areas, point=point)


# --- many points at once ----------------------------------------------------------


def finest_type(version) -> AreaType | None:
    """The area type of the highest level (the finest) that has areas in ``version``."""
    return AreaType.objects.filter(areas__version=version).distinct().order_by("-level", "code").first()


def placement_sql(points_sql, version_id, type_id, tolerance_m=None) -> str:
    """The rules of ``locate()``, set-based, for hand-written SQL: a SELECT of (key,
    area_id) placing each row of ``points_sql`` (a SELECT of the columns ``key`` and ``g``,
    a point in EPSG:4326) in the areas of one type of one version — covered (``ST_Covers``
    on the subdivided parts), the lowest code on a shared border, else the nearest area
    within the snap tolerance (nearer, then lower code); a row in no area is left out.
    ``points_sql`` is written once (its parameters are passed once); the version and type
    ids are the caller's integers, inlined. (``locate_many`` does the same for a table of
    points it may index, with work tables.)"""
    v, t = int(version_id), int(type_id)
    tol = float(settings.LOCATE_SNAP_TOLERANCE_M if tolerance_m is None else tolerance_m)
    _dx, dy = snap_box_degrees(0, tol)
    dxc = tol / 111_320.0 * 1.02
    return f"""
    WITH q AS MATERIALIZED ({points_sql}),
    hit AS MATERIALIZED (
        SELECT DISTINCT ON (q.key) q.key, p.area_id
        FROM q JOIN boundaries_areapart p ON p.version_id = {v} AND p.type_id = {t} AND ST_Covers(p.geom, q.g)
        JOIN boundaries_area a ON a.id = p.area_id
        ORDER BY q.key, a.code
    )
    SELECT key, area_id FROM hit
    UNION ALL
    SELECT q.key, near.area_id
    FROM q CROSS JOIN LATERAL (
        SELECT p.area_id FROM boundaries_areapart p JOIN boundaries_area a ON a.id = p.area_id
        WHERE p.version_id = {v} AND p.type_id = {t}
          AND p.geom && ST_Expand(q.g, {dxc!r} / greatest(cos(radians(least(abs(ST_Y(q.g)) + {dy!r}, 89.9))), 1e-6),
                                  {dy!r})
          AND ST_DWithin(p.geom::geography, q.g::geography, {tol!r})
        ORDER BY ST_Distance(p.geom::geography, q.g::geography), a.code
        LIMIT 1
    ) near
    WHERE q.g IS NOT NULL AND NOT EXISTS (SELECT 1 FROM hit WHERE hit.key = q.key)
    """


def locate_many(points_table, version, area_type=None, tolerance_m=None, *, out_table, key="_n", geom="g",
                stats=None) -> tuple[int, int]:
    """Locate every point of ``points_table`` (a column ``key`` identifying the row and a
    column ``geom``: a point in EPSG:4326, ideally with a GiST index and ANALYZEd) in the
    areas of ``area_type`` (default: the finest type of the version) of ``version``.

    Creates ``out_table`` (``key``, area_id, code, name, snapped_m) with one row per
    located point, a unique index on ``key``; the caller drops it. The rules are
    locate()'s: covered (``ST_Covers`` on the subdivided parts), the lowest code on a
    shared border, else the nearest area within ``tolerance_m`` (default
    settings.LOCATE_SNAP_TOLERANCE_M; geography distance, nearer then lower code).
    Returns (located, snapped); fills ``stats`` with join_s, snap_s, resolve_s.
    """
    import time
    import uuid

    stats = {} if stats is None else stats
    area_type = area_type or finest_type(version)
    tol = float(settings.LOCATE_SNAP_TOLERANCE_M if tolerance_m is None else tolerance_m)
    hits = f"_lm_{uuid.uuid4().hex[:10]}_hit"
    k, g = connection.ops.quote_name(key), connection.ops.quote_name(geom)
    params = {"v": version.id, "t": area_type.id if area_type else None, "tol": tol}
    try:
        with connection.cursor() as cur:
            # 1+2. The join, driven from the parts: for each part an index scan of the
            #    points it covers (the part stays the first argument of ST_Covers, so
            #    PostGIS prepares it once). Left alone the planner prefers one probe of
            #    the parts' index per point (~5x slower on the national layer); turning
            #    off sequential scans for this statement gives the parts-driven parallel
            #    plan. The work table is unlogged, not temporary: temporary tables are
            #    invisible to parallel workers.
            t0 = time.perf_counter()
            with transaction.atomic():
                cur.execute("SET LOCAL max_parallel_workers_per_gather = 2")
                cur.execute("SET LOCAL jit = off")
                cur.execute("SET LOCAL enable_seqscan = off")
                cur.execute(
                    f"""CREATE UNLOGGED TABLE {hits} AS
                        SELECT q.{k} AS key, p.area_id
                        FROM boundaries_areapart p
                        JOIN {points_table} q ON ST_Covers(p.geom, q.{g})
                        WHERE p.version_id = %(v)s AND p.type_id = %(t)s""",
                    params,
                )
                # SET LOCAL lasts to the end of the transaction, a caller's included.
                for name in ("enable_seqscan", "jit", "max_parallel_workers_per_gather"):
                    cur.execute(f"SET LOCAL {name} TO DEFAULT")
            stats["join_s"] = time.perf_counter() - t0

            # The border rule: one area per point, the lowest code.
            t2 = time.perf_counter()
            with transaction.atomic():
                cur.execute("SET LOCAL work_mem = '256MB'")  # the sort of 1 M hits in memory
                cur.execute(
                    f"""CREATE UNLOGGED TABLE {out_table} AS
                        SELECT DISTINCT ON (h.key) h.key AS {k}, h.area_id, a.code, a.name, NULL::float8 AS snapped_m
                        FROM {hits} h JOIN boundaries_area a ON a.id = h.area_id
                        ORDER BY h.key, a.code"""
                )
                located = cur.rowcount
                cur.execute(f"CREATE UNIQUE INDEX ON {out_table} ({k})")
            stats["resolve_s"] = time.perf_counter() - t2

            # 3. The points left over snap to the nearest area within tolerance (the
            #    bounding box of locate()'s snap, widened by latitude, uses the index).
            #    Skipped when every point is located: the anti-join over all the points
            #    costs as much as the resolve.
            t1 = time.perf_counter()
            cur.execute(f"SELECT count(*) FROM {points_table} WHERE {g} IS NOT NULL")
            snapped = 0
            if cur.fetchone()[0] > located:
                _dx, dy = snap_box_degrees(0, tol)
                cur.execute(
                    f"""INSERT INTO {out_table} ({k}, area_id, code, name, snapped_m)
                        SELECT q.{k}, near.area_id, near.code, near.name, near.d
                        FROM {points_table} q
                        CROSS JOIN LATERAL (
                            SELECT p.area_id, a.code, a.name, ST_Distance(p.geom::geography, q.{g}::geography) AS d
                            FROM boundaries_areapart p
                            JOIN boundaries_area a ON a.id = p.area_id
                            WHERE p.version_id = %(v)s AND p.type_id = %(t)s
                              AND p.geom && ST_Expand(
                                    q.{g},
                                    %(dxc)s / greatest(cos(radians(least(abs(ST_Y(q.{g})) + %(dy)s, 89.9))), 1e-6),
                                    %(dy)s)
                              AND ST_DWithin(p.geom::geography, q.{g}::geography, %(tol)s)
                            ORDER BY 4, a.code
                            LIMIT 1
                        ) near
                        WHERE q.{g} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {out_table} o WHERE o.{k} = q.{k})""",
                    {**params, "dxc": tol / 111_320.0 * 1.02, "dy": dy},
                )
                snapped = cur.rowcount
                located += snapped
            stats["snap_s"] = time.perf_counter() - t1
    finally:
        with connection.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {hits}")
    return located, snapped


# --- a commune named in an address ---------------------------------------------------

# How an address names the kind of a commune ("phường Bãi Cháy", "P. Bãi Cháy"), after
# fold_text(): the area's own name starts with the full word.
_COMMUNE_KIND_ABBREVIATIONS = {"phuong": ("p", "p."), "xa": ("x", "x."), "dac khu": ("dk", "dk.")}


def fold_text(text) -> str:
    """Lower case, without Vietnamese diacritics (đ → d), punctuation but "." as spaces,
    spaces collapsed: "P. Bãi Cháy, TP Hạ Long" → "p. bai chay tp ha long"."""
    import re
    import unicodedata

    text = unicodedata.normalize("NFD", str(text or "").lower().replace("đ", "d"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w.]+", " ", text).split())


def communes_named_in(text, province_codes=None, at=None) -> list[Area]:
    """The communes of the current boundary version whose name, with its kind
    ("Phường Bãi Cháy", or "P. Bãi Cháy"), appears as whole words in ``text``; only those
    of ``province_codes`` when given; the longest names first. A geocoder for the
    address an Open311 client sends without a position: a street or house number is
    not found, only the commune."""
    import re

    folded = f" {fold_text(text)} "
    if len(folded) < 4:
        return []
    version = BoundaryVersion.objects.current(at)
    if version is None:
        return []
    qs = Area.objects.filter(version=version, type__code="commune").select_related("parent").only(
        "id", "code", "name", "parent__code", "parent__name")
    if province_codes:
        qs = qs.filter(parent__code__in=list(province_codes))
    found = []
    for area in qs:
        name = fold_text(area.name)
        forms = [name]
        for kind, abbreviations in _COMMUNE_KIND_ABBREVIATIONS.items():
            if name.startswith(kind + " "):
                rest = name[len(kind) + 1:]
                forms += [f"{a} {rest}" for a in abbreviations]
                forms += [f"{a}{rest}" for a in abbreviations if a.endswith(".")]  # "P.Bãi Cháy"
        if any(re.search(rf"(?<![\w.]){re.escape(f)}(?!\w)", folded) for f in forms):
            found.append(area)
    found.sort(key=lambda a: -len(a.name))
    return found
