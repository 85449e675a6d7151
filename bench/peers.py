"""Peers inside our benchmarks: other projects' servers measured beside the portal on the
same machine, the same data and the same requests.

    .venv/bin/python bench/peers.py [--seconds 15] [--connections 8] [--workers 3]

Point lookup over HTTP against MapIt (mysociety/mapit, PyPI ``django-mapit``): the 3,321
national full-resolution communes (wards_all_full.geojson.gz) in the database of
bench/routing.py (DATABASE_URL + "_bench", loaded on the first run), and in MapIt's own
database (DATABASE_URL + "_mapit") the same communes cut into the same parts as our
``boundaries_areapart`` (ST_Subdivide 256: MapIt's Geometry rows are those polygons, so
both servers probe the same table shape; one Code per area, the commune code). The same
3,321 points (one per commune, ``ST_GeneratePoints(geom, 1, 42)``) are asked of both,
through ``wrk`` with a Lua script, 8 connections, with keep-alive and with
``Connection: close``. Each figure is bracketed by both servers' trivial endpoints
(ours ``/livez``; MapIt's ``/livez`` added to its project: a plain "ok" through MapIt's
middleware, no database query), and printed with ours, theirs, the ratio, each server's
CPU per request (its processes and its PostgreSQL backends: less sensitive to other jobs
on the machine than latency) and the load average. "ours via Django" is the same portal
with ``ASGI_LEAN=0`` (the lookup through Django's middleware and thread pool, as before
the lean path), measured in the same bracket.

The portal is served exactly as scripts/run serves it (gunicorn, ``WEB_WORKERS`` uvicorn
workers of geo_portal.uvicorn_worker, geo_portal.asgi, DEBUG off). MapIt runs in its own
virtual environment under var/peers/mapit/ (Django 3.2: MapIt 3.0 still imports
``django.conf.urls.url`` and ``ugettext``, gone in Django 4), served by gunicorn with
sync workers (as many as ours), persistent database connections (CONN_MAX_AGE) and no
cache (DummyCache, none of MapIt's cache middleware). Nothing of MapIt is committed: it is
installed and configured by this script.

Shared machinery for other peers (import it): ``peer_venv`` (a virtual environment under
var/peers/<name>/), ``free_port``, ``Server`` (a process group started and stopped by us),
``serve_portal``, ``wrk_run`` (the load generator), ``compare`` (ours vs theirs, bracketed
by trivial endpoints, with the load average) and ``load_average``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS_DIR = ROOT / "var" / "peers"
PY = str(ROOT / ".venv" / "bin" / "python")
sys.path.insert(0, str(ROOT))

from bench.live import cpu_seconds as process_cpu_seconds  # noqa: E402
from bench.live import free_port  # noqa: E402, F401 (bench/peer_tiles.py imports it from here)


def say(msg=""):
    print(msg, flush=True)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def database_url(suffix: str) -> str:
    """DATABASE_URL with ``suffix`` added to the database name (created with PostGIS when
    missing)."""
    import dj_database_url
    import psycopg

    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/geo_portal")
    cfg = dj_database_url.parse(url)
    name = cfg["NAME"] + suffix
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')
    out = url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(out, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    return out


# --------------------------------------------------------------------------- venvs


def peer_venv(name: str, packages: list[str], no_deps: list[str] = (), python: str = "python3.11") -> Path:
    """A virtual environment under var/peers/<name>/venv with ``packages`` (pinned
    requirement strings) and ``no_deps`` (installed without their declared
    dependencies); reinstalled only when the lists change. Returns its bin/ directory."""
    home = PEERS_DIR / name
    venv = home / "venv"
    stamp = venv / ".peer-packages"
    want = hashlib.sha256(json.dumps([packages, list(no_deps), python]).encode()).hexdigest()
    if stamp.is_file() and stamp.read_text() == want:
        return venv / "bin"
    home.mkdir(parents=True, exist_ok=True)
    say(f"[{name}] creating {venv.relative_to(ROOT)} …")
    subprocess.run([python, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *packages], check=True)
    if no_deps:
        subprocess.run([*pip, "--no-deps", *no_deps], check=True)
    stamp.write_text(want)
    return venv / "bin"


# --------------------------------------------------------------------------- servers


class Server:
    """A server process (its own process group, ended by its id only) that answers
    ``ready_path`` with 200 before use."""

    def __init__(self, name, cmd, *, port, env=None, cwd=None, ready_path="/", log=None, database=None):
        self.name, self.cmd, self.port = name, cmd, port
        self.database = database  # its PostgreSQL backends count in cpu_seconds()
        self.env, self.cwd, self.ready_path = env, cwd, ready_path
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.proc = None

    def __enter__(self):
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=self.cwd, stdout=out, stderr=out,
                                     start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.proc.returncode} (log: {self.log})")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise SystemExit(f"{self.name} did not answer {self.ready_path} in 120 s (log: {self.log})")

    def pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-g", str(self.proc.pid)], capture_output=True, text=True).stdout.split()
        return [int(p) for p in out]

    def cpu_seconds(self) -> float:
        """User + system CPU time so far of the server's processes and of the PostgreSQL
        backends connected to its database (less sensitive to other jobs than latency)."""
        pids = self.pids()
        if self.database:
            import psycopg

            with psycopg.connect(self.database, autocommit=True) as conn:
                pids += [r[0] for r in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")]
        return process_cpu_seconds(pids)

    def __exit__(self, *exc):
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def serve_portal(database: str, workers: int = 3, extra_env: dict | None = None) -> Server:
    """The portal as scripts/run serves it (gunicorn, uvicorn workers, geo_portal.asgi,
    DEBUG off, the access log on), on a free port."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database, "DEBUG": "0", "DJANGO_SETTINGS_MODULE": "geo_portal.settings",
           "WEB_WORKERS": str(workers), **(extra_env or {})}
    if not env.get("SECRET_KEY") and not (ROOT / "var" / "secret_key").is_file():
        env["SECRET_KEY"] = secrets.token_urlsafe(50)
    cmd = [str(ROOT / ".venv/bin/gunicorn"), "-c", "geo_portal/gunicorn_conf.py", "geo_portal.asgi:application",
           "-b", f"127.0.0.1:{port}", "--no-control-socket"]
    PEERS_DIR.mkdir(parents=True, exist_ok=True)
    return Server("portal", cmd, port=port, env=env, cwd=ROOT, ready_path="/livez", log=PEERS_DIR / "portal.log",
                  database=database)


