"""Live-wall benchmark (issue 8, item 1): 1,000 IOC walls open on /ioc/events while the
site keeps answering, and how fast a new report reaches every wall.

    .venv/bin/python bench/live.py [--url http://127.0.0.1:8000] [--streams 1000]
        [--seconds 60] [--baseline-seconds 20] [--clients 8] [--reports 20]
        [--workers 3] [--username admin --password demo12345]

Without --url it serves the portal the way scripts/run does (gunicorn, uvicorn
workers, geo_portal.asgi) on a free loopback port against DATABASE_URL, which must hold
the demo (scripts/run or manage.py load_demo), with RATELIMIT_ENABLE=0 and
NOTIFY_DISPATCH=none. With --url it uses that server (the per-IP submission limit then
caps --reports at 20 an hour).

In one run:
1. no streams: --clients concurrent connections (one process, httpx) alternate
   /healthz and /api/v1/locate (random points of Quảng Ninh) for --baseline-seconds;
2. --streams streams are opened (another process, plain asyncio sockets, a staff
   token; half of them ?province=22) and held;
3. the same load for --seconds while the streams stay open, and --reports reports
   are created (POST /api/v1/reports, spread over the phase); each stream notes when
   each report's ``event: report`` arrives, against the moment its 201 was received.
Prints p50/p95/p99 of both endpoints in both phases and their ratio (target: loaded p99
≤ 1.5 × the no-stream p99; 0 errors, 0 timeouts), the delivery delay over every
(report, stream) pair (target p95 ≤ 1 s), deliveries missing, streams dropped, bytes
received, the server's memory and the load average. Loopback only; every count and
duration is bounded.
"""

import argparse
import asyncio
import multiprocessing
import os
import random
import re
import resource
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 10.0


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def quang_ninh_points(dsn, n=400, seed=0.42):
    with psycopg.connect(dsn) as conn:
        conn.execute("SELECT setseed(%s)", [seed])
        rows = conn.execute(
            """SELECT ST_X(g), ST_Y(g) FROM (
                 SELECT (ST_Dump(ST_GeneratePoints(a.geom, 3, 42))).geom g
                 FROM boundaries_area a
                 JOIN boundaries_areatype t ON t.id = a.type_id AND t.code = 'commune'
                 JOIN boundaries_boundaryversion v ON v.id = a.version_id AND v.code = 'vn-2025'
                 WHERE a.code IN (SELECT code FROM boundaries_area WHERE parent_id IN (
                     SELECT id FROM boundaries_area WHERE code = '22'))) s
               ORDER BY random() LIMIT %s""",
            [n],
        ).fetchall()
    if not rows:
        sys.exit("no commune of Quảng Ninh in the database: load the demo first (scripts/run)")
    return rows


# --- request load (a process) ---------------------------------------------------


def load_process(url, clients, seconds, points, out):
    async def main():
        stats = {"healthz": [], "locate": [], "errors": 0, "timeouts": 0, "bytes": 0}
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT_S, limits=limits) as client:
            end = time.monotonic() + seconds
            rnd = random.Random(7)

            async def worker(i):
                n = i
                while time.monotonic() < end:
                    n += 1
                    if n % 2:
                        name, path, params = "healthz", "/healthz", None
                    else:
                        lon, lat = rnd.choice(points)
                        name, path, params = "locate", "/api/v1/locate", {"lat": lat, "lon": lon}
                    t0 = time.perf_counter()
                    try:
                        resp = await client.get(path, params=params)
                        took = time.perf_counter() - t0
                        stats["bytes"] += len(resp.content)
                        if resp.status_code != 200:
                            stats["errors"] += 1
                        else:
                            stats[name].append(took)
                    except httpx.TimeoutException:
                        stats["timeouts"] += 1
                    except httpx.HTTPError:
                        stats["errors"] += 1

            await asyncio.gather(*(worker(i) for i in range(clients)))
        return stats

    out.put(asyncio.run(main()))


