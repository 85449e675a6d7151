"""Point tiles against a peer: TiPG (PyPI ``tipg``) on the same table, same run (issue 11).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gp_tiles_bench \\
        .venv/bin/python bench/peer_tiles.py [--seconds 10] [--per-zoom 40] [--zooms 10,12,13,14]

The database is bench/maps.py's (1 M synthetic reports, roll-ups built: run that first).
This script installs TiPG 1.6.1 in its own virtual environment (var/peers/tipg, once),
makes a view of the point projection with what an anonymous map viewer may see
(``bench_tipg_points``: the public states; the same rows as our anonymous tiles) and
starts both servers on free ports with the same worker count:

  * ours as scripts/run serves it: gunicorn, WEB_WORKERS (3) uvicorn workers of
    geo_portal/asgi.py, DEBUG off, its own cache namespace (the database's name);
  * TiPG: uvicorn tipg.main:app, the same number of workers, TIPG_CATALOG_TTL=0 (no
    catalog refresh that could stall a request), tile buffer 80 (ours), at most 10,000
    features per tile (both);

then, per zoom, on the same z/x/y list (the busiest tiles of the demo provinces at that
zoom, all time), with wrk (8 connections, ``Accept-Encoding: gzip`` as a browser sends):

  1. ours with an empty tile cache, one pass over the list ("cold": served from the
     stored tiles of all time, heatmaps.models.PointTile), then TiPG one pass; three
     times (COLD_PASSES), the cache emptied before each;
  1b. the same with those stored tiles marked due too ("rendered": every tile rendered
     when asked, as before their first render), then TiPG; they are rendered again
     after it;
  2. ours for --seconds with the cache filled ("warm"), TiPG for --seconds;
  3. "many": wrk for MANY_SECONDS over the busiest MANY_TILES tiles of the zoom, shuffled
     (the same order for both), from an empty cache: each tile asked for once unless a
     server goes round the list (said when ours does); then the same with the stored
     tiles marked due ("many rendered"); "many once": the same list from an empty cache,
     each tile asked for exactly once by curl (one_pass), so that no cache hit of ours
     counts (in 2 s ours goes round a list of 4,315-5,000 tiles); and "many" again on a
     second server of ours started with ASGI_LEAN=0 ("many through Django": no lean
     path of stored tiles, heatmaps/tiles_lean.py), to show what that path gives in the
     same run;

each bracketed by the servers' trivial endpoints (ours /livez, TiPG /healthz), and prints
ours, theirs and the ratio per figure, with the load average. Then it compares the
features of a sample of tiles (ours: inside the tile and in its buffer; TiPG: all).
Nothing of TiPG is committed into the project but this script.
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo_portal.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from bench.peers import free_port, peer_venv  # noqa: E402
from bench.peers import load_average as loadavg  # noqa: E402

TIPG = "tipg==1.6.1"
PEERS = ROOT / "var" / "peers"
CONNECTIONS = 8
COLD_PASSES = 3
MANY_TILES, MANY_SECONDS = 5000, 2
VIEW = "bench_tipg_points"


# --- helpers of this bench (the shared ones come from bench/peers.py) ------------------


def start(cmd, env, log_name):
    log = open(PEERS / f"{log_name}.log", "w")
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def wait_http(url, proc, seconds=120):
    t = time.monotonic() + seconds
    while time.monotonic() < t:
        if proc.poll() is not None:
            raise SystemExit(f"server exited ({url}); see var/peers/*.log")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status < 500:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{url} did not answer")


WRK_LUA = """
local count = 0
function setup(thread) thread:set("tid", count); count = count + 1 end
paths = {}
function init(args)
  for line in io.lines("%(list)s") do paths[#paths + 1] = line end
  i = tid
end
function request()
  local p = paths[(i %% #paths) + 1]
  i = i + %(threads)d
  return wrk.format("GET", p, {["Accept-Encoding"] = "gzip"})
end
"""


def wrk(base, paths=None, seconds=5):
    """wrk with CONNECTIONS connections for ``seconds`` on ``paths`` (cycled) or on
    ``base`` alone. Returns (req/s, p99 ms, requests, non-2xx)."""
    threads = 2
    with tempfile.TemporaryDirectory() as tmp:
        args = ["wrk", "-t", str(threads), "-c", str(CONNECTIONS), "-d", f"{seconds}s", "--latency", "--timeout", "30s"]
        if paths:
            lst = Path(tmp) / "paths.txt"
            lst.write_text("\n".join(paths) + "\n")
            lua = Path(tmp) / "tiles.lua"
            lua.write_text(WRK_LUA % {"list": lst, "threads": threads})
            args += ["-s", str(lua)]
        out = subprocess.run([*args, base], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p99, total, int(bad.group(1)) if bad else 0


def one_pass(base, paths):
    """Each path once, at most CONNECTIONS keep-alive connections at a time, by curl
    (``--parallel``: one C process; wrk always runs its whole duration, and a client of
    Python threads was the bottleneck: ~300-400 tiles/s of 150 KB, the GIL's, on the
    same 2 cores). Returns (req/s over the wall time of the run, p99 ms, requests,
    non-2xx)."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "urls.txt"
        config.write_text("".join(f'url = "{base}{p}"\noutput = "/dev/null"\n' for p in paths))
        t0 = time.perf_counter()
        out = subprocess.run(["curl", "-s", "--parallel", "--parallel-immediate", "--parallel-max", str(CONNECTIONS),
                              "-H", "Accept-Encoding: gzip", "-w", "%{http_code} %{time_total}\n", "-K", str(config)],
                             capture_output=True, text=True, check=False).stdout
        elapsed = time.perf_counter() - t0
    rows = [line.split() for line in out.splitlines() if line.strip()]
    times = sorted(float(t) * 1000 for _code, t in rows)
    bad = sum(1 for code, _t in rows if not code.startswith("2"))
    if len(rows) != len(paths):
        bad += len(paths) - len(rows)
    return len(times) / elapsed, times[min(len(times) - 1, int(0.99 * (len(times) - 1) + 0.5))], len(times), bad


def passes(base, paths, before=lambda: None, count=COLD_PASSES):
    """``count`` one_pass runs, each after ``before()`` (our cache emptied): (req/s over
    them all, p99 ms of the slowest pass, requests, non-2xx). A pass of 40 tiles lasts
    0.1-2 s; three make the figure steadier."""
    runs = []
    for _ in range(count):
        before()
        t = time.perf_counter()
        runs.append((one_pass(base, paths), time.perf_counter() - t))
    n = sum(r[2] for r, _s in runs)
    return n / sum(s for _r, s in runs), max(r[1] for r, _s in runs), n, sum(r[3] for r, _s in runs)


def _ms(text):
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


# --- the data ----------------------------------------------------------------------------


def make_view():
    from reports.policy import PUBLIC

    with connection.cursor() as cur:
        cur.execute(f"DROP VIEW IF EXISTS {VIEW}")
        cur.execute(
            f"""CREATE VIEW {VIEW} AS SELECT report_id, code, category, state, created_at, geom
                FROM heatmaps_reportpoint p WHERE {PUBLIC.sql('p')}""")
        cur.execute(f"SELECT count(*) FROM {VIEW}")
        return cur.fetchone()[0]


def mark_due(z, xys):
    """The stored tiles of all time of these tiles marked due (no data): each is rendered
    when asked, as before the first full render."""
    from heatmaps import tiles

    with connection.cursor() as cur:
        keys = "(VALUES " + ", ".join(f"({z}, {x}, {y})" for x, y in xys) + ") t(z, x, y)"
        tiles.mark_all_time_tiles_due(cur, keys, {})


def clear_tile_cache():
    """Our tile cache emptied, as a refresh leaves it: the data version moved (each
    server process keeps the hottest tiles in its memory, keyed by the version, and reads
    the version at most once a second: tile_cache.VERSION_SECONDS) and Redis emptied."""
    import redis

    from heatmaps import tile_cache

    with connection.cursor() as cur:
        cur.execute("UPDATE heatmaps_refreshstate SET data_version = data_version + 1 WHERE name = 'default'")
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    r = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    n = 0
    for k in r.scan_iter(match=f"{prefix}:*:tiles:*", count=1000):
        r.delete(k)
        n += 1
    time.sleep(tile_cache.VERSION_SECONDS + 0.1)
    return n


def tile_counts(body):
    import mapbox_vector_tile

    tile = mapbox_vector_tile.decode(body) if body else {}
    # ours: "reports" (and "capped"); TiPG: "default" (or the table's name)
    layers = [v for k, v in tile.items() if k != "capped"]
    feats = layers[0]["features"] if layers else []
    extent = 4096
    inside = sum(1 for f in feats if all(0 <= c <= extent for c in f["geometry"]["coordinates"]))
    capped = tile.get("capped", {"features": []})["features"]
    return len(feats), inside, capped[0]["properties"]["total"] if capped else None


def fetch(url):
    import gzip

    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req, timeout=60) as r:
        body = r.read()
        if r.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        return body


# --- where the time goes --------------------------------------------------------------------


def profile(per_zoom, requests=200):
    """cProfile of the tile view in this process (Django's test client, no HTTP server)
    on cache misses and on hits, and EXPLAIN (ANALYZE, BUFFERS) of the densest tile."""
    import cProfile
    import pstats

    from django.test import Client

    from heatmaps import aggregates as agg
    from heatmaps import tiles

    client = Client()
    paths = [f"/tiles/reports/{z}/{x}/{y}.pbf" for z, xys in per_zoom.items() for x, y in xys]
    for label, prepare in (("misses (every tile rendered)", clear_tile_cache), ("hits", lambda: None)):
        prepare()
        sample = paths[: requests] if label.startswith("misses") else (paths * 10)[:requests]
        prof = cProfile.Profile()
        t = time.perf_counter()
        prof.enable()
        for p in sample:
            client.get(p, HTTP_ACCEPT_ENCODING="gzip")
        prof.disable()
        ms = (time.perf_counter() - t) * 1000 / len(sample)
        print(f"\nprofile, {label}: {len(sample)} requests, {ms:.2f} ms each in process; top by own time:")
        pstats.Stats(prof).sort_stats("tottime").print_stats(8)
    z = min(per_zoom)
    x, y = per_zoom[z][0]
    from reports.policy import access

    f = agg.Filters.from_params({})
    f.scope = access.Scope()  # anonymous
    t = time.perf_counter()
    data, n, inside = tiles.point_tile(z, x, y, f)
    print(f"\ndensest z{z} tile {z}/{x}/{y}: {inside:,} points inside, {n:,} features, {len(data) / 1024:.0f} KB, "
          f"rendered in {(time.perf_counter() - t) * 1000:.0f} ms; its plan:")
    sql, params = tiles.point_tile_sql(z, x, y, f)
    with connection.cursor() as cur:
        cur.execute("SET track_io_timing = on")
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        print("\n".join(r[0] for r in cur.fetchall()))


# --- main ----------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--per-zoom", type=int, default=40, help="busiest tiles per zoom in the URL list")
    parser.add_argument("--zooms", default="10,12,13,14")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_WORKERS", 3)))
    parser.add_argument("--sample", type=int, default=8, help="tiles per zoom whose features are compared")
    parser.add_argument("--profile", action="store_true", help="only where the time goes (cProfile, EXPLAIN)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    from heatmaps import tile_cache, tiles

    zooms = [int(z) for z in args.zooms.split(",")]
    PEERS.mkdir(parents=True, exist_ok=True)
    tipg_bin = peer_venv("tipg", [TIPG, "uvicorn[standard]"])
    rows = make_view()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*), pg_size_pretty(pg_total_relation_size('heatmaps_reportpoint')) "
                    "FROM heatmaps_reportpoint")
        points, size = cur.fetchone()
    # one pass over the points: the busiest tiles of each zoom, most first
    busy = tile_cache.busy_tiles(zooms, max(args.per_zoom, MANY_TILES))
    many_tiles = {z: [(x, y) for zz, x, y in busy if zz == z] for z in zooms}
    per_zoom = {z: xys[:args.per_zoom] for z, xys in many_tiles.items()}
    # many distinct tiles, each asked for once (as a map's viewers after a refresh), in
    # the same shuffled order for both servers: the busiest MANY_TILES of each zoom
    for xys in many_tiles.values():
        random.Random(11).shuffle(xys)
    print(f"data: {points:,} points in heatmaps_reportpoint ({size}), {rows:,} public (anonymous map, view {VIEW}); "
          f"tiles: {', '.join(f'z{z} {len(v)}' for z, v in per_zoom.items())} busiest, all time; "
          f"{args.workers} workers each; wrk {CONNECTIONS} connections; load {loadavg()}", flush=True)

    if args.profile:
        profile(per_zoom)
        return
    db = settings.DATABASES["default"]
    ours_port, tipg_port = free_port(), free_port()
    env = dict(os.environ, DEBUG="0", SECRET_KEY=os.environ.get("SECRET_KEY", "bench-only-" + "x" * 40),
               RATELIMIT_ENABLE="0", ALLOWED_HOSTS="127.0.0.1,localhost")
    ours = start([str(ROOT / ".venv/bin/gunicorn"), "-c", "geo_portal/gunicorn_conf.py", "geo_portal.asgi:application",
                  "-b", f"127.0.0.1:{ours_port}", "-w", str(args.workers), "--no-control-socket"], env, "ours-tiles")
    # ours again with every tile through Django (ASGI_LEAN=0: no lean path of stored tiles,
    # heatmaps/tiles_lean.py), for the "many" figure beside the lean one
    django_port = free_port()
    ours_django = start([str(ROOT / ".venv/bin/gunicorn"), "-c", "geo_portal/gunicorn_conf.py",
                         "geo_portal.asgi:application", "-b", f"127.0.0.1:{django_port}", "-w", str(args.workers),
                         "--no-control-socket"], dict(env, ASGI_LEAN="0"), "ours-tiles-django")
    tenv = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE"))}
    tenv.update(DATABASE_URL=f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
                TIPG_CATALOG_TTL="0", TIPG_DB_SCHEMAS='["public"]', TIPG_DB_TABLES=f'["public.{VIEW}"]',
                TIPG_TILE_BUFFER="80", TIPG_MAX_FEATURES_PER_TILE="10000", TIPG_DB_SPATIAL_EXTENT="false",
                TIPG_DB_DATETIME_EXTENT="false")
    tipg = start([str(tipg_bin / "uvicorn"), "tipg.main:app", "--host", "127.0.0.1", "--port", str(tipg_port),
                  "--workers", str(args.workers), "--no-access-log"], tenv, "tipg")
    ours_base, tipg_base = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{tipg_port}"
    django_base = f"http://127.0.0.1:{django_port}"
    try:
        wait_http(ours_base + "/livez", ours)
        wait_http(django_base + "/livez", ours_django)
        wait_http(tipg_base + "/healthz", tipg)
        coll = json.loads(fetch(tipg_base + "/collections"))
        cid = next(c["id"] for c in coll["collections"] if c["id"].endswith(VIEW))
        ours_path = "/tiles/reports/{z}/{x}/{y}.pbf"
        tipg_path = f"/collections/{cid}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}?properties=code,category,state"

        # PostgreSQL's pages warm for both: one unmeasured pass of TiPG; and one of ours,
        # so that each of our workers has served tiles before (a worker's first tile
        # request imports and compiles what the view needs: 150-180 ms, which in a pass
        # of 40 tiles weighed as much as the tiles themselves)
        for z in zooms:
            one_pass(tipg_base, [tipg_path.format(z=z, x=x, y=y) for x, y in per_zoom[z]])
            one_pass(ours_base, [ours_path.format(z=z, x=x, y=y) for x, y in per_zoom[z]])
            one_pass(django_base, [ours_path.format(z=z, x=x, y=y) for x, y in per_zoom[z]])

        print("\nfigure | ours | TiPG | ratio | trivial ours / TiPG (before, after) | load")
        for z in zooms:
            op = [ours_path.format(z=z, x=x, y=y) for x, y in per_zoom[z]]
            tp = [tipg_path.format(z=z, x=x, y=y) for x, y in per_zoom[z]]
            many = many_tiles[z]
            mp = [ours_path.format(z=z, x=x, y=y) for x, y in many]
            mtp = [tipg_path.format(z=z, x=x, y=y) for x, y in many]
            for mode in ("cold", "rendered", "warm", "many", "many once", "many through Django", "many rendered"):
                triv_before = (wrk(ours_base + "/livez", seconds=3)[0], wrk(tipg_base + "/healthz", seconds=3)[0])
                if mode == "cold":
                    o = passes(ours_base, op, clear_tile_cache)
                    t = passes(tipg_base, tp)
                elif mode == "rendered":
                    o = passes(ours_base, op, lambda z=z: (clear_tile_cache(), mark_due(z, per_zoom[z])))
                    t = passes(tipg_base, tp)
                    tiles.render_due_all_time_tiles()
                elif mode == "warm":
                    o = wrk(ours_base, op, seconds=args.seconds)
                    t = wrk(tipg_base, tp, seconds=args.seconds)
                elif mode == "many once":
                    clear_tile_cache()
                    o = one_pass(ours_base, mp)
                    t = one_pass(tipg_base, mtp)
                else:
                    clear_tile_cache()
                    if mode == "many rendered":
                        mark_due(z, many)
                    o = wrk(django_base if mode == "many through Django" else ours_base, mp, seconds=MANY_SECONDS)
                    t = wrk(tipg_base, mtp, seconds=MANY_SECONDS)
                    if mode == "many rendered":
                        tiles.render_due_all_time_tiles()
                triv_after = (wrk(ours_base + "/livez", seconds=3)[0], wrk(tipg_base + "/healthz", seconds=3)[0])
                label = f"z{z} {len(mp if mode.startswith('many') else op)} tiles, " + {
                    "cold": "one pass, our cache empty (the stored tiles of all time)",
                    "rendered": "one pass, our cache empty and nothing stored (every tile rendered)",
                    "warm": "ours cached",
                    "many": f"shuffled, wrk {MANY_SECONDS} s from an empty cache (stored tiles of all time)",
                    "many once": "shuffled, each once (curl), our cache empty (stored tiles of all time)",
                    "many through Django": f"shuffled, wrk {MANY_SECONDS} s from an empty cache (stored tiles of all "
                                           "time), every request through Django (ASGI_LEAN=0)",
                    "many rendered": f"shuffled, wrk {MANY_SECONDS} s from an empty cache, nothing stored",
                    }[mode]
                if mode.startswith("many") and mode != "many once" and o[2] > len(mp):
                    label += f" [ours went round the list: {o[2] - len(mp)} cache hits]"
                print(f"{label}: req/s | {o[0]:.1f} | {t[0]:.1f} | {o[0] / t[0]:.2f}x | "
                      f"{triv_before[0]:.0f}/{triv_before[1]:.0f}, {triv_after[0]:.0f}/{triv_after[1]:.0f} | "
                      f"{loadavg()}", flush=True)
                print(f"{label}: p99 ms | {o[1]:.1f} | {t[1]:.1f} | {t[1] / max(o[1], 0.001):.2f}x lower | "
                      f"requests {o[2]} / {t[2]}, non-2xx {o[3]} / {t[3]}", flush=True)

        print("\nfeatures of a sample of tiles (ours: all / inside the tile / points in the tile when capped; "
              "TiPG: all)")
        for z in zooms:
            for x, y in per_zoom[z][: args.sample]:
                mine = tile_counts(fetch(ours_base + ours_path.format(z=z, x=x, y=y)))
                theirs = tile_counts(fetch(tipg_base + tipg_path.format(z=z, x=x, y=y)))
                with connection.cursor() as cur:
                    cur.execute(f"""SELECT count(*) FROM {VIEW} p WHERE p.geom && ST_TileEnvelope(%s, %s, %s)
                                    AND ST_X(p.geom) >= ST_XMin(ST_TileEnvelope(%s, %s, %s))
                                    AND ST_X(p.geom) < ST_XMax(ST_TileEnvelope(%s, %s, %s))
                                    AND ST_Y(p.geom) > ST_YMin(ST_TileEnvelope(%s, %s, %s))
                                    AND ST_Y(p.geom) <= ST_YMax(ST_TileEnvelope(%s, %s, %s))""", [z, x, y] * 5)
                    truth = cur.fetchone()[0]
                print(f"  {z}/{x}/{y}: points in the tile {truth:,}; ours {mine[0]:,} ({mine[1]:,} inside"
                      f"{', capped: ' + format(mine[2], ',') + ' in the tile' if mine[2] else ''}); "
                      f"TiPG {theirs[0]:,} ({theirs[1]:,} inside)")
    finally:
        stop(ours)
        stop(ours_django)
        stop(tipg)
    print(f"\nload average at the end {loadavg()}")


if __name__ == "__main__":
    main()
