"""Ingest benchmark (issue 3, item 11): the create-report API with locate + routing,
served as scripts/run serves it (gunicorn, uvicorn workers, geo_portal.asgi, DEBUG off),
under concurrent clients, against the same server's trivial endpoint (/livez: no
database, no session) measured in the same run.

    .venv/bin/python bench/ingest.py [--seconds 20] [--clients 8] [--workers 3]
                                     [--repeat 3] [--serving asgi-router] [--db NAME]

The database is the name of DATABASE_URL + "_ingest" unless --db says otherwise (its
own: bench/routing.py's "_bench" database holds the whole country's communes).
Set-up (idempotent): creates the bench database (PostGIS), migrates it and loads
fixtures.demo.load_test_data (4 provinces' boundaries, categories, authorities,
routing rules, holidays, staff). The server runs with RATELIMIT_ENABLE=0 (the per-IP
submission limit would otherwise stop the bench at 20 reports) and NOTIFY_DISPATCH=none
(the bench's reports carry no contact, so nothing is queued anyway).

Each client is a process with its own HTTP client (httpx). A report is a
form POST to /api/v1/reports with a fresh Idempotency-Key, a random point inside a
random 2025 commune of the four provinces (ST_GeneratePoints, fixed seed) and a random
leaf category; the response (201, a GeoJSON Feature with commune, authority and
deadlines) is checked. Prints throughput and p50/p95/p99 latency of both phases, their
ratio and the targets: ≥ 0.15 × the trivial endpoint's throughput, p99 < 100 ms; the
pair of phases runs --repeat times and every run is printed and judged (not the best).

It also prints the server's CPU time per request in each phase (gunicorn master and
workers from /proc, plus the PostgreSQL backends serving the bench database): on a
machine shared with other work the throughput figures move with the load average
(printed too), the CPU cost per request much less.
"""

import argparse
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote_plus

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
sys.path.insert(0, str(ROOT))

from bench import live  # noqa: E402
from bench.peers import WRK_DONE, WRK_LINES, ensure_wrk, wrk_run  # noqa: E402

DESCRIPTION = "Phản ánh thử tải: đèn đường hỏng, rác chưa thu gom."

# wrk's POSTs: one report a request, a point and a category from the lines of args[1]
# ("lon lat category"), a fresh Idempotency-Key each (the run's nonce, thread, counter).
CREATE_LUA = WRK_LINES + r"""
function request()
  i = i + 1
  local lon, lat, cat = lines[(i % #lines) + 1]:match("(%S+) (%S+) (%S+)")
  local body = "category=" .. cat .. "&lat=" .. lat .. "&lon=" .. lon .. "&description=" .. DESCRIPTION
  local headers = {["Content-Type"] = "application/x-www-form-urlencoded",
                   ["Idempotency-Key"] = "bench-" .. NONCE .. "-" .. (tid or 0) .. "-" .. i}
  return wrk.format("POST", "/api/v1/reports", headers, body)
end
"""


def base_url_parts():
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/geo_portal")
    head, _sep, _name = url.rpartition("/")
    return head


def run(cmd, env):
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def prepare_db(db_name, env):
    admin_url = f"{base_url_parts()}/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db_name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{db_name}"')
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    t0 = time.perf_counter()
    run([PY, "manage.py", "migrate", "-v0"], env)
    run([PY, "-c", "import django; django.setup(); from fixtures.demo import load_test_data; load_test_data()"],
        {**env, "DJANGO_SETTINGS_MODULE": "geo_portal.settings"})
    return time.perf_counter() - t0


def count_reports(dsn):
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM reports_report").fetchone()[0]


def sample_inputs(dsn, n=2000, seed=42):
    with psycopg.connect(dsn) as conn:
        points = conn.execute(
            """
            SELECT ST_X(g), ST_Y(g) FROM (
              SELECT (ST_Dump(ST_GeneratePoints(a.geom, 10, %s))).geom g
              FROM boundaries_area a
              JOIN boundaries_areatype t ON t.id = a.type_id AND t.code = 'commune'
              JOIN boundaries_boundaryversion v ON v.id = a.version_id AND v.code = 'vn-2025'
            ) s ORDER BY random() LIMIT %s""",
            [seed, n],
        ).fetchall()
        cats = [r[0] for r in conn.execute(
            "SELECT code FROM reports_category c WHERE active AND NOT EXISTS "
            "(SELECT 1 FROM reports_category k WHERE k.parent_id = c.id)"
        ).fetchall()]
        sizes = {
            "communes (vn-2025)": conn.execute(
                "SELECT count(*) FROM boundaries_area a JOIN boundaries_boundaryversion v ON v.id=a.version_id "
                "JOIN boundaries_areatype t ON t.id=a.type_id "
                "WHERE v.code='vn-2025' AND t.code='commune'").fetchone()[0],
            "areas (all versions)": conn.execute("SELECT count(*) FROM boundaries_area").fetchone()[0],
            "subdivided parts": conn.execute("SELECT count(*) FROM boundaries_areapart").fetchone()[0],
            "routing rules": conn.execute("SELECT count(*) FROM boundaries_routingrule").fetchone()[0],
            "authorities": conn.execute("SELECT count(*) FROM boundaries_authority").fetchone()[0],
            "reports before": conn.execute("SELECT count(*) FROM reports_report").fetchone()[0],
        }
    return points, cats, sizes