# --------------------------------------------------------------------------- load generator

WRK_DONE = r"""
-- The figures wrk measured, as one JSON line for wrk_run.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "status": %d, "connect": %d, "read": %d, "write": %d, '
    .. '"timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""

WRK_LINES = r"""
-- The lines of the file args[1]; each wrk thread walks them from its own offset (tid).
local threads_started = 0
function setup(thread)
  thread:set("tid", threads_started)
  threads_started = threads_started + 1
end
local lines = {}
local i = 0
function init(args)
  for line in io.lines(args[1]) do lines[#lines + 1] = line end
  i = (tid or 0) * 7919
end
"""

# GETs of the paths given as the lines.
_WRK_LUA = WRK_LINES + r"""
function request()
  i = i + 1
  return wrk.format(nil, lines[(i % #lines) + 1])
end
""" + WRK_DONE


@dataclass
class Figure:
    req_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx/3xx answers + socket errors (wrk counts a reconnection after close as none)
    cpu_ms: float | None = None  # the server's CPU (processes + its PostgreSQL backends) per request

    def __str__(self):
        err = f", {self.errors} errors" if self.errors else ""
        cpu = f"  CPU {self.cpu_ms:5.2f} ms/req" if self.cpu_ms is not None else ""
        return f"{self.req_s:8.1f} req/s  p50 {self.p50_ms:6.2f} ms  p99 {self.p99_ms:7.2f} ms{cpu}{err}"


def ensure_wrk():
    """wrk (Debian's package) is the load generator of every HTTP benchmark: installed
    when missing and the bench runs as root, as scripts/setup.sh installs the rest."""
    if shutil.which("wrk"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say("installing wrk (apt-get install -y wrk) …")
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, stdout=subprocess.DEVNULL,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install -y wrk")


def wrk_run(base_url: str, paths: list[str], seconds: float = 15, connections: int = 8, keepalive: bool = True,
            threads: int = 2, lua: str = _WRK_LUA) -> Figure:
    """``connections`` connections sending ``paths`` (in order, each wrk thread from its
    own offset) for ``seconds``; without keep-alive every request asks ``Connection:
    close`` and wrk reconnects. ``lua``: another script reading the lines of ``paths``
    as its args[1] and ending with the same ``done`` (e.g. bench/ingest.py's POSTs)."""
    with tempfile.TemporaryDirectory() as tmp:
        script, listing = Path(tmp, "paths.lua"), Path(tmp, "paths.txt")
        script.write_text(lua)
        listing.write_text("\n".join(paths) + "\n")
        cmd = ["wrk", "-t", str(min(threads, connections)), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
               "--timeout", "10s", "-s", str(script)]
        if not keepalive:
            cmd += ["-H", "Connection: close"]
        out = subprocess.run([*cmd, base_url, "--", str(listing)], capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK_JSON "))
    d = json.loads(line[len("WRK_JSON "):])
    errors = d["status"] + d["connect"] + d["read"] + d["write"] + d["timeout"]
    return Figure(d["requests"] / (d["duration_us"] / 1e6), d["p50_us"] / 1000, d["p90_us"] / 1000,
                  d["p99_us"] / 1000, d["requests"], errors)


def compare(title, ours: Server, theirs: Server, our_paths, their_paths, our_trivial, their_trivial, *,
            seconds, connections, keepalive, peer_name, also=()) -> dict:
    """One figure, ours against theirs, bracketed by both servers' trivial endpoints
    (before and after), with the load average; prints it and returns the numbers.
    ``also``: more (label, server, paths) measured between ours and theirs (e.g. our
    previous way of serving it), each printed with its ratio to theirs."""
    def run(server, paths):
        cpu0 = server.cpu_seconds()
        fig = wrk_run(server.url, paths, seconds, connections, keepalive)
        fig.cpu_ms = (server.cpu_seconds() - cpu0) * 1000 / max(1, fig.requests)
        return fig

    la0 = load_average()
    triv_before = (run(ours, [our_trivial]), run(theirs, [their_trivial]))
    fig_ours = run(ours, our_paths)
    fig_also = [(label, run(server, paths)) for label, server, paths in also]
    fig_theirs = run(theirs, their_paths)
    triv_after = (run(ours, [our_trivial]), run(theirs, [their_trivial]))
    la1 = load_average()
    mode = "keep-alive" if keepalive else "Connection: close"
    say(f"\n{title}, {connections} connections, {mode}, {seconds:g} s each (load average {la0} → {la1}):")
    say(f"    trivial before  ours {our_trivial:<10} {triv_before[0]}")
    say(f"                    {peer_name:<4} {their_trivial:<10} {triv_before[1]}")
    say(f"    ours            {fig_ours}")
    for label, fig in fig_also:
        say(f"    {label:<15} {fig}")
    say(f"    {peer_name:<15} {fig_theirs}")
    say(f"    trivial after   ours {our_trivial:<10} {triv_after[0]}")
    say(f"                    {peer_name:<4} {their_trivial:<10} {triv_after[1]}")
    ratio_rps = fig_ours.req_s / fig_theirs.req_s
    ratio_p99 = fig_ours.p99_ms / fig_theirs.p99_ms
    say(f"    ratio ours/{peer_name}: req/s {ratio_rps:.2f}×, p99 {ratio_p99:.2f}×   (target ≥ 5× req/s, p99 ≤ 0.2×); "
        f"CPU per request {fig_ours.cpu_ms / fig_theirs.cpu_ms:.2f}×")
    cores = os.cpu_count()
    capacity = "; ".join(f"{label} {cores * 1000 / fig.cpu_ms:,.0f}" for label, fig in
                         [("ours", fig_ours), *fig_also, (peer_name, fig_theirs)])
    say(f"    CPU-bound capacity ({cores} cores / CPU per request), req/s: {capacity}")
    for label, fig in fig_also:
        say(f"    ratio {label}/{peer_name}: req/s {fig.req_s / fig_theirs.req_s:.2f}×, "
            f"p99 {fig.p99_ms / fig_theirs.p99_ms:.2f}×; CPU per request {fig.cpu_ms / fig_theirs.cpu_ms:.2f}×")
    return {"ours": fig_ours, "theirs": fig_theirs, "also": fig_also, "trivial_before": triv_before,
            "trivial_after": triv_after, "ratio_req_s": ratio_rps, "ratio_p99": ratio_p99, "load": (la0, la1)}


# --------------------------------------------------------------------------- our data


def prepare_ours() -> tuple[str, list[tuple[float, float]]]:
    """The bench database of bench/routing.py (national communes loaded) and 3,321 points,
    one inside each commune (seeded)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo_portal.settings")
    from bench.routing import _ensure_database

    main_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/geo_portal")
    _ensure_database()  # sets DATABASE_URL to the bench database
    bench_url = os.environ["DATABASE_URL"]
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench.routing import load_national
    from boundaries.models import Area, AreaType, BoundaryVersion

    call_command("migrate", verbosity=0)
    version, ctype, load_s = load_national(connection, Area, AreaType, BoundaryVersion)
    if load_s:
        say(f"loaded the national communes into the bench database in {load_s:.1f} s")
    with connection.cursor() as cur:
        cur.execute(
            """SELECT ST_X(g), ST_Y(g) FROM (
                 SELECT code, (ST_Dump(ST_GeneratePoints(geom, 1, 42))).geom AS g FROM boundaries_area
                 WHERE version_id = %s AND type_id = %s) s ORDER BY md5(code)""",
            [version.id, ctype.id],
        )
        points = [(round(x, 6), round(y, 6)) for x, y in cur.fetchall()]
    os.environ["DATABASE_URL"] = main_url
    return bench_url, points


# --------------------------------------------------------------------------- MapIt

MAPIT_PACKAGES = ["Django==3.2.25", "psycopg2-binary==2.9.13", "PyYAML==6.0.4", "shapely==2.2.0", "six==1.17.0",
                  "uk-postcode-utils==1.1", "libsass==0.23.0", "gunicorn==27.0.1"]
# MapIt 3.0 declares psycopg2 (built from source); the binary wheel is the same module.
MAPIT_NO_DEPS = ["django-mapit==3.0"]

def _mapit_project(home: Path, database: str) -> Path:
    project = home / "project"
    pkg = project / "mapit_peer"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    from urllib.parse import urlparse

    u = urlparse(database)
    (pkg / "settings.py").write_text(textwrap.dedent(f"""\
        # Written by geo_portal's bench/peers.py: MapIt as a standalone server, cache off.
        SECRET_KEY = "bench-only"
        DEBUG = False
        ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
        DATABASES = {{"default": {{
            "ENGINE": "django.contrib.gis.db.backends.postgis",
            "NAME": {u.path.lstrip("/")!r}, "USER": {u.username or ""!r}, "PASSWORD": {u.password or ""!r},
            "HOST": {u.hostname or ""!r}, "PORT": {str(u.port or "")!r},
            "CONN_MAX_AGE": 600,  # persistent connections
        }}}}
        CACHES = {{"default": {{"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}}}
        INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.gis", "mapit"]
        # MapIt's own project settings minus its cache middleware (Update/FetchFromCache).
        MIDDLEWARE = [
            "django.middleware.common.CommonMiddleware",
            "mapit.middleware.JSONPMiddleware",
            "mapit.middleware.ViewExceptionMiddleware",
        ]
        ROOT_URLCONF = "mapit_peer.urls"
        TEMPLATES = [{{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
                      "OPTIONS": {{"context_processors": ["django.template.context_processors.request",
                                                          "mapit.context_processors.country",
                                                          "mapit.context_processors.analytics"]}}}}]
        USE_TZ = True
        USE_I18N = True
        LANGUAGE_CODE = "en"
        STATIC_URL = "/static/"
        DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
        MAPIT_AREA_SRID = 4326
        MAPIT_COUNTRY = "VN"
        MAPIT_RATE_LIMIT = []
        POSTCODES_AVAILABLE = PARTIAL_POSTCODES_AVAILABLE = False
        GOOGLE_ANALYTICS = ""
        BASE_DIR = {str(project)!r}
        LOGGING = {{"version": 1, "disable_existing_loggers": False}}
    """))
    (pkg / "urls.py").write_text(textwrap.dedent("""\
        from django.http import HttpResponse
        from django.urls import include, path


        def livez(request):  # the trivial endpoint: no database query
            return HttpResponse("ok", content_type="text/plain")


        urlpatterns = [path("livez", livez), path("", include("mapit.urls"))]
    """))
    (pkg / "wsgi.py").write_text(textwrap.dedent("""\
        import os

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mapit_peer.settings")
        from django.core.wsgi import get_wsgi_application

        application = get_wsgi_application()
    """))
    return project


def _copy_rows(src, dst, select_sql, copy_sql):
    with src.cursor().copy(f"COPY ({select_sql}) TO STDOUT") as out, dst.cursor().copy(copy_sql) as into:
        for block in out:
            into.write(block)


def prepare_mapit(bench_url: str) -> tuple[Path, Path, str]:
    """MapIt's venv, project and database, loaded with the bench database's communes and
    their parts (idempotent). Returns (bin dir, project dir)."""
    import psycopg

    home = PEERS_DIR / "mapit"
    vbin = peer_venv("mapit", MAPIT_PACKAGES, MAPIT_NO_DEPS)
    database = database_url("_mapit")
    project = _mapit_project(home, database)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "mapit_peer.settings", "PYTHONPATH": str(project)}
    subprocess.run([str(vbin / "python"), "-m", "django", "migrate", "-v", "0"], cwd=project, env=env, check=True)
    with psycopg.connect(bench_url) as src, psycopg.connect(database) as dst:
        want = src.execute(
            """SELECT count(*) FROM boundaries_areapart p JOIN boundaries_boundaryversion v ON v.id = p.version_id
               WHERE v.code = 'vn-2025'"""
        ).fetchone()[0]
        have = dst.execute("SELECT count(*) FROM mapit_geometry").fetchone()[0]
        if have == want:
            return vbin, project, database
        say(f"[mapit] loading {want:,} parts of the communes into {database.rsplit('/', 1)[1]} …")
        t0 = time.perf_counter()
        dst.execute("TRUNCATE mapit_geometry, mapit_code, mapit_area, mapit_area_countries, mapit_generation, "
                    "mapit_type, mapit_codetype, mapit_country RESTART IDENTITY CASCADE")
        gen = dst.execute("INSERT INTO mapit_generation (active, created, description) "
                          "VALUES (true, now(), 'vn-2025') RETURNING id").fetchone()[0]
        typ = dst.execute("INSERT INTO mapit_type (code, description) VALUES ('COM', 'Commune') "
                          "RETURNING id").fetchone()[0]
        ctyp = dst.execute("INSERT INTO mapit_codetype (code, description) VALUES ('vn', 'Mã đơn vị hành chính') "
                           "RETURNING id").fetchone()[0]
        version_sql = "(SELECT id FROM boundaries_boundaryversion WHERE code = 'vn-2025')"
        _copy_rows(src, dst,
                   f"SELECT id, name, {typ}, {gen}, {gen} FROM boundaries_area WHERE version_id = {version_sql}",
                   "COPY mapit_area (id, name, type_id, generation_low_id, generation_high_id) FROM STDIN")
        _copy_rows(src, dst,
                   f"SELECT id, {ctyp}, code FROM boundaries_area WHERE version_id = {version_sql}",
                   "COPY mapit_code (area_id, type_id, code) FROM STDIN")
        _copy_rows(src, dst,
                   f"SELECT area_id, geom FROM boundaries_areapart WHERE version_id = {version_sql} "
                   "AND GeometryType(geom) = 'POLYGON'",
                   "COPY mapit_geometry (area_id, polygon) FROM STDIN")
        dst.execute("SELECT setval(pg_get_serial_sequence('mapit_area', 'id'), (SELECT max(id) FROM mapit_area))")
        dst.commit()
        dst.autocommit = True
        dst.execute("VACUUM ANALYZE mapit_area")
        dst.execute("VACUUM ANALYZE mapit_geometry")
        dst.execute("VACUUM ANALYZE mapit_code")
        say(f"[mapit] loaded in {time.perf_counter() - t0:.1f} s")
    return vbin, project, database


def serve_mapit(vbin: Path, project: Path, workers: int, database: str) -> Server:
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "mapit_peer.settings", "PYTHONPATH": str(project)}
    cmd = [str(vbin / "gunicorn"), "mapit_peer.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(workers),
           "-k", "sync", "--timeout", "120"]
    return Server("mapit", cmd, port=port, env=env, cwd=project, ready_path="/livez",
                  log=PEERS_DIR / "mapit" / "server.log", database=database)


# --------------------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--workers", type=int, default=int(os.environ.get("WEB_WORKERS", 3)))
    ap.add_argument("--keepalive", choices=["both", "on", "off"], default="both")
    args = ap.parse_args()
    ensure_wrk()

    bench_url, points = prepare_ours()
    vbin, project, mapit_db = prepare_mapit(bench_url)
    our_paths = [f"/api/v1/locate?lat={lat}&lon={lon}" for lon, lat in points]
    their_paths = [f"/point/4326/{lon},{lat}" for lon, lat in points]
    say("== point lookup over HTTP: the portal vs MapIt ==")
    say(f"data: 3,321 national full-resolution communes; {len(points):,} points (one inside each commune); "
        f"{args.workers} workers each; {os.cpu_count()} cores")
    ap_django = serve_portal(bench_url, args.workers, {"ASGI_LEAN": "0"})
    ap_django.log = PEERS_DIR / "portal-django.log"
    with (serve_portal(bench_url, args.workers) as ours, ap_django as via_django,
          serve_mapit(vbin, project, args.workers, mapit_db) as theirs):
        # The same point, both answers: they must name the same commune.
        lon, lat = points[0]
        with urllib.request.urlopen(ours.url + our_paths[0]) as r:
            mine = json.load(r)
        with urllib.request.urlopen(theirs.url + their_paths[0]) as r:
            their = json.load(r)
        say(f"check ({lat}, {lon}): ours {[a['code'] for a in mine['areas']]}, "
            f"MapIt {[a['codes'].get('vn') for a in their.values()]}")
        for path, server in ((our_paths, ours), (our_paths, via_django), (their_paths, theirs)):  # warm up
            wrk_run(server.url, path, 5, args.connections)
        modes = {"both": [True, False], "on": [True], "off": [False]}[args.keepalive]
        for keepalive in modes:
            compare("point lookup", ours, theirs, our_paths, their_paths, "/livez", "/livez",
                    seconds=args.seconds, connections=args.connections, keepalive=keepalive, peer_name="MapIt",
                    also=[("ours via Django", via_django, our_paths)])


if __name__ == "__main__":
    main()
