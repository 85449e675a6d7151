"""Routing benchmark on the national full-resolution communes (wards_all_full.geojson.gz,
3,321 communes, ~7.1 M vertices) and 1,000,000 random points on land.

    .venv/bin/python bench/routing.py [--points 1000000] [--lookups 5000] [--naive-sample 20000]

It works in its own database (the name of DATABASE_URL + "_bench", created, migrated
and loaded on the first run; later runs reuse it) so the national layer never mixes
with the demo data. Prints every figure, its same-run baseline, the ratio and the data
sizes:

(a) one lookup at a time on one connection through boundaries.lookup.locate(), p50/p99,
    against SELECT 1 on the same connection (target: p99 <= 3x SELECT 1's);
(b) bulk locate_points (COPY in, join driven from the parts, snap, COPY out) over all
    points, --repeat runs, each printed with its phases and the load average, against
    the naive one-probe-per-point join on the raw polygons on a sample (target: >= 5x
    the naive rate and >= 100,000 points/s on every run);
(c) single lookups on the subdivided parts against the same probe on the raw polygons.
"""

import argparse
import gzip
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo_portal.settings")


def _bench_database_url():
    import dj_database_url

    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/geo_portal")
    cfg = dj_database_url.parse(url)
    name = cfg["NAME"] + "_bench"
    return url.rsplit("/", 1)[0] + "/" + name, cfg, name


