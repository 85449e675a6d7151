"""Heavy anonymous reads, before and after the bounds (issue 8, item 3).

    DATABASE_URL=postgres://…/<a database with the demo loaded> \\
        .venv/bin/python bench/heavy_reads.py [--root /path/to/another/checkout]

Sends each request twice as an anonymous client through Django's test client (the
whole view, the database and the Redis cache; no HTTP server) in a fresh process with
an empty cache namespace (folium imported beforehand, as in a worker that has served
one export), and prints the status, the size of the answer and the time
of the first (cold) and the second (warm: cached where the checkout caches) call.
``--root /work/main`` measures the same requests against another checkout (before).
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

QN = "106.9,20.85,107.2,21.05"  # Hạ Long and its wards: the demo's densest view
WIDE = "102.0,8.5,110.0,23.5"  # the whole country

CASES = [
    ("export.html, Hạ Long", f"/api/v1/heatmaps/export.html?bbox={QN}"),
    ("export.html, country", f"/api/v1/heatmaps/export.html?bbox={WIDE}"),
    ("export.csv, country", f"/api/v1/heatmaps/export.csv?bbox={WIDE}"),
    ("export.geojson, country", f"/api/v1/heatmaps/export.geojson?bbox={WIDE}"),
    ("boundaries communes z22, all", "/api/v1/boundaries/vn-2025/commune.geojson?zoom=22"),
    ("boundaries communes z22, QN", "/api/v1/boundaries/vn-2025/commune.geojson?zoom=22&province=22"),
    ("boundaries communes z14, QN", "/api/v1/boundaries/vn-2025/commune.geojson?zoom=14&province=22"),
    ("areas communes z22, all", "/api/v1/heatmaps/areas/?type=commune&zoom=22"),
    ("areas communes z22, QN", "/api/v1/heatmaps/areas/?type=commune&zoom=22&parent=22"),
]

CHILD = r"""
import json, os, sys, time, uuid
sys.path.insert(0, os.environ["BENCH_ROOT"])
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo_portal.settings")
import django
django.setup()
from django.conf import settings
settings.CACHES["default"]["KEY_PREFIX"] = "bench-" + uuid.uuid4().hex  # an empty cache
settings.ALLOWED_HOSTS = ["*"]
from django.test import Client
import folium  # noqa: a worker imports it once (2.4 s); the figures are per request
out = []
for url in json.loads(sys.argv[1]):
    c = Client()
    row = {"url": url}
    for run in ("cold", "warm"):
        t0 = time.perf_counter()
        resp = c.get(url)
        row[run] = time.perf_counter() - t0
        row["status"], row["bytes"] = resp.status_code, len(resp.content)
        if resp.status_code == 400:
            row["body"] = resp.content.decode()[:200]
    out.append(row)
print(json.dumps(out))
"""


def main():
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(HERE))
    args = parser.parse_args()
    env = {**os.environ, "BENCH_ROOT": args.root}
    run = subprocess.run([sys.executable, "-c", CHILD, json.dumps([u for _l, u in CASES])], env=env,
                         capture_output=True, text=True, cwd=args.root, timeout=1800)
    if run.returncode != 0:
        sys.exit(run.stderr)
    rows = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"checkout: {args.root}")
    print(f"{'request':32} {'status':>6} {'size':>10} {'cold':>8} {'warm':>8}")
    for (label, _url), r in zip(CASES, rows, strict=True):
        print(f"{label:32} {r['status']:>6} {r['bytes'] / 1024:8.0f}KB {r['cold']:7.2f}s {r['warm']:7.2f}s")


if __name__ == "__main__":
    main()