def load_phase(url, clients, seconds, make_request, check):
    """Run ``clients`` client processes (one connection each, no shared GIL that would
    add its own waits to the measured latencies) for ``seconds``, all starting at the
    same moment; returns (latencies ms, errors, elapsed)."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    start_at = time.time() + 1.0

    def client(i):
        rnd = random.Random(i * 7919 + int(start_at))
        lat, errors, first_error = [], 0, None
        with httpx.Client(base_url=url, timeout=30) as http:
            while time.time() < start_at:
                time.sleep(0.001)
            end = start_at + seconds
            while time.time() < end:
                t0 = time.perf_counter()
                try:
                    resp = make_request(http, rnd)
                    ok = check(resp)
                except httpx.HTTPError as exc:
                    resp, ok = exc, False
                dt_ms = (time.perf_counter() - t0) * 1000
                if ok:
                    lat.append(dt_ms)
                else:
                    errors += 1
                    first_error = first_error or getattr(resp, "text", str(resp))[:300]
        queue.put((lat, errors, first_error))

    procs = [ctx.Process(target=client, args=(i,), daemon=True) for i in range(clients)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    first_errors = [r[2] for r in results if r[2]]
    if first_errors:
        print(f"  first error: {first_errors[0]}")
    return [x for r in results for x in r[0]], sum(r[1] for r in results), seconds




def server_pids(master_pid, dsn, db_name):
    """The gunicorn master and workers, and the PostgreSQL backends serving the bench DB."""
    web = [master_pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master_pid:
                web.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            pass
    with psycopg.connect(dsn) as conn:
        db = [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend' "
            "AND pid <> pg_backend_pid()",
            [db_name],
        ).fetchall()]
    return web, db



def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100 * len(values) + 0.5)) - 1))
    return values[k]


def summary(name, lat, errors, elapsed):
    rate = len(lat) / elapsed
    print(f"{name:<28} {len(lat):>7} ok {errors:>4} errors  {rate:8.1f} req/s   "
          f"p50 {pct(lat, 50):6.1f} ms  p95 {pct(lat, 95):6.1f} ms  p99 {pct(lat, 99):6.1f} ms  "
          f"mean {statistics.fmean(lat) if lat else float('nan'):6.1f} ms")
    return rate


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--workers", type=int, default=int(os.environ.get("WEB_WORKERS", 3)))
    ap.add_argument("--repeat", type=int, default=3, help="measured runs (every run is printed and judged)")
    ap.add_argument("--serving", choices=sorted(live.SERVINGS), default="asgi-router",
                    help="asgi-router = as scripts/run serves the portal")
    ap.add_argument("--client", choices=["wrk", "python"], default="wrk",
                    help="wrk (C, ~0.1 ms of CPU a request) or one Python process per client (httpx, each "
                         "answer's body checked; on 2 cores the 8 processes take the CPU the server needs)")
    default_db = os.environ.get("DATABASE_URL", "postgres://x/geo_portal").rpartition("/")[2].split("?")[0] + "_ingest"
    ap.add_argument("--db", default=default_db)
    ap.add_argument("--skip-setup", action="store_true")
    args = ap.parse_args()

    dsn = f"{base_url_parts()}/{args.db}"
    env = {**os.environ, "DATABASE_URL": dsn, "DEBUG": "0",
           "SECRET_KEY": os.environ.get("SECRET_KEY") or uuid.uuid4().hex * 2, "RATELIMIT_ENABLE": "0",
           "NOTIFY_DISPATCH": "none",
           "ALLOWED_HOSTS": "127.0.0.1,localhost", "LOG_LEVEL": "WARNING"}
    print(f"bench database: {args.db}")
    if not args.skip_setup:
        print(f"set-up (migrate + load_test_data, idempotent): {prepare_db(args.db, env):.1f} s")
    points, cats, sizes = sample_inputs(dsn)
    print("data: " + ", ".join(f"{k} {v}" for k, v in sizes.items())
          + f", {len(points)} sample points, {len(cats)} categories")

    if args.client == "wrk":
        ensure_wrk()
    server, url = live.start_server(args.workers, args.serving, env=env)
    print(f"server: gunicorn, {args.workers} workers, serving {args.serving}, {os.cpu_count()} CPUs; "
          f"clients: {args.clients} processes, {args.seconds:.0f} s per phase, {args.repeat} runs")

    def trivial(http, rnd):
        return http.get("/livez")

    def create(http, rnd):
        lon, lat = rnd.choice(points)
        return http.post("/api/v1/reports", headers={"Idempotency-Key": f"bench-{uuid.uuid4()}"}, data={
            "category": rnd.choice(cats), "lat": f"{lat:.6f}", "lon": f"{lon:.6f}",
            "description": DESCRIPTION,
        })

    def check_trivial(resp):
        return resp.status_code == 200 and resp.text == "ok"

    def check_create(resp):
        if resp.status_code != 201:
            return False
        props = resp.json()["properties"]
        return bool(props["code"] and props["commune"] and props["authority"] and props["forward_due"])

    verdicts = []
    try:
        load_phase(url, args.clients, args.warmup, trivial, check_trivial)
        load_phase(url, args.clients, args.warmup, create, check_create)
        web, db = server_pids(server.pid, dsn, args.db)
        pick = random.Random(42)
        lines = [f"{lon:.6f} {lat:.6f} {pick.choice(cats)}" for lon, lat in points]
        for run_no in range(1, args.repeat + 1):
            # a new nonce each run: a key of an earlier run would be answered from its report
            create_lua = (CREATE_LUA.replace("DESCRIPTION", '"' + quote_plus(DESCRIPTION) + '"')
                          .replace("NONCE", f'"{uuid.uuid4().hex[:12]}"') + WRK_DONE)
            print(f"\nrun {run_no}: load average before {os.getloadavg()[0]:.2f} (2 CPUs)")
            cpu = {}
            for name, fn, chk in (("trivial", trivial, check_trivial), ("create", create, check_create)):
                w0, d0 = live.cpu_seconds(web), live.cpu_seconds(db)
                if args.client == "python":
                    lat, errors, elapsed = load_phase(url, args.clients, args.seconds, fn, chk)
                    n = len(lat)
                else:
                    before = count_reports(dsn)
                    fig = (wrk_run(url, ["/livez"], args.seconds, args.clients) if name == "trivial" else
                           wrk_run(url, lines, args.seconds, args.clients, lua=create_lua))
                    n, errors = fig.requests - fig.errors, fig.errors
                    if name == "create":
                        # wrk stops with up to one request a connection in flight: the
                        # server still stores those, wrk never counts their answer
                        stored = count_reports(dsn) - before
                        if not n <= stored <= n + args.clients:
                            print(f"  {n} answered 201 but {stored} reports were stored")
                            errors += abs(stored - n)
                cpu[name] = (live.cpu_seconds(web) - w0, live.cpu_seconds(db) - d0, n)
                label = "GET /livez (baseline)" if name == "trivial" else "POST /api/v1/reports"
                if args.client == "python":
                    rate = summary(label, lat, errors, elapsed)
                    p99 = pct(lat, 99)
                else:
                    rate, p99 = fig.req_s * n / max(1, fig.requests), fig.p99_ms
                    print(f"{label:<28} {n:>7} ok {errors:>4} errors  {rate:8.1f} req/s   p50 {fig.p50_ms:6.1f} ms"
                          f"  p90 {fig.p90_ms:6.1f} ms  p99 {p99:6.1f} ms")
                if name == "trivial":
                    base_rate = rate
            for name, (w, d, n) in cpu.items():
                if n:
                    print(f"server CPU per request, {name:<8}: gunicorn {w / n * 1000:6.2f} ms + postgres "
                          f"{d / n * 1000:6.2f} ms = {(w + d) / n * 1000:6.2f} ms")
            ratio = rate / base_rate if base_rate else float("nan")
            verdicts.append((p99, ratio, p99 < 100 and not errors, ratio >= 0.15))
            print(f"run {run_no}: reports/s {rate:.1f}; baseline {base_rate:.1f} req/s; ratio {ratio:.3f} "
                  f"(target ≥ 0.15: {'PASS' if ratio >= 0.15 else 'FAIL'}); create p99 {p99:.1f} ms, errors {errors} "
                  f"(target < 100 ms, none: {'PASS' if p99 < 100 and not errors else 'FAIL'}); "
                  f"load average after {os.getloadavg()[0]:.2f}")
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
    print()
    print(f"every run: create p99 {', '.join(f'{v[0]:.1f}' for v in verdicts)} ms (< 100 ms and no error on "
          f"every run: {'yes' if verdicts and all(v[2] for v in verdicts) else 'no'}); ratio to /livez "
          f"{', '.join(f'{v[1]:.3f}' for v in verdicts)} (≥ 0.15 on every run: "
          f"{'yes' if verdicts and all(v[3] for v in verdicts) else 'no'})")
    with psycopg.connect(dsn) as conn:
        print("reports in bench database after the run: "
              f"{conn.execute('SELECT count(*) FROM reports_report').fetchone()[0]}")


if __name__ == "__main__":
    main()
