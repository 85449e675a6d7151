"""National design point (issue 11, item 4): reports of the whole country over 5 years.

    nice -n 10 .venv/bin/python bench/national.py [--reports 10000000] [--first 1000000]

Own database (the name of DATABASE_URL + "_national", created and migrated on the first
run; later runs reuse it and only add what is missing). Set-up: every commune and
province of vn-2025 (fixtures.boundaries with the national layer: the four demo
provinces at full resolution, the 30 others simplified at 50 m — 3,321 communes), the
categories, and authorities for all 34 provinces (the demo seeding code run for every
province: provincial bodies and one committee per commune).

Reports are generated in SQL by heatmaps.synthetic (ST_GeneratePoints per commune
weighted by urbanness, categories by share, authorities as routing picks them, states
by age) over 5 years, in batches; then the roll-ups are rebuilt (refresh_all). First
--first reports, everything measured; then grown to --reports, measured again with the
same requests (same tiles, same province), and each figure printed at both sizes with
the growth ratio (target: per-request times grow <= 2x; one day's refresh <= 60 s).

Measured (median of --repeat after one warm-up; the machine is shared: the load average
is printed with every block):
  * dashboard: GET /tong-quan/ (national figures, per province, per group, monthly series),
  * ranking: GET /xep-hang/ and GET /api/v1/stats/ranking/,
  * a province's wall state: GET /api/v1/ioc/state/?province=22 (staff),
  * map tiles z6-z14 of the map's default month, through heatmaps.tiles.tile as it is on
    this branch (cold: no tile cache; z6-z9 bins: the stored tile of the month
    (heatmaps.models.BinTile), and beside it the same tile rendered from the grid
    roll-up as a filtered view is; z10+ points: at HEATMAP_STORED_POINT_ZOOMS the stored
    tile (heatmaps.models.PointTile), and beside it the tile rendered from the point
    projection as a filtered view is),
  * the views a planner picks beside it, on the same tiles z6-z14 (planners_views): all
    time, one category of all time, the open reports of all time, as the map asks for
    them (what is stored is read, the rest rendered when asked),
  * roll-up refresh of one day's reports (total / (5 x 365)) and of a busy day (x5):
    inserted with created_at in the last day, then refresh_incremental() timed (the
    beat's job); the inserted reports are deleted again afterwards,
  * disk: pg_total_relation_size of the report tables, their indexes and the roll-ups,
    per million reports;
  * with --rebuild, only: refresh_all() on the size that is there, timed, while another
    connection reads a stored point tile, a stored bin tile, the wall's state and the
    national figures over and over (they must answer from the roll-ups of before).
Results are kept in var/bench/national.json (one entry per size; NATIONAL_RESULTS names
another file, NATIONAL_DB another database), so the comparison can be printed again with
--report-only.
"""

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo_portal.settings")
RESULTS = ROOT / "var" / "bench" / os.environ.get("NATIONAL_RESULTS", "national.json")
YEARS = 5
WALL_PROVINCE = "22"


def say(msg=""):
    print(msg, flush=True)


