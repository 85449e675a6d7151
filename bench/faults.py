"""Faults lose nothing: reports submitted with retries and idempotency keys while a web
worker is killed (SIGKILL) and PostgreSQL is stopped hard and restarted.

Everything runs on this machine, on loopback, against a private PostgreSQL cluster
(initdb + pg_ctl under var/faults/, its own free port; kept between runs) and the portal
served with the gunicorn command of scripts/run (PORT, DATABASE_URL in the environment).
The run is bounded (--seconds) and never touches another database or process.

Clients (threads, one HTTP connection each) submit reports one after another; each
submission gets a fresh Idempotency-Key and a unique token in its description, and is
retried with the same key after a connection error, a timeout or a 5xx until it is
acknowledged (200/201 with a report code) or its own deadline passes.

The schedule (seconds after the start): a worker killed at 30 % of the run, PostgreSQL
stopped (-m immediate: a crash) at 45 % and started again --pg-down seconds later, a
second worker killed at 70 %. At the end the database is read directly:

  acknowledged-lost  acknowledged codes whose report is not stored (must be 0)
  duplicates         submissions (tokens) stored more than once (must be 0)
  errors during      failed attempts between the first fault and the last recovery
  errors after       failed attempts after that (should be 0)
  time to recover    PostgreSQL back → the first acknowledged submission; also from the
                     stop, and for each killed worker
  /healthz           what the readiness probe said during the outage (503 expected)

    .venv/bin/python bench/faults.py [--seconds 60] [--clients 8] [--pg-down 3]
"""

import argparse
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
HERE = ROOT / "var" / "faults"
PGDATA = HERE / "pgdata"
PG_MAJOR = sorted(os.listdir("/usr/lib/postgresql"), key=int)[-1] if Path("/usr/lib/postgresql").is_dir() else "15"
PGBIN = Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin")
DB_NAME = "geo_portal_faults"
# scripts/run's server: gunicorn with its uvicorn workers (geo_portal/asgi.py: WEB_THREADS
# threads each for Django, the live stream and the lean locate on the event loop), 3 of
# them; no control socket (gunicorn's default path is shared by every server on the machine).
SERVE = [PY, "-m", "gunicorn", "-c", "geo_portal/gunicorn_conf.py", "geo_portal.asgi:application", "-w", "3",
         "--no-control-socket", "--log-level", "warning", "--access-logfile", "/dev/null"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres(cmd, **kw):
    """PostgreSQL refuses to run as root: the cluster belongs to the postgres user."""
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, check=True, **kw)


# --- the private cluster ------------------------------------------------------------


