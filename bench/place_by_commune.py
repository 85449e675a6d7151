"""What placing a report by its commune (no pin) costs against a pin: one
boundaries.lookup.locate_area(code) (the commune, its ancestors and ST_PointOnSurface
of its full polygon, one query) against one boundaries.lookup.locate(point) (the
prepared point-in-polygon query) of a point inside the same commune, for every commune
of the current version, interleaved, on one connection.

    DATABASE_URL=postgres://…/db_with_boundaries .venv/bin/python bench/place_by_commune.py [--rounds 5]

Needs a database with the boundaries loaded (the demo's, or a test database). Prints
p50/p95 of each, their ratio, the data size and the load average.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo_portal.settings")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection

    from boundaries.lookup import locate, locate_area
    from boundaries.models import BoundaryVersion

    version = BoundaryVersion.objects.current()
    with connection.cursor() as cur:
        cur.execute(
            """SELECT a.code, ST_X(ST_PointOnSurface(a.geom)), ST_Y(ST_PointOnSurface(a.geom)), ST_NPoints(a.geom)
               FROM boundaries_area a JOIN boundaries_areatype t ON t.id = a.type_id
               WHERE a.version_id = %s AND t.code = 'commune' ORDER BY a.code""", [version.id])
        communes = cur.fetchall()
    if not communes:
        sys.exit("no communes in the current boundary version: load the boundaries first")
    by_pin, by_code = [], []
    for _ in range(args.rounds):
        for code, lon, lat, _n in communes:
            t0 = time.perf_counter()
            pinned = locate((lon, lat))
            t1 = time.perf_counter()
            chosen = locate_area(code)
            t2 = time.perf_counter()
            assert chosen.commune.code == code and pinned.areas
            by_pin.append((t1 - t0) * 1000)
            by_code.append((t2 - t1) * 1000)

    def pct(values, q):
        return statistics.quantiles(values, n=100)[q - 1]

    vertices = sum(c[3] for c in communes)
    print(f"data: {len(communes)} communes of {version.code}, {vertices:,} vertices; "
          f"{args.rounds} rounds = {len(by_pin)} lookups each")
    for name, values in (("locate(point) [baseline]", by_pin), ("locate_area(code)", by_code)):
        print(f"{name:26s} p50 {pct(values, 50):6.2f} ms  p95 {pct(values, 95):6.2f} ms")
    print(f"ratio locate_area / locate: p50 {pct(by_code, 50) / pct(by_pin, 50):.2f}x, "
          f"p95 {pct(by_code, 95) / pct(by_pin, 95):.2f}x")
    print("load average: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