def load():
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def _ensure_database():
    import dj_database_url
    import psycopg

    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/geo_portal")
    cfg = dj_database_url.parse(url)
    name = os.environ.get("NATIONAL_DB") or cfg["NAME"] + "_national"
    conn_kw = {"host": cfg["HOST"] or None, "port": cfg["PORT"] or None, "user": cfg["USER"] or None,
               "password": cfg["PASSWORD"] or None}
    with psycopg.connect(dbname="postgres", autocommit=True, **conn_kw) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(dbname=name, autocommit=True, **conn_kw) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    os.environ["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + name
    return name


def setup_country():
    """Boundaries of the whole country, categories, authorities of all 34 provinces."""
    from django.db import transaction

    import fixtures.authorities as authorities
    from boundaries.models import Area, Authority
    from fixtures.boundaries import load_boundaries, official_provinces
    from fixtures.seed import seed_all

    if Area.objects.filter(version__code="vn-2025", type__code="commune").count() < 3321:
        t = time.perf_counter()
        load_boundaries(national=True)
        say(f"loaded the national boundaries in {time.perf_counter() - t:.0f} s")
    if Authority.objects.filter(code__startswith="ubnd-").count() < 3321:
        t = time.perf_counter()
        everyone = dict(authorities.DEMO_PROVINCES)
        for code, p in official_provinces().items():
            if code not in everyone:
                full = p["name"]
                prefix = "thành phố" if full.lower().startswith("thành phố") else "tỉnh"
                short = full[len(prefix):].strip() if full.lower().startswith(prefix) else full
                everyone[code] = (short, prefix, "2" + code.zfill(2), "trung tâm hành chính")
        # the demo seeding, for every province instead of the four demo ones
        authorities.DEMO_PROVINCES = everyone
        with transaction.atomic():
            seed_all()
        say(f"seeded authorities for {len(everyone)} provinces in {time.perf_counter() - t:.0f} s "
            f"({Authority.objects.count():,} authorities)")
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="bench-national",
                                                     defaults={"is_staff": True, "is_superuser": True})
    return user


def scalar(sql, params=()):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


def previous_month():
    """The month before this one (the map's busiest full month): the month measured."""
    return scalar("SELECT date_trunc('month', now() - interval '1 month')::date")


def report_count():
    return scalar("SELECT count(*) FROM reports_report")




def saved_indexes():
    """Where the definitions of the dropped indexes wait, one file per database."""
    from django.db import connection

    return RESULTS.with_name(f"national_dropped_indexes_{connection.settings_dict['NAME']}.json")

BULK_TABLES = ("reports_report", "heatmaps_reportpoint", "heatmaps_gridrollup")


def drop_indexes(tables):
    """Drop the secondary indexes of these tables (the primary keys and unique
    constraints stay), keeping their definitions in a file until restore_indexes()."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
               WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
            [list(tables)],
        )
        found = cur.fetchall()
        kept = json.loads(saved_indexes().read_text()) if saved_indexes().exists() else []
        saved_indexes().parent.mkdir(parents=True, exist_ok=True)
        saved_indexes().write_text(json.dumps(kept + [ddl for _name, ddl in found], indent=1))
        for name, _ddl in found:
            cur.execute(f"DROP INDEX {name}")


def restore_indexes():
    """Re-create the indexes dropped for a bulk load (also after a crash: the
    definitions stay in a file until they are back) and re-enable the triggers."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ALTER TABLE reports_report ENABLE TRIGGER ALL")
        if not saved_indexes().exists():
            return 0.0
    t = time.perf_counter()
    ddls = json.loads(saved_indexes().read_text())
    # the slow ones (GiST, several columns) first, two builds at a time (2 cores)
    ddls.sort(key=lambda d: ("gist" not in d, -d.count(",")))
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(_build_index, ddls))
    saved_indexes().unlink()
    return time.perf_counter() - t


def _build_index(ddl):
    from django.db import connection

    try:
        with connection.cursor() as cur:
            cur.execute("SET maintenance_work_mem = '512MB'")
            cur.execute(ddl.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1))
    finally:
        connection.close()


def _generate_batch(n, seed):
    from django.db import connection

    from heatmaps.synthetic import generate

    try:
        generate(n, seed=seed, days=365 * YEARS)
    finally:
        connection.close()


def _refresh_pairs(pairs, now):
    from django.db import connection

    from heatmaps import aggregates as agg

    try:
        # every report of these provinces in one pass (the pairs are all they have)
        agg.refresh_months(pairs, now=now, everything=True)
    finally:
        connection.close()