def pg_start(port):
    as_postgres([str(PGBIN / "pg_ctl"), "-D", str(PGDATA), "-l", str(PGDATA / "server.log"), "-w", "-t", "60",
                 "-o", f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''", "start"],
                stdout=subprocess.DEVNULL)


def pg_stop(mode="fast"):
    as_postgres([str(PGBIN / "pg_ctl"), "-D", str(PGDATA), "-m", mode, "-w", "-t", "60", "stop"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def pg_running():
    return (PGDATA / "postmaster.pid").exists()


def ensure_cluster(port):
    if not (PGDATA / "PG_VERSION").exists():
        PGDATA.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(HERE, "postgres", "postgres")
            shutil.chown(PGDATA, "postgres", "postgres")
        as_postgres([str(PGBIN / "initdb"), "-D", str(PGDATA), "-A", "trust", "-U", "postgres", "-E", "UTF8"],
                    stdout=subprocess.DEVNULL)
    if pg_running():
        pg_stop()  # a previous run's cluster, maybe on another port
    pg_start(port)


def prepare_db(dsn_admin, dsn, env):
    t0 = time.perf_counter()
    with psycopg.connect(dsn_admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    with psycopg.connect(dsn) as conn:
        loaded = conn.execute("SELECT count(*) FROM boundaries_area").fetchone()[0]
    if not loaded:
        subprocess.run([PY, "-c",
                        "import django; django.setup(); from fixtures.demo import load_test_data; load_test_data()"],
                       cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "geo_portal.settings"}, check=True)
    return time.perf_counter() - t0


def sample_inputs(dsn, n=500):
    with psycopg.connect(dsn) as conn:
        points = conn.execute(
            """SELECT ST_X(g), ST_Y(g) FROM (
                 SELECT (ST_Dump(ST_GeneratePoints(a.geom, 5, 7))).geom g
                 FROM boundaries_area a
                 JOIN boundaries_areatype t ON t.id = a.type_id AND t.code = 'commune'
                 JOIN boundaries_boundaryversion v ON v.id = a.version_id AND v.code = 'vn-2025'
                 WHERE a.code LIKE '0%%') s ORDER BY random() LIMIT %s""", [n]).fetchall()
        cats = [r[0] for r in conn.execute(
            "SELECT code FROM reports_category c WHERE active AND NOT EXISTS "
            "(SELECT 1 FROM reports_category k WHERE k.parent_id = c.id)").fetchall()]
    return points, cats


# --- the portal -----------------------------------------------------------------------


def start_server(env, port):
    proc = subprocess.Popen([*SERVE, "-b", f"127.0.0.1:{port}"], cwd=ROOT, env={**env, "PORT": str(port)},
                            stdout=subprocess.DEVNULL, stderr=open(HERE / "gunicorn.log", "ab"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("the portal did not start: see var/faults/gunicorn.log")


def worker_pids(master_pid):
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master_pid:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            pass
    return sorted(pids)


# --- clients ---------------------------------------------------------------------------


@dataclass
class Log:
    lock: threading.Lock = field(default_factory=threading.Lock)
    attempts: list = field(default_factory=list)  # (t_start, t_end, outcome)
    acked: dict = field(default_factory=dict)  # token -> code
    unacked: list = field(default_factory=list)  # tokens never acknowledged
    tokens: set = field(default_factory=set)  # every submission of this run
    events: list = field(default_factory=list)  # (t, what)
    healthz: list = field(default_factory=list)  # (t, status)


def submitter(i, url, points, cats, stop_at, t0, log, submission_deadline=60):
    rnd = random.Random(i)
    with httpx.Client(base_url=url, timeout=10) as http:
        while time.monotonic() < stop_at:
            token = uuid.uuid4().hex
            key = f"faults-{token}"
            with log.lock:
                log.tokens.add(token)
            lon, lat = rnd.choice(points)
            data = {"category": rnd.choice(cats), "lat": f"{lat:.6f}", "lon": f"{lon:.6f}",
                    "description": f"Kiểm thử sự cố {token}: đèn đường hỏng, nước ngập trước nhà."}
            give_up = time.monotonic() + submission_deadline
            backoff = 0.1
            while True:
                a = time.monotonic()
                try:
                    resp = http.post("/api/v1/reports", data=data, headers={"Idempotency-Key": key})
                    outcome = resp.status_code
                except httpx.HTTPError as exc:
                    resp, outcome = None, type(exc).__name__
                b = time.monotonic()
                with log.lock:
                    log.attempts.append((a - t0, b - t0, outcome))
                if outcome in (200, 201):
                    with log.lock:
                        log.acked[token] = resp.json()["properties"]["code"]
                    break
                if isinstance(outcome, int) and outcome < 500 and outcome not in (408, 409, 429):
                    with log.lock:
                        log.events.append((b - t0, f"client {i}: {outcome} {resp.text[:200]}"))
                    break  # refused for good: a bug in the bench or the portal, reported below
                if time.monotonic() > give_up:
                    with log.lock:
                        log.unacked.append(token)
                    break
                retry_after = float(resp.headers.get("Retry-After", 0)) if resp is not None else 0
                time.sleep(min(max(backoff, min(retry_after, 1.0)), 1.0) * (0.5 + rnd.random()))
                backoff = min(backoff * 2, 1.0)


def probe_healthz(url, stop_at, t0, log):
    with httpx.Client(base_url=url, timeout=3) as http:
        while time.monotonic() < stop_at:
            a = time.monotonic()
            try:
                status = http.get("/healthz").status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            log.healthz.append((a - t0, status))
            time.sleep(0.25)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--pg-down", type=float, default=3, help="seconds PostgreSQL stays down")
    ap.add_argument("--keep-running", action="store_true", help="leave the private cluster running afterwards")
    args = ap.parse_args()

    HERE.mkdir(parents=True, exist_ok=True)
    pg_port, web_port = free_port(), free_port()
    ensure_cluster(pg_port)
    dsn_admin = f"postgres://postgres@127.0.0.1:{pg_port}/postgres"
    dsn = f"postgres://postgres@127.0.0.1:{pg_port}/{DB_NAME}"
    env = {**os.environ, "DATABASE_URL": dsn, "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50),
           "RATELIMIT_ENABLE": "0", "NOTIFY_DISPATCH": "none", "ALLOWED_HOSTS": "127.0.0.1,localhost",
           "LOG_LEVEL": "WARNING", "PORT": str(web_port)}
    env.pop("PYTEST_VERSION", None)
    server = None
    try:
        print(f"private cluster: {PGDATA} on 127.0.0.1:{pg_port}; set-up {prepare_db(dsn_admin, dsn, env):.1f} s")
        points, cats = sample_inputs(dsn)
        with psycopg.connect(dsn) as conn:
            before = conn.execute("SELECT count(*) FROM reports_report").fetchone()[0]
        server = start_server(env, web_port)
        url = f"http://127.0.0.1:{web_port}"
        print(f"portal: {' '.join(SERVE[2:])} on {url}; {args.clients} clients for {args.seconds:.0f} s; "
              f"{before} reports stored before")

        log = Log()
        t0 = time.monotonic()
        stop_at = t0 + args.seconds
        threads = [threading.Thread(target=submitter, args=(i, url, points, cats, stop_at, t0, log), daemon=True)
                   for i in range(args.clients)]
        threads.append(threading.Thread(target=probe_healthz, args=(url, stop_at, t0, log), daemon=True))
        for t in threads:
            t.start()

        faults = []  # (name, t_fault, t_back)

        def at(fraction):
            time.sleep(max(0.0, t0 + fraction * args.seconds - time.monotonic()))
            return time.monotonic() - t0

        def kill_worker(fraction):
            t = at(fraction)
            pids = worker_pids(server.pid)
            victim = random.Random(fraction).choice(pids)
            os.kill(victim, signal.SIGKILL)
            faults.append((f"SIGKILL gunicorn worker {victim}", t, t))

        kill_worker(0.30)
        t_stop = at(0.45)
        pg_stop("immediate")
        time.sleep(args.pg_down)
        pg_start(pg_port)
        faults.append((f"PostgreSQL stopped (-m immediate) {args.pg_down:.0f} s, started", t_stop,
                       time.monotonic() - t0))
        kill_worker(0.70)
        for t in threads:
            t.join(timeout=args.seconds + 120)

        # --- what the database says -------------------------------------------------
        with psycopg.connect(dsn) as conn:
            rows = conn.execute(
                "SELECT substring(description from 'Kiểm thử sự cố ([0-9a-f]{32})') tok, code FROM reports_report "
                "WHERE description LIKE 'Kiểm thử sự cố %%' AND created_at > now() - interval '1 hour'").fetchall()
        stored = {}
        for tok, code in rows:
            if tok in log.tokens:  # earlier runs' reports stay in the cluster
                stored.setdefault(tok, []).append(code)
        lost = [tok for tok, code in log.acked.items() if code not in stored.get(tok, [])]
        duplicates = sum(len(c) - 1 for c in stored.values() if len(c) > 1)
        unacked_stored = sum(1 for tok in log.unacked if tok in stored)

        ok = lambda o: o in (200, 201)  # noqa: E731
        first_fault = min(f[1] for f in faults)

        def recovered_after(t):
            return min((a[1] for a in log.attempts if ok(a[2]) and a[0] >= t), default=float("nan"))

        last_recovery = max(recovered_after(f[2]) for f in faults)
        failed = [a for a in log.attempts if not ok(a[2])]
        during = [a for a in failed if first_fault <= a[1] and a[0] <= last_recovery]
        after = [a for a in failed if a[0] > last_recovery]
        before_faults = [a for a in failed if a[1] < first_fault]
        def kinds_of(attempts):
            out = {}
            for a in attempts:
                out[a[2]] = out.get(a[2], 0) + 1
            return dict(sorted(out.items(), key=str))

        kinds = kinds_of(during)

        print()
        print(f"submissions acknowledged   {len(log.acked)}  (attempts {len(log.attempts)}, "
              f"never acknowledged {len(log.unacked)}, of which stored {unacked_stored})")
        print(f"acknowledged-lost          {len(lost)}   (must be 0)")
        print(f"duplicates                 {duplicates}   (must be 0; {len(stored)} distinct submissions stored)")
        print(f"errors before faults       {len(before_faults)}")
        print(f"errors during              {len(during)}   {kinds}")
        print(f"errors after               {len(after)}   (started after {last_recovery:.1f} s) {kinds_of(after)}"
              + (f" at {', '.join(f'{a[0]:.1f}' for a in after[:10])} s" if after else ""))
        for name, t_fault, t_back in faults:
            rec = recovered_after(t_back) - t_fault
            print(f"  t={t_fault:5.1f} s  {name}: next acknowledged submission {rec:.2f} s after the fault"
                  + (f", {recovered_after(t_back) - t_back:.2f} s after it was back" if t_back != t_fault else ""))
        outage = [h for h in log.healthz if t_stop <= h[0] <= faults[1][2]]
        statuses = {}
        for _t, s in outage:
            statuses[s] = statuses.get(s, 0) + 1
        print(f"/healthz while PostgreSQL was down: {statuses}")
        for t, what in log.events[:5]:
            print(f"  t={t:5.1f} s  {what}")
        return 0 if not lost and not duplicates else 1
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        if not args.keep_running and pg_running():
            pg_stop()


if __name__ == "__main__":
    sys.exit(main())
