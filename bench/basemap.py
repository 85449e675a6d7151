"""The self-hosted basemap's range answers (issue 10 item 1).

    GEO_PORTAL_DATA_DIR=/work/shared/data .venv/bin/python bench/basemap.py [--zoom 13] [--requests 2000]

Writes a vector PMTiles archive over Hạ Long (tests/basemap_tiles.py, zooms 0..--zoom),
points GEO_PORTAL_BASEMAP at it and times, in process (Django's test client: the view and
the middleware, no socket), the ranges a map asks (header, root directory, tiles: 16 KB or
less at random offsets) against /livez (no database, no file) as the same-run baseline.
No database is needed by either; the numbers are per answer, p50/p95 and their ratio.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo_portal.settings")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402

from tests.basemap_tiles import write_archive  # noqa: E402


def timed(client, n, path, headers_for):
    out = []
    for i in range(n):
        headers = headers_for(i)
        t = time.perf_counter()
        r = client.get(path, **headers)
        body = b"".join(r.streaming_content) if r.streaming else r.content
        out.append((time.perf_counter() - t) * 1000)
        assert r.status_code in (200, 206), r.status_code
        assert body or r.status_code == 200
    return out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--zoom", type=int, default=13)
    ap.add_argument("--requests", type=int, default=2000)
    o = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.pmtiles"
        t = time.perf_counter()
        tiles = write_archive(path, max_zoom=o.zoom)
        built = time.perf_counter() - t
        size = path.stat().st_size
        settings.GEO_PORTAL_BASEMAP = f"pmtiles:{path}"
        settings.ALLOWED_HOSTS = ["*"]
        client = Client()
        rng = random.Random(7)

        def a_range(i):
            first = rng.randrange(0, max(1, size - 1))
            return {"HTTP_RANGE": f"bytes={first}-{first + rng.randrange(1, 16384)}"}

        timed(client, 50, "/livez", lambda i: {})  # warm up both
        timed(client, 50, "/basemap/bench.pmtiles", a_range)
        base = timed(client, o.requests, "/livez", lambda i: {})
        ranged = timed(client, o.requests, "/basemap/bench.pmtiles", a_range)
    print(f"archive: {tiles} tiles z0-{o.zoom}, {size:,} bytes, written in {built:.1f} s")
    print(f"requests: {o.requests} each; load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    for name, xs in (("/livez (baseline)", base), ("range <=16 KB", ranged)):
        print(f"{name:>20}: p50 {statistics.median(xs):.3f} ms  p95 {pct(xs, 0.95):.3f} ms")
    print(f"{'ratio range/livez':>20}: p50 {statistics.median(ranged) / statistics.median(base):.2f}x  "
          f"p95 {pct(ranged, 0.95) / pct(base, 0.95):.2f}x")


if __name__ == "__main__":
    main()