def _ensure_database():
    import psycopg

    url, cfg, name = _bench_database_url()
    admin = psycopg.connect(
        host=cfg["HOST"] or None,
        port=cfg["PORT"] or None,
        user=cfg["USER"] or None,
        password=cfg["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    with admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(
        host=cfg["HOST"] or None,
        port=cfg["PORT"] or None,
        user=cfg["USER"] or None,
        password=cfg["PASSWORD"] or None,
        dbname=name,
        autocommit=True,
    ) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    os.environ["DATABASE_URL"] = url
    return name


def say(msg=""):
    print(msg, flush=True)


def load_national(connection, Area, AreaType, BoundaryVersion):
    """Bulk load of the national full-resolution communes as vn-2025/commune (idempotent:
    skipped when the 3,321 communes are there)."""
    import datetime as dt

    import pyogrio
    import shapely
    from django.conf import settings

    ctype, _ = AreaType.objects.get_or_create(
        code="commune", defaults={"name": "Xã/Phường/Đặc khu", "name_en": "Commune", "level": 30}
    )
    version, _ = BoundaryVersion.objects.get_or_create(
        code="vn-2025",
        defaults={
            "name": "Việt Nam 2025 (bench, full resolution)",
            "jurisdiction": "VN",
            "valid_from": dt.date(2025, 7, 1),
        },
    )
    have = Area.objects.filter(version=version, type=ctype).count()
    if have >= 3321:
        return version, ctype, 0.0
    t0 = time.perf_counter()
    path = settings.DATA_DIR / "vn-boundaries" / "2025" / "wards_all_full.geojson.gz"
    say(f"loading {path.name} …")
    df = pyogrio.read_dataframe(f"/vsigzip/{path}")
    geoms = shapely.set_srid(shapely.from_wkb(shapely.to_wkb(df.geometry.values)), 4326)
    hexes = shapely.to_wkb(geoms, hex=True, include_srid=True)
    with connection.cursor() as cur:
        cur.execute("DELETE FROM boundaries_area WHERE version_id = %s AND type_id = %s", [version.id, ctype.id])
        cur.execute("CREATE TEMP TABLE _stage (code text, name text, name_en text, g geometry)")
        with cur.connection.cursor() as rc, rc.copy("COPY _stage (code, name, name_en, g) FROM STDIN") as cp:
            for code, name, name_en, h in zip(df["ward_code"], df["full_name"], df["name_en"], hexes, strict=True):
                cp.write_row((code, name, name_en or "", h))
        cur.execute(
            """
            INSERT INTO boundaries_area (version_id, type_id, code, name, name_en, geom, geom_checksum, properties,
                                         updated_at)
            SELECT %s, %s, code, name, name_en, ST_Multi(g), encode(sha256(ST_AsBinary(g)), 'hex'),
                   jsonb_build_object('full_name', name), now()
            FROM _stage
            """,
            [version.id, ctype.id],
        )
        cur.execute(
            """
            INSERT INTO boundaries_areapart (area_id, version_id, type_id, geom)
            SELECT id, version_id, type_id, ST_Subdivide(geom, 256) FROM boundaries_area
            WHERE version_id = %s AND type_id = %s
            """,
            [version.id, ctype.id],
        )
        cur.execute("DROP TABLE _stage")
        cur.execute("ANALYZE boundaries_area; ANALYZE boundaries_areapart")
    return version, ctype, time.perf_counter() - t0


def make_points(connection, version, ctype, n):
    """n random points on land: per subdivided part, a share of n proportional to its area
    (ST_GeneratePoints), kept in bench_points(id, lon, lat)."""
    with connection.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS bench_points (id bigint PRIMARY KEY, lon float8, lat float8)")
        cur.execute("SELECT count(*) FROM bench_points")
        if cur.fetchone()[0] == n:
            return 0.0
        t0 = time.perf_counter()
        cur.execute("TRUNCATE bench_points")
        cur.execute("SELECT setseed(0.42)")
        cur.execute(
            """
            WITH parts AS (
                SELECT geom, ST_Area(geom::geography) AS a FROM boundaries_areapart
                WHERE version_id = %(v)s AND type_id = %(t)s
            ), tot AS (SELECT sum(a) AS s FROM parts),
            alloc AS (
                -- a little over n, then LIMIT n
                SELECT geom, floor(%(n)s * 1.002 * a / s + random())::int AS k FROM parts, tot
            )
            INSERT INTO bench_points (id, lon, lat)
            SELECT row_number() OVER (), ST_X(d.geom), ST_Y(d.geom)
            FROM (SELECT (ST_Dump(ST_GeneratePoints(geom, k))).geom FROM alloc WHERE k > 0) d
            ORDER BY random()
            LIMIT %(n)s
            """,
            {"v": version.id, "t": ctype.id, "n": n},
        )
        cur.execute("ANALYZE bench_points")
        return time.perf_counter() - t0


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def timed_loop(fn, items):
    out = []
    for it in items:
        t = time.perf_counter()
        fn(it)
        out.append(time.perf_counter() - t)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=5000)
    parser.add_argument("--naive-sample", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="bulk runs (every run is printed and judged)")
    args = parser.parse_args()

    dbname = _ensure_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from boundaries.lookup import LOCATE_SQL, locate, locate_params, run_prepared
    from boundaries.management.commands.locate_points import locate_csv
    from boundaries.models import Area, AreaType, BoundaryVersion

    call_command("migrate", verbosity=0)
    say("== geo_portal routing benchmark ==")
    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
        platform.processor(),
    )
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    with connection.cursor() as cur:
        cur.execute("SELECT version(), postgis_lib_version()")
        pg, postgis = cur.fetchone()
    say(
        f"machine: {cpu}, {os.cpu_count()} cores, {mem_gb:.0f} GB RAM; {pg.split(' on ')[0]}, PostGIS {postgis}; "
        f"database {dbname}"
    )

    version, ctype, load_s = load_national(connection, Area, AreaType, BoundaryVersion)
    if load_s:
        say(f"loaded national communes in {load_s:.1f} s")
    pts_s = make_points(connection, version, ctype, args.points)
    if pts_s:
        say(f"generated {args.points:,} points on land in {pts_s:.1f} s")
    with connection.cursor() as cur:
        cur.execute(
            """SELECT count(*), sum(ST_NPoints(geom)), pg_total_relation_size('boundaries_area')
               FROM boundaries_area WHERE version_id = %s AND type_id = %s""",
            [version.id, ctype.id],
        )
        n_areas, n_vertices, area_bytes = cur.fetchone()
        cur.execute(
            """SELECT count(*), avg(ST_NPoints(geom)), pg_total_relation_size('boundaries_areapart')
               FROM boundaries_areapart WHERE version_id = %s AND type_id = %s""",
            [version.id, ctype.id],
        )
        n_parts, avg_part_vertices, part_bytes = cur.fetchone()
        cur.execute("SELECT count(*) FROM bench_points")
        n_points = cur.fetchone()[0]
    say(
        f"data: {n_areas:,} communes, {n_vertices:,} vertices, table {area_bytes / 2**20:.0f} MB; "
        f"{n_parts:,} parts (ST_Subdivide 256, avg {avg_part_vertices:.0f} vertices), table {part_bytes / 2**20:.0f} "
        "MB; "
        f"{n_points:,} points"
    )

    # ---------------------------------------------------------------- (a) single lookups
    with connection.cursor() as cur:
        cur.execute("SELECT lon, lat FROM bench_points ORDER BY id LIMIT %s", [args.lookups])
        sample = cur.fetchall()
    # First pass over the sample: cold (the 130 MB of parts and 116 MB of areas do not
    # fit in shared_buffers = 128 MB: pages come from the OS cache); it also warms up.
    t_cold = timed_loop(locate, sample)
    for _ in range(300):
        run_prepared("SELECT 1", {})

    def select1_django(_):
        with connection.cursor() as c:
            c.execute("SELECT 1")
            c.fetchall()

    found = 0
    t_loc, t_s1, t_s1d = [], [], []
    for lon, lat in sample:  # interleaved so both see the same machine noise
        t = time.perf_counter()
        r = locate((lon, lat))
        t_loc.append(time.perf_counter() - t)
        found += r.commune is not None
        t = time.perf_counter()
        run_prepared("SELECT 1", {})
        t_s1.append(time.perf_counter() - t)
        t = time.perf_counter()
        select1_django(None)
        t_s1d.append(time.perf_counter() - t)
    ms = lambda v: v * 1000  # noqa: E731
    say("")
    say(f"(a) single lookups, one connection, {len(sample):,} points ({found:,} found a commune), second pass (warm):")
    say(
        f"    locate()                  p50 {ms(percentile(t_loc, 50)):.3f} ms   p99 {ms(percentile(t_loc, 99)):.3f} "
        f"ms   mean {ms(statistics.mean(t_loc)):.3f} ms"
    )
    say(
        f"    locate() first pass, cold  p50 {ms(percentile(t_cold, 50)):.3f} ms   p99 "
        f"{ms(percentile(t_cold, 99)):.3f} ms"
    )
    say(f"    SELECT 1 (same path)      p50 {ms(percentile(t_s1, 50)):.3f} ms   p99 {ms(percentile(t_s1, 99)):.3f} ms")
    say(
        f"    SELECT 1 (Django cursor)  p50 {ms(percentile(t_s1d, 50)):.3f} ms   p99 {ms(percentile(t_s1d, 99)):.3f} ms"
    )
    say(
        f"    ratio p99 locate / SELECT 1: {percentile(t_loc, 99) / percentile(t_s1, 99):.2f}x (same path), "
        f"{percentile(t_loc, 99) / percentile(t_s1d, 99):.2f}x (Django cursor)   target <= 3x; "
        f"p50 ratio {percentile(t_loc, 50) / percentile(t_s1, 50):.2f}x"
    )

    # ---------------------------------------------------------------- (b) bulk
    csv_path = ROOT / "var" / "bench" / "points.csv.gz"
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    if not csv_path.exists() or csv_path.stat().st_mtime < time.time() - 86400 * 30 or pts_s:
        with connection.cursor() as cur, gzip.open(csv_path, "wb", compresslevel=1) as f:
            with (
                cur.connection.cursor() as rc,
                rc.copy(
                    "COPY (SELECT id, lat, lon FROM bench_points ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER true)"
                ) as cp,
            ):
                for block in cp:
                    f.write(block)
    # plain CSV out: gzip-compressing 68 MB in Python costs ~4 s more per million rows
    out_path = csv_path.with_name("points_located.csv")
    # Every run is printed and judged against the target (the machine is shared: each
    # with the load average around it).
    runs = []
    for _run in range(args.repeat):
        load_before = os.getloadavg()[0]
        st = locate_csv(csv_path, out_path, "lat", "lon", "commune", version_code=version.code, progress=False)
        st["load"] = (load_before, os.getloadavg()[0])
        runs.append(st)
    stats = min(runs, key=lambda st: st["total_s"])
    bulk_rate = stats["rows"] / stats["total_s"]
    sql_s = stats["prepare_s"] + stats["join_s"] + stats["snap_s"] + stats["resolve_s"]
    join_rate = stats["valid"] / (stats["join_s"] + stats["prepare_s"])

    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_naive")
        cur.execute(
            "CREATE TEMP TABLE bench_naive AS SELECT id, ST_SetSRID(ST_MakePoint(lon, lat), 4326) g "
            "FROM bench_points ORDER BY id LIMIT %s",
            [args.naive_sample],
        )
        cur.execute("ANALYZE bench_naive")
        naive_times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            cur.execute(
                """SELECT count(*) FROM bench_naive p
                   JOIN LATERAL (SELECT a.id FROM boundaries_area a
                                 WHERE a.version_id = %s AND a.type_id = %s AND ST_Covers(a.geom, p.g)
                                 ORDER BY a.code LIMIT 1) hit ON true""",
                [version.id, ctype.id],
            )
            naive_found = cur.fetchone()[0]
            naive_s = time.perf_counter() - t
            naive_times.append(naive_s)
        naive_s = min(naive_times)
        naive_rate = args.naive_sample / naive_s
        # same naive probe but on the parts: what subdividing alone buys in bulk
        t = time.perf_counter()
        cur.execute(
            """SELECT count(*) FROM bench_naive p
               JOIN LATERAL (SELECT q.area_id FROM boundaries_areapart q
                             WHERE q.version_id = %s AND q.type_id = %s AND ST_Covers(q.geom, p.g)
                             LIMIT 1) hit ON true""",
            [version.id, ctype.id],
        )
        cur.fetchone()
        naive_parts_rate = args.naive_sample / (time.perf_counter() - t)
    say("")
    say(
        f"(b) bulk: locate_points over {stats['rows']:,} points (CSV.gz in, plain CSV out), located "
        f"{stats['located']:,}, snapped {stats['snapped']:,}:"
    )
    for i, st in enumerate(runs, 1):
        rate = st["rows"] / st["total_s"]
        say(
            f"    run {i}: {st['total_s']:.1f} s = {rate:,.0f} points/s, {rate / naive_rate:.1f}x naive "
            f"(copy in {st['copy_in_s']:.1f} s, points+index {st['prepare_s']:.1f} s, join {st['join_s']:.1f} s, "
            f"resolve {st['resolve_s']:.1f} s, snap {st['snap_s']:.1f} s, copy out {st['copy_out_s']:.1f} s; "
            f"load average {st['load'][0]:.2f} -> {st['load'][1]:.2f})"
        )
    worst = max(runs, key=lambda st: st["total_s"])
    worst_rate = worst["rows"] / worst["total_s"]
    say(
        f"    every run >= 100,000 points/s: {'yes' if worst_rate >= 100_000 else 'NO'} (slowest {worst_rate:,.0f}, "
        f"fastest {bulk_rate:,.0f}; SQL of the fastest {sql_s:.1f} s)"
    )
    say(f"    join from the parts (points table + index + join): {join_rate:,.0f} points/s")
    say(
        f"    naive one-probe-per-point on the raw polygons, {args.naive_sample:,} points: {naive_s:.1f} s = "
        f"{naive_rate:,.0f} points/s ({naive_found:,} found)"
    )
    say(f"    (the same naive probe on the parts: {naive_parts_rate:,.0f} points/s)")
    say(
        f"    ratio bulk end to end / naive: {worst_rate / naive_rate:.1f}x (slowest run) - "
        f"{bulk_rate / naive_rate:.1f}x (fastest)   target >= 5x and >= 100,000 points/s on every run"
    )

    # ---------------------------------------------------------------- (c) parts vs raw
    probe_parts = (
        "SELECT p.area_id FROM boundaries_areapart p WHERE p.version_id = %(v)s AND p.type_id = %(t)s "
        "AND ST_Covers(p.geom, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326))"
    )
    probe_raw = (
        "SELECT a.id FROM boundaries_area a WHERE a.version_id = %(v)s AND a.type_id = %(t)s "
        "AND ST_Covers(a.geom, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326))"
    )
    sub = sample[: min(2000, len(sample))]
    params = [{"v": version.id, "t": ctype.id, "lon": lon, "lat": lat} for lon, lat in sub]
    for p in params[:50]:
        run_prepared(probe_parts, p)
        run_prepared(probe_raw, p)
    t_parts, t_raw = [], []
    for p in params:
        t = time.perf_counter()
        run_prepared(probe_parts, p)
        t_parts.append(time.perf_counter() - t)
        t = time.perf_counter()
        run_prepared(probe_raw, p)
        t_raw.append(time.perf_counter() - t)
    import datetime as dt

    day = dt.date.today()
    t_loc_raw = []
    # the very same query, on the raw polygons instead of the parts
    raw_locate = (
        LOCATE_SQL.replace("boundaries_areapart p", "boundaries_area p")
        .replace("a.id = p.area_id", "a.id = p.id")
        .replace("p.area_id", "p.id AS area_id")
    )
    for lon, lat in sub:
        t = time.perf_counter()
        run_prepared(raw_locate, locate_params(lon, lat, day))
        t_loc_raw.append(time.perf_counter() - t)
    say("")
    say(f"(c) single lookups, subdivided parts vs raw polygons ({len(sub):,} points):")
    say(f"    probe on parts     p50 {ms(percentile(t_parts, 50)):.3f} ms   p99 {ms(percentile(t_parts, 99)):.3f} ms")
    say(f"    probe on raw       p50 {ms(percentile(t_raw, 50)):.3f} ms   p99 {ms(percentile(t_raw, 99)):.3f} ms")
    say(
        f"    locate() query on raw polygons  p50 {ms(percentile(t_loc_raw, 50)):.3f} ms   p99 "
        f"{ms(percentile(t_loc_raw, 99)):.3f} ms"
    )
    say(
        f"    ratio raw / parts: p50 {percentile(t_raw, 50) / percentile(t_parts, 50):.1f}x, "
        f"p99 {percentile(t_raw, 99) / percentile(t_parts, 99):.1f}x; "
        f"locate() raw / parts p50 {percentile(t_loc_raw, 50) / percentile(t_loc, 50):.1f}x"
    )


if __name__ == "__main__":
    main()