# --- the streams (a process) ------------------------------------------------------

REPORT_CODE = re.compile(rb'event: report\ndata: \{"id": \d+, "code": "([^"]+)"')


def streams_process(url, token, count, ready, stop, out):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count + 256)), hard))
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80

    async def one(i, sem, arrivals, info):
        query = "max_s=3600" + ("&province=22" if i % 2 else "")
        request = (
            f"GET /ioc/events?{query} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
            f"Authorization: Token {token}\r\n\r\n"
        ).encode()
        seen = {}
        async with sem:
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), TIMEOUT_S)
                writer.write(request)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT_S)
                if b" 200 " not in head.split(b"\r\n", 1)[0]:
                    info["refused"] += 1
                    writer.close()
                    return
                first = await asyncio.wait_for(reader.readuntil(b"retry: 1000"), TIMEOUT_S)
                info["bytes"] += len(head) + len(first)
            except (TimeoutError, OSError, asyncio.IncompleteReadError):
                info["open_errors"] += 1
                return
        info["open"] += 1
        tail = b""
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    info["dropped"] += 1
                    break
                now = time.time()
                info["bytes"] += len(chunk)
                data = tail + chunk
                for m in REPORT_CODE.finditer(data):
                    seen.setdefault(m.group(1).decode(), now)
                tail = data[-200:]
        except asyncio.CancelledError:
            pass
        finally:
            writer.close()
            for rid, t in seen.items():
                arrivals.setdefault(rid, []).append(t)

    async def main():
        arrivals, info = {}, {"open": 0, "open_errors": 0, "refused": 0, "dropped": 0, "bytes": 0}
        sem = asyncio.Semaphore(64)
        t0 = time.perf_counter()
        tasks = [asyncio.create_task(one(i, sem, arrivals, info)) for i in range(count)]
        while sum(info[k] for k in ("open", "open_errors", "refused")) < count and time.perf_counter() - t0 < 120:
            await asyncio.sleep(0.1)
        info["open_seconds"] = round(time.perf_counter() - t0, 2)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        await asyncio.sleep(2.0)  # the last report's events are still on their way
        still_open = sum(1 for t in tasks if not t.done())
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        info["still_open_at_end"] = still_open
        out.put({"arrivals": arrivals, "info": info})

    asyncio.run(main())


# --- the server -------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# How the portal may be served: as scripts/run does (the router of geo_portal/asgi.py),
# as before (WSGI, gthread 8 threads), and Django's own ASGI handler (sync views on
# its thread-sensitive executor) — compared by --compare.
SERVINGS = {
    "asgi-router": ["-c", "geo_portal/gunicorn_conf.py", "geo_portal.asgi:application", "--access-logfile",
                    "/dev/null"],
    "wsgi-gthread": ["geo_portal.wsgi:application", "-k", "gthread", "--threads", "8"],
    "django-asgi": ["django.core.asgi:get_asgi_application()", "-k", "uvicorn_worker.UvicornWorker"],
}