def parallel_refresh_all(workers=2):
    """heatmaps.aggregates.refresh_all() with its (month, province) pairs split by
    province over ``workers`` connections (INSERT … SELECT runs on one core in
    PostgreSQL 15): the same rows, the same watermarks. The stored tiles are left to
    the caller (grow_to renders them once the indexes are back)."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection
    from django.utils import timezone

    from heatmaps import aggregates as agg
    from heatmaps.models import RefreshState

    now = timezone.now()
    with connection.cursor() as cur:
        cur.execute("TRUNCATE " + ", ".join(agg.ROLLUP_TABLES))
    pairs = agg._pairs_of("TRUE", [])
    provinces = sorted({p for _m, p in pairs})
    groups = [[pair for pair in pairs if provinces.index(pair[1]) % workers == i] for i in range(workers)]
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(_refresh_pairs, groups, [now] * workers))
    agg._state()
    # Every batch has committed and this is the only writer: the roll-ups hold every
    # report there is. The beat's lag (HEATMAP_REFRESH_LAG_S, for transactions still
    # open) would make the next refresh redo each month of the last batch, whose
    # reports the generator stamped updated_at = its start, within the lag of ``now``:
    # 1,810 (month, province) pairs at 10 M, a rebuild instead of one day's refresh.
    with connection.cursor() as cur:
        cur.execute("SELECT max(updated_at) FROM reports_report")
        newest = cur.fetchone()[0] or now
    RefreshState.objects.filter(name="default").update(updated_watermark=newest, due_watermark=now)


def grow_to(target, batch, workers=2):
    """Add reports until there are ``target`` and rebuild the roll-ups
    (parallel_refresh_all); returns
    (seconds generating, seconds re-indexing, seconds of refresh_all).

    Bulk-load practice: the 26 secondary indexes of reports_report (2 GiST, 24 B-tree)
    and those of the point and grid roll-ups are dropped first and built again at the
    end (the primary keys and unique constraints stay), and the foreign-key triggers
    are off during the load (the generator takes every id from the referenced tables):
    inserting 9 M rows into 28 indexes whose pages do not fit in memory costs random
    I/O per row and index. Batches run in ``workers`` connections (2 cores). The table
    stays LOGGED: tables of events, photos… reference it, and a logged table cannot
    reference an unlogged one."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection


    have = report_count()
    drop_indexes(BULK_TABLES)
    with connection.cursor() as cur:
        cur.execute("ALTER TABLE reports_report DISABLE TRIGGER ALL")
        # the generator's code sequence, made here once: two batches starting together
        # on a new database both ran CREATE SEQUENCE IF NOT EXISTS and one failed
        cur.execute("CREATE SEQUENCE IF NOT EXISTS bench_code_seq")
    t0 = time.perf_counter()
    try:
        sizes, left = [], target - have
        while left > 0:
            sizes.append(min(batch, left))
            left -= sizes[-1]
        first_seed = -(-have // batch) + 1  # after the seeds of the batches already there
        with ThreadPoolExecutor(workers) as pool:
            jobs = [pool.submit(_generate_batch, n, (first_seed + i) / 1000) for i, n in enumerate(sizes)]
            for job in jobs:
                job.result()
                say(f"  {report_count():,} reports ({(report_count() - have) / (time.perf_counter() - t0):,.0f} "
                    f"reports/s so far; {load()})")
        gen_s = time.perf_counter() - t0
        t = time.perf_counter()
        # the roll-ups from scratch (points and grid written without their indexes)
        parallel_refresh_all(workers)
        refresh_s = time.perf_counter() - t
    finally:
        reindex_s = restore_indexes()
    from heatmaps import aggregates as agg

    with connection.cursor() as cur:
        # What autovacuum does after a bulk load, at once: statistics, and the
        # visibility map that lets counts of a province's open reports (the wall) read
        # a partial index alone instead of every heap page those reports are on; and
        # what refresh_all does after its rebuild, for every roll-up (the grid's totals
        # were left out once: unanalysed and without a visibility map, the tiles of all
        # time at z6-z9 took 83-163 ms at p50 at 10 M, 15-24 ms after a VACUUM).
        for table in dict.fromkeys((*BULK_TABLES, *agg.ROLLUP_TABLES)):
            cur.execute(f"VACUUM (ANALYZE) {table}")
    say(f"  indexes built again in {reindex_s:.0f} s")
    # The stored tiles (refresh_all's last step) once the indexes are back: a stored
    # point tile reads its points through the point projection's GiST index, and a
    # tile may hold cells or points of provinces of both workers.
    from heatmaps import tiles

    t = time.perf_counter()
    tiles.store_all_tiles()
    tiles_s = time.perf_counter() - t
    with connection.cursor() as cur:
        cur.execute("SELECT (SELECT count(*) FROM heatmaps_bintile), (SELECT count(*) FROM heatmaps_pointtile), "
                    "pg_total_relation_size('heatmaps_bintile'), pg_total_relation_size('heatmaps_pointtile')")
        bins, points, bins_b, points_b = cur.fetchone()
    say(f"  stored tiles rendered in {tiles_s:.0f} s: {bins:,} bin tiles ({bins_b / 2**20:.0f} MB), {points:,} point "
        f"tiles ({points_b / 2**20:.0f} MB)")
    return gen_s, reindex_s, refresh_s + tiles_s


def disk_use():
    from heatmaps import aggregates as agg

    tables = ["reports_report", "reports_reportevent", *agg.ROLLUP_TABLES]
    out = {}
    for tname in tables:
        out[tname] = {
            "table": scalar("SELECT pg_table_size(%s)", [tname]),
            "indexes": scalar("SELECT pg_indexes_size(%s)", [tname]),
        }
    return out


def pct(values, p):
    values = sorted(values)
    return values[max(0, min(len(values) - 1, int(round(p / 100 * (len(values) - 1)))))]


def deg2tile(lat, lon, z):
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def sample_tiles(k, seed=7):
    """k tiles per zoom 6..14 around sampled report locations (where people look)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT setseed(0.3)")
        cur.execute("SELECT ST_Y(location), ST_X(location) FROM reports_report TABLESAMPLE BERNOULLI (1) "
                    "REPEATABLE (7) LIMIT 5000")
        rows = cur.fetchall()
    rng = random.Random(seed)
    rng.shuffle(rows)
    out = {}
    for z in range(6, 15):
        seen = []
        for lat, lon in rows:
            t = deg2tile(lat, lon, z)
            if t not in seen:
                seen.append(t)
            if len(seen) >= k:
                break
        out[str(z)] = seen
    return out


def time_request(client, url, repeat):
    client.get(url)  # warm-up
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        resp = client.get(url)
        ts.append((time.perf_counter() - t) * 1000)
        assert resp.status_code == 200, (url, resp.status_code, resp.content[:300])
    return {"median_ms": statistics.median(ts), "max_ms": max(ts), "runs_ms": ts}


def one_day_refresh(n_reports):
    """Insert n reports received in the last day, time the incremental refresh, delete them."""
    from heatmaps import aggregates as agg
    from heatmaps.synthetic import generate

    agg.refresh_incremental()  # start from an up-to-date state (deadlines passed meanwhile)
    before = scalar("SELECT max(id) FROM reports_report")
    t = time.perf_counter()
    generate(n_reports, seed=0.999, days=1)
    insert_s = time.perf_counter() - t
    # what was inserted, counted: the generator gives every commune at least one report
    # (3,321 of them), so a small day comes out larger than asked
    n_reports = scalar("SELECT count(*) FROM reports_report WHERE id > %s", [before])
    timed = timed_refresh_then_undone("id > %s", [before])
    return {"reports": n_reports, "insert_s": insert_s, **timed}


def timed_refresh_then_undone(new_reports_sql, params):
    """refresh_incremental() timed after reports were added (``new_reports_sql``: which,
    on reports_report), then the stored tiles of all time it left due rendered, timed (as
    the warm-up after it renders them, in the background, batch by batch); then those
    reports deleted again and their months counted anew (the beat's refresh leaves
    deleted reports to refresh_all)."""
    from django.db import connection

    from heatmaps import aggregates as agg
    from heatmaps import tiles

    t = time.perf_counter()
    pairs = agg.refresh_incremental()
    refresh_s = time.perf_counter() - t
    t = time.perf_counter()
    all_time_tiles = tiles.render_due_all_time_tiles()
    all_time_s = time.perf_counter() - t
    added = agg._pairs_of(new_reports_sql, params)
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM reports_report WHERE {new_reports_sql}", params)
    agg.refresh_months(added)
    agg.refresh_incremental()
    tiles.render_due_all_time_tiles()
    return {"refresh_s": refresh_s, "pairs": pairs, "all_time_tiles": all_time_tiles, "all_time_s": all_time_s}


def measure(user, tiles_by_zoom, repeat, day_reports):
    import datetime as dt

    from django.test import Client, override_settings

    from heatmaps import aggregates as agg
    from heatmaps import tiles
    from heatmaps.aggregates import Filters

    res = {"reports": report_count(), "load_before": os.getloadavg()}
    client = Client()
    client.force_login(user)
    # no response cache: every request computes its answer
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}):
        for name, url in [
            ("dashboard", "/tong-quan/"),
            ("ranking page", "/xep-hang/"),
            ("ranking api", "/api/v1/stats/ranking/"),
            ("national stats api", "/api/v1/stats/"),
            ("wall state", f"/api/v1/ioc/state/?province={WALL_PROVINCE}"),
        ]:
            res[name] = time_request(client, url, repeat)
            say(f"  {name:<20} {url:<40} median {res[name]['median_ms']:8.1f} ms  max {res[name]['max_ms']:8.1f} ms")
    last_month = previous_month()
    month = Filters(start=last_month, end=agg.next_month(last_month) - dt.timedelta(days=1))
    res["tiles"] = {}
    for z in range(6, 15):
        # Each tile rendered twice, no tile cache either time: the first read finds
        # the pages on disk (and sets their hint bits after the bulk load), the second
        # in PostgreSQL's buffers, as the tiles people look at usually are. The growth
        # compares the second; the first is kept beside it.
        first, ts, ns = [], [], []
        for x, y in tiles_by_zoom[str(z)]:
            for times in (first, ts):
                t = time.perf_counter()
                served = tiles.tile("reports", z, x, y, month)
                times.append((time.perf_counter() - t) * 1000)
            ns.append(served.count)
            _layer = served.layer
        res["tiles"][str(z)] = {"p50_ms": pct(ts, 50), "p95_ms": pct(ts, 95), "median_n": statistics.median(ns),
                                "layer": _layer, "first_p50_ms": pct(first, 50), "first_p95_ms": pct(first, 95)}
        say(f"  tiles z{z:<2} ({_layer:<7}) {len(ts)} tiles, median {statistics.median(ns):>7,.0f} "
            f"reports/tile, p50 {pct(ts, 50):7.1f} ms  p95 {pct(ts, 95):7.1f} ms   (first read: p50 "
            f"{pct(first, 50):7.1f} ms  p95 {pct(first, 95):7.1f} ms)")
        # Beside a stored tile served above, the same tiles rendered at request time, as
        # a view the stored tiles do not answer (a category or a state filter) is: from
        # the point projection, or from the grid roll-up.
        render, source = None, ""
        if _layer == "reports" and tiles.stored_point_month(z, month) is not None:
            render, source = tiles.point_tile, "the point projection"
        elif _layer == "bins" and tiles.stored_month(z, month) is not None:
            render, source = tiles.bin_tile, "the roll-up"
        if render is not None:
            rendered = []
            for x, y in tiles_by_zoom[str(z)]:
                render(z, x, y, month)
                t = time.perf_counter()
                render(z, x, y, month)
                rendered.append((time.perf_counter() - t) * 1000)
            res["tiles"][str(z)].update(rendered_p50_ms=pct(rendered, 50), rendered_p95_ms=pct(rendered, 95))
            say(f"        rendered from {source} instead of stored: p50 {pct(rendered, 50):7.1f} ms  "
                f"p95 {pct(rendered, 95):7.1f} ms")
    res["views"] = measure_views(tiles_by_zoom)
    res["scales"] = measure_scales({"the default month": month, **planners_views()}, repeat)
    res["refresh_day"] = one_day_refresh(day_reports)
    res["refresh_busy_day"] = one_day_refresh(day_reports * 5)
    for key in ("refresh_day", "refresh_busy_day"):
        r = res[key]
        say(f"  {key:<20} {r['reports']:,} reports inserted in {r['insert_s']:.1f} s, refresh_incremental "
            f"{r['refresh_s']:.1f} s ({r['pairs']} (month, province) pairs); then the {r['all_time_tiles']:,} "
            f"stored tiles of all time it marked due rendered in {r['all_time_s']:.1f} s (the warm-up's work)")
    res["disk"] = disk_use()
    total = sum(v["table"] + v["indexes"] for v in res["disk"].values())
    res["disk_total"] = total
    say(f"  disk: {total / 2**30:.2f} GB in all = {total / 2**30 / (res['reports'] / 1e6):.2f} GB per million "
        "reports")
    for tname, v in res["disk"].items():
        say(f"    {tname:<26} table {v['table'] / 2**20:8.0f} MB  indexes {v['indexes'] / 2**20:8.0f} MB")
    res["load_after"] = os.getloadavg()
    return res


def planners_views():
    """The views a planner picks beside the default month, each as the map asks for it:
    all time (z6-z9: bins from the totals of all time; z10+: the stored tiles of all
    time), one category of all time and the open reports of all time (rendered when
    asked: from the totals, and from the point projection)."""
    from heatmaps.aggregates import Filters
    from reports import policy

    commonest = scalar("SELECT category_id FROM heatmaps_reportpoint GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
    return {"all time": Filters(), "a category, all time": Filters(category_ids=[commonest]),
            "open reports, all time": Filters(states=list(policy.OPEN.values))}


def measure_views(tiles_by_zoom):
    """planners_views() on the sampled tiles, as staff (every report), no tile cache:
    each tile asked twice, the second timed."""
    from heatmaps import tiles

    out = {}
    for name, filters in planners_views().items():
        out[name] = {}
        for z in range(6, 15):
            ts = []
            for x, y in tiles_by_zoom[str(z)]:
                tiles.tile("reports", z, x, y, filters)
                t = time.perf_counter()
                tiles.tile("reports", z, x, y, filters)
                ts.append((time.perf_counter() - t) * 1000)
            out[name][str(z)] = {"p50_ms": pct(ts, 50), "p95_ms": pct(ts, 95)}
        say(f"  {name:<24} p50 / p95 ms, z6-z14: " + "  ".join(
            f"z{z} {v['p50_ms']:.1f}/{v['p95_ms']:.1f}" for z, v in out[name].items()))
    return out


def measure_scales(views, repeat):
    """The bins' colour scale of each view (aggregates.bin_scale, what the map asks for
    before it draws a view's bins; kept HEATMAP_BIN_SCALE_SECONDS by the view), no
    cache: median and max of ``repeat`` runs, after one unmeasured."""
    from heatmaps import aggregates as agg
    from heatmaps import tiles

    out, zooms = {}, range(tiles.points_zoom())
    for name, filters in views.items():
        agg.bin_scale(filters, zooms)
        ts = []
        for _ in range(repeat):
            t = time.perf_counter()
            agg.bin_scale(filters, zooms)
            ts.append((time.perf_counter() - t) * 1000)
        out[name] = {"median_ms": statistics.median(ts), "max_ms": max(ts)}
        say(f"  bin scale, {name:<24} median {out[name]['median_ms']:8.1f} ms  max {out[name]['max_ms']:8.1f} ms")
    return out


def rebuild_with_reads(user, tiles_by_zoom):
    """refresh_all() timed (the full rebuild: after a cut-over, deletions, a change of
    the tile cap) while another connection keeps reading what the map wall and the
    planners' map read — a stored point tile, a stored bin tile, the wall's state, the
    national figures — one after another. Prints the rebuild's time and the reads' time
    and count during it: the reads answer from the roll-ups of before the rebuild, and
    must not wait for it."""
    import threading

    from django.db import connections
    from django.test import Client, override_settings

    from heatmaps import aggregates as agg

    last_month = previous_month()
    month = f"{last_month:%Y-%m}"
    urls = [f"/tiles/reports/12/{tiles_by_zoom['12'][0][0]}/{tiles_by_zoom['12'][0][1]}.pbf?month={month}",
            f"/tiles/reports/8/{tiles_by_zoom['8'][0][0]}/{tiles_by_zoom['8'][0][1]}.pbf?month={month}",
            f"/api/v1/ioc/state/?province={WALL_PROVINCE}", "/api/v1/stats/"]
    done, times, statuses = threading.Event(), [], []

    def reader():
        client = Client()
        client.force_login(user)
        with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}):
            from heatmaps import tile_cache

            while not done.is_set():
                for url in urls:
                    tile_cache.forget()
                    t = time.perf_counter()
                    statuses.append(client.get(url).status_code)
                    times.append((time.perf_counter() - t) * 1000)
        connections.close_all()

    thread = threading.Thread(target=reader)
    t0 = time.perf_counter()
    thread.start()
    try:
        agg.refresh_all()
    finally:
        rebuild_s = time.perf_counter() - t0
        done.set()
        thread.join()
    bad = sum(1 for code in statuses if code != 200)
    say(f"  refresh_all in {rebuild_s:.1f} s ({load()}); meanwhile {len(times):,} reads ({', '.join(urls)}): "
        f"p50 {pct(times, 50):.1f} ms, p99 {pct(times, 99):.1f} ms, slowest {max(times):.1f} ms, "
        f"not 200: {bad}")
    return {"rebuild_s": rebuild_s, "reads": len(times), "read_p50_ms": pct(times, 50),
            "read_p99_ms": pct(times, 99), "read_max_ms": max(times), "not_200": bad}


def print_comparison(results):
    sizes = sorted(results, key=int)
    if len(sizes) < 2:
        return
    a, b = results[sizes[0]], results[sizes[-1]]
    na, nb = a["reports"], b["reports"]
    say("")
    say(f"== growth from {na:,} to {nb:,} reports ({nb / na:.1f}x) ==")
    say(f"   loads: {a['load_before']} / {b['load_before']}")
    rows = [(k, a[k]["median_ms"], b[k]["median_ms"])
            for k in ("dashboard", "ranking page", "ranking api", "national stats api", "wall state")]
    rows += [(f"tile z{z} p50 ({a['tiles'][z]['layer']})", a["tiles"][z]["p50_ms"], b["tiles"][z]["p50_ms"])
             for z in sorted(a["tiles"], key=int)]
    rows += [(f"tile z{z} p95", a["tiles"][z]["p95_ms"], b["tiles"][z]["p95_ms"]) for z in sorted(a["tiles"], key=int)]
    rendered = [(f"  z{z} rendered, not stored, p50", a["tiles"][z]["rendered_p50_ms"],
                 b["tiles"][z]["rendered_p50_ms"])
                for z in sorted(a["tiles"], key=int)
                if "rendered_p50_ms" in a["tiles"][z] and "rendered_p50_ms" in b["tiles"][z]]
    worst = 0.0
    for name, x, y in rows:
        worst = max(worst, y / x)
        say(f"   {name:<26} {x:9.1f} ms  {y:9.1f} ms   growth {y / x:5.2f}x")
    say(f"   worst per-request growth {worst:.2f}x (target <= 2x)")
    for name, x, y in rendered:
        say(f"   {name:<26} {x:9.1f} ms  {y:9.1f} ms   growth {y / x:5.2f}x (a filtered view's tile)")
    for view in a.get("views", {}):
        if view not in b.get("views", {}):
            continue
        for stat in ("p50_ms", "p95_ms"):
            growth = [b["views"][view][z][stat] / a["views"][view][z][stat] for z in a["views"][view]]
            say(f"   {view + ', ' + stat[:3]:<34} growth z6-z14: " + " ".join(f"{g:.2f}" for g in growth)
                + f"   (worst {max(growth):.2f}x)")
    for view in a.get("scales", {}):
        if view in b.get("scales", {}):
            x, y = a["scales"][view]["median_ms"], b["scales"][view]["median_ms"]
            say(f"   {'bin scale, ' + view:<34} {x:9.1f} ms  {y:9.1f} ms   growth {y / x:5.2f}x")
    for key in ("refresh_day", "refresh_busy_day"):
        ra, rb = a[key], b[key]
        say(f"   {key:<26} {ra['reports']:,} reports {ra['refresh_s']:6.1f} s   {rb['reports']:,} reports "
            f"{rb['refresh_s']:6.1f} s   growth {rb['refresh_s'] / ra['refresh_s']:5.2f}x (target <= 60 s)")
    for r in (a, b):
        say(f"   disk at {r['reports']:,}: {r['disk_total'] / 2**30:.2f} GB = "
            f"{r['disk_total'] / 2**30 / (r['reports'] / 1e6):.2f} GB per million reports")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=10_000_000)
    parser.add_argument("--first", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=500_000)
    parser.add_argument("--workers", type=int, default=2, help="connections generating at once")
    parser.add_argument("--tiles", type=int, default=20, help="tiles per zoom")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--remeasure", action="store_true", help="measure a size already measured again")
    parser.add_argument("--measure-only", action="store_true", help="never generate: measure the size that is there")
    parser.add_argument("--rebuild", action="store_true",
                        help="only time refresh_all on the size that is there, with reads beside it")
    args = parser.parse_args()

    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if args.report_only:
        print_comparison({k: v for k, v in results.items() if k.isdigit()})
        return
    dbname = _ensure_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    say(f"== national design point (database {dbname}, {os.cpu_count()} cores, {load()}) ==")
    restore_indexes()  # after an interrupted load
    user = setup_country()
    tiles_path = RESULTS.with_name("national_tiles.json")
    if args.rebuild:
        say(f"\n-- full rebuild of {report_count():,} reports, reads beside it --")
        results.setdefault("rebuild", {})[str(report_count())] = rebuild_with_reads(
            user, json.loads(tiles_path.read_text()))
        RESULTS.write_text(json.dumps(results, indent=1, default=str))
        return
    for size in sorted({args.first, args.reports}):
        have = report_count()
        if have > size * 1.01:
            say(f"{have:,} reports already: skipping the {size:,} step")
            continue
        if have < size * 0.99 and args.measure_only:
            continue
        if have < size * 0.99:
            say(f"generating {size - have:,} reports ({YEARS} years) …")
            gen_s, reindex_s, refresh_s = grow_to(size, args.batch, args.workers)
            say(f"generated in {gen_s:.0f} s; roll-ups rebuilt (refresh_all in {args.workers} connections, without "
                "their indexes) in "
                f"{refresh_s:.0f} s; indexes of the reports and roll-ups built in {reindex_s:.0f} s ({load()})")
            results.setdefault("load", {})[str(size)] = {"generate_s": gen_s, "refresh_all_s": refresh_s,
                                                         "reindex_s": reindex_s}
        elif str(size) in results and not args.remeasure:
            say(f"{have:,} reports: measured already (var/bench/national.json; --remeasure to measure again)")
            continue
        if not tiles_path.exists():
            tiles_path.parent.mkdir(parents=True, exist_ok=True)
            tiles_path.write_text(json.dumps(sample_tiles(args.tiles)))
        tiles_by_zoom = json.loads(tiles_path.read_text())
        day_reports = round(size / (YEARS * 365))  # a day's reports at this size
        say(f"\n-- {report_count():,} reports ({load()}); one day = {day_reports:,} reports --")
        res = measure(user, tiles_by_zoom, args.repeat, day_reports)
        results[str(size)] = res
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=1, default=str))
    print_comparison({k: v for k, v in results.items() if k.isdigit() and int(k) in (args.first, args.reports)})


if __name__ == "__main__":
    main()