def start_server(workers, serving="asgi-router", env=None):
    """The portal served on a free loopback port (as scripts/run serves it with
    serving="asgi-router"), DEBUG off; returns (process, base URL) once /healthz answers."""
    port = free_port()
    env = {**(env or os.environ), "RATELIMIT_ENABLE": "0", "NOTIFY_DISPATCH": "none", "DEBUG": "0",
           "DJANGO_SETTINGS_MODULE": "geo_portal.settings"}
    # DEBUG is off: the server needs a key (var/secret_key from scripts/run, else a fresh one)
    key_file = ROOT / "var" / "secret_key"
    if not env.get("SECRET_KEY") and not key_file.is_file():
        env["SECRET_KEY"] = secrets.token_urlsafe(50)
    cmd = [str(ROOT / ".venv/bin/gunicorn"), *SERVINGS[serving],
           "-b", f"127.0.0.1:{port}", "-w", str(workers), "--timeout", "120", "--graceful-timeout", "5",
           "--no-control-socket", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.terminate()
    sys.exit("the server did not start")


def server_pids(proc):
    if proc is None:
        return []
    out = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    return [proc.pid, *map(int, out)]


def cpu_seconds(pids):
    """user + system CPU time of these processes (the server's master and workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return total / tick


def server_rss_mb(proc):
    if proc is None:
        return None
    pids = [proc.pid]
    for line in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split():
        pids.append(int(line))
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


def run_load(url, clients, seconds, points):
    q = multiprocessing.Queue()
    p = multiprocessing.Process(target=load_process, args=(url, clients, seconds, points, q))
    p.start()
    return p, q


def describe(stats):
    out = {}
    for name in ("healthz", "locate"):
        v = stats[name]
        out[name] = {"n": len(v), "req_s": None, "p50": pct(v, 50) * 1000, "p95": pct(v, 95) * 1000,
                     "p99": pct(v, 99) * 1000}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url")
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--baseline-seconds", type=int, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--reports", type=int, default=20)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--username", default="admin")
    ap.add_argument("--password", default="demo12345")
    ap.add_argument("--compare", action="store_true",
                    help=f"only the no-stream load, against each way of serving ({', '.join(SERVINGS)})")
    args = ap.parse_args()
    for name in ("streams", "seconds", "baseline_seconds", "clients", "reports"):
        if not 1 <= getattr(args, name) <= 5000:
            sys.exit(f"--{name} must be between 1 and 5000")
    if args.url and urlsplit(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("--url must be a loopback address")

    dsn = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/geo_portal")
    points = quang_ninh_points(dsn)
    if args.compare:
        return compare(args, points)
    proc, url = (None, args.url) if args.url else start_server(args.workers)
    try:
        token = httpx.post(url + "/accounts/api/token", json={"username": args.username, "password": args.password},
                           timeout=TIMEOUT_S).json()["token"]
        category = "do-thi-chieu-sang"
        print(f"server {url} · {args.workers if proc else '?'} workers · load average {os.getloadavg()}")
        # warm-up: every worker's connections and caches
        for i in range(40):
            httpx.get(url + "/api/v1/locate", params={"lat": points[i][1], "lon": points[i][0]}, timeout=TIMEOUT_S)

        # 1. no streams
        pids = server_pids(proc)
        cpu0 = cpu_seconds(pids)
        p, q = run_load(url, args.clients, args.baseline_seconds, points)
        base = q.get()
        p.join()
        cpu_base = cpu_seconds(pids) - cpu0
        base_load = os.getloadavg()
        rss_before = server_rss_mb(proc)

        # 2. open the streams
        ready, stop, sq = multiprocessing.Event(), multiprocessing.Event(), multiprocessing.Queue()
        sp = multiprocessing.Process(target=streams_process, args=(url, token, args.streams, ready, stop, sq))
        sp.start()
        ready.wait(180)
        time.sleep(1.0)

        # 3. the same load with the streams open, and reports created meanwhile
        cpu0 = cpu_seconds(pids)
        p, q = run_load(url, args.clients, args.seconds, points)
        acked = {}
        create_errors = 0
        rnd = random.Random(11)
        interval = args.seconds / (args.reports + 1)
        with httpx.Client(base_url=url, timeout=TIMEOUT_S) as client:
            for i in range(args.reports):
                time.sleep(interval)
                lon, lat = rnd.choice(points)
                resp = client.post("/api/v1/reports", data={
                    "category": category, "lat": str(lat), "lon": str(lon),
                    "description": f"Đèn đường hỏng (bench/live.py, lần {i + 1}).",
                })
                t = time.time()
                if resp.status_code == 201:
                    acked[resp.json()["properties"]["code"]] = t
                else:
                    create_errors += 1
        loaded = q.get()
        p.join()
        cpu_loaded = cpu_seconds(pids) - cpu0
        loaded_load = os.getloadavg()
        rss_during = server_rss_mb(proc)
        stop.set()
        result = sq.get(timeout=120)
        sp.join()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)

    info, arrivals = result["info"], result["arrivals"]
    delays, missing = [], 0
    for rid, t in acked.items():
        got = arrivals.get(rid, [])
        missing += info["open"] - len(got)
        delays += [a - t for a in got]
    b, lo = describe(base), describe(loaded)
    print()
    print(f"streams: {info['open']} open in {info['open_seconds']} s, {info['open_errors']} failed to open, "
          f"{info['refused']} refused, {info['dropped']} dropped by the server, {info['still_open_at_end']} still open "
          "at the end")
    print(f"streams received {info['bytes'] / 1e6:.2f} MB in all ({info['bytes'] / max(1, info['open']) / 1024:.1f} "
          "KiB each)")
    print(f"{'endpoint':10} {'phase':12} {'n':>7} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for name in ("healthz", "locate"):
        for phase, d, secs in (("no streams", b, args.baseline_seconds), (f"{info['open']} streams", lo, args.seconds)):
            r = d[name]
            print(f"{name:10} {phase:12} {r['n']:7d} {r['n'] / secs:8.1f} {r['p50']:8.1f} {r['p95']:8.1f} "
                  f"{r['p99']:8.1f}")
        ratio = lo[name]["p99"] / b[name]["p99"]
        print(f"{name:10} p99 ratio {ratio:.2f} (target ≤ 1.5) {'OK' if ratio <= 1.5 else 'MISSED'}")
    print(f"errors: {base['errors']} / {loaded['errors']}; timeouts: {base['timeouts']} / {loaded['timeouts']} "
          f"(no streams / streams); report creations failed: {create_errors}")
    print(f"reports created: {len(acked)}; deliveries {len(delays)} of {len(acked) * info['open']} "
          f"(missing {missing})")
    if delays:
        p95 = pct(delays, 95)
        print(f"delivery delay after the 201: p50 {pct(delays, 50) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
              f"p99 {pct(delays, 99) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms (target p95 ≤ 1000 ms) "
              f"{'OK' if p95 <= 1.0 else 'MISSED'}")
    print(f"response bytes of the load: {base['bytes'] / 1e6:.2f} MB / {loaded['bytes'] / 1e6:.2f} MB")
    if rss_before is not None:
        print(f"server memory (RSS, master + workers): {rss_before} MB before the streams, {rss_during} MB with them")
    if pids:
        nb = len(base["healthz"]) + len(base["locate"])
        nl = len(loaded["healthz"]) + len(loaded["locate"])
        print(f"server CPU: {cpu_base:.1f} s for {nb} requests ({cpu_base / max(1, nb) * 1000:.2f} ms each) without "
              "streams; "
              f"{cpu_loaded:.1f} s for {nl} requests + {len(acked)} reports to {info['open']} streams "
              f"({cpu_loaded / max(1, nl) * 1000:.2f} ms per request, streams' share included)")
    print(f"load average: {base_load} after the no-stream phase, {loaded_load} after the stream phase")


def compare(args, points):
    print(f"{args.clients} connections, {args.baseline_seconds} s each, {args.workers} workers; load average "
          f"{os.getloadavg()}")
    print(f"{'serving':14} {'endpoint':8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'timeouts':>8}")
    for serving in SERVINGS:
        proc, url = start_server(args.workers, serving)
        try:
            for i in range(40):
                httpx.get(url + "/api/v1/locate", params={"lat": points[i][1], "lon": points[i][0]}, timeout=TIMEOUT_S)
            p, q = run_load(url, args.clients, args.baseline_seconds, points)
            st = q.get()
            p.join()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        d = describe(st)
        for name in ("healthz", "locate"):
            r = d[name]
            print(f"{serving:14} {name:8} {r['n'] / args.baseline_seconds:8.1f} {r['p50']:8.1f} {r['p99']:8.1f} "
                  f"{st['errors']:6d} {st['timeouts']:8d}")
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
