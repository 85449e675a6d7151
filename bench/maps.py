"""Map and dashboard benchmark with 1,000,000 synthetic reports (issue 4, item 9).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/geo_portal_h5_bench \\
        .venv/bin/python bench/maps.py [--reports 1000000] [--regenerate]

The bench database needs the boundaries of the four demo provinces (vn-2025 communes
with their subdivided parts), categories and authorities (fixtures.demo.load_test_data
does that); the reports are generated in SQL:
  * points: ST_GeneratePoints inside the 2025 communes, each commune weighted by how
    urban it is (a "Phường" ×12, Hạ Long's and the provincial seats' wards ×3 more),
  * created_at uniform over the last 3 years, categories by realistic shares,
    authorities as the routing rules would pick them (commune committee, or the
    province's department / power / water company / police by the category's group),
  * states by age: older reports mostly closed or rated, the last weeks mostly open;
    deadlines 1 / 5 working days (approximated by 1.4 / 7 calendar days),
    handling times log-normal, ratings 1..5 on 60 % of the resolved.

Measures (database time: the SQL the views run, timed around cursor.execute):
  1. point tiles z10-z14 over the month the map shows by default (p50 / p95; the 10 ms
     target counts tiles of at most 2,000 points),
  2. aggregated tiles z5-z9 (same month), and their ratio to the z10 point tiles,
  3. tile sizes (average, max),
  4. the dashboard's national figures from the roll-ups vs from raw reports (ratio),
  5. one authority's view (its figures for a year, from the roll-up).
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo_portal.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from heatmaps.synthetic import generate  # noqa: E402


def timed(sql, params=()):
    with connection.cursor() as cur:
        t = time.perf_counter()
        cur.execute(sql, params)
        rows = cur.fetchall()
        return (time.perf_counter() - t) * 1000, rows


def timed_call(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return (time.perf_counter() - t) * 1000, out


def pct(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = max(0, min(len(values) - 1, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def deg2tile(lat, lon, z):
    import math

    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def sample_tiles(z, k, rng):
    """Tiles at zoom z around sampled report locations (where people look)."""
    _ms, rows = timed("SELECT ST_Y(location), ST_X(location) FROM reports_report TABLESAMPLE SYSTEM (1) LIMIT 5000")
    rng.shuffle(rows)
    seen, out = set(), []
    for lat, lon in rows:
        t = deg2tile(lat, lon, z)
        if t not in seen:
            seen.add(t)
            out.append(t)
        if len(out) >= k:
            break
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--tiles", type=int, default=40, help="tiles sampled per zoom")
    args = parser.parse_args()

    from heatmaps import aggregates as agg
    from heatmaps import stats, tiles
    from heatmaps.aggregates import Filters

    _ms, ((count,),) = timed("SELECT count(*) FROM reports_report")
    if args.regenerate or count < args.reports * 0.95:
        print(f"generating {args.reports - count:,} reports in SQL…", flush=True)
        t = time.perf_counter()
        generate(args.reports - count)
        print(f"  generated in {time.perf_counter() - t:.0f} s", flush=True)
        t = time.perf_counter()
        agg.refresh_all()
        print(f"  roll-ups rebuilt (refresh_all) in {time.perf_counter() - t:.0f} s", flush=True)
    _ms, ((count,),) = timed("SELECT count(*) FROM reports_report")
    _ms, sizes = timed(
        """SELECT pg_size_pretty(pg_total_relation_size('reports_report')),
                  (SELECT count(*) FROM heatmaps_gridrollup),
                  pg_size_pretty(pg_total_relation_size('heatmaps_gridrollup')),
                  (SELECT count(*) FROM heatmaps_authorityrollup),
                  pg_size_pretty(pg_total_relation_size('heatmaps_authorityrollup'))"""
    )
    rs, gn, gs, an, asz = sizes[0]
    print(f"data: {count:,} reports ({rs}); grid roll-up {gn:,} rows ({gs}); authority roll-up {an:,} rows ({asz})")
    _ms, ((last_month,),) = timed(
        "SELECT date_trunc('month', max(created_at) - interval '1 month')::date FROM reports_report")
    month = Filters(start=last_month, end=agg.next_month(last_month) - __import__("datetime").timedelta(days=1))
    print(f"tiles for the month {last_month:%Y-%m} (the map's default period)")
    rng = random.Random(7)

    # warm-up
    for z in (10, 7):
        for x, y in sample_tiles(z, 3, rng):
            tiles.tile("reports", z, x, y, month)

    point_times, small_point_times, sizes_all, z10_times = [], [], [], []
    print("\npoint tiles (layer reports)")
    for z in range(10, 15):
        ts, ns, bs = [], [], []
        for x, y in sample_tiles(z, args.tiles, rng):
            ms, (data, n, _layer, _capped) = timed_call(tiles.tile, "reports", z, x, y, month)
            ts.append(ms)
            ns.append(n)
            bs.append(len(data))
            sizes_all.append(len(data))
            point_times.append(ms)
            if n <= 2000:
                small_point_times.append(ms)
            if z == 10:
                z10_times.append(ms)
        print(
            f"  z{z}: {len(ts)} tiles, points/tile median {statistics.median(ns):.0f} max {max(ns)}, "
            f"db ms p50 {pct(ts, 50):.1f} p95 {pct(ts, 95):.1f}, size avg {statistics.mean(bs) / 1024:.1f} KB max "
            f"{max(bs) / 1024:.1f} KB"
        )
    p95_small = pct(small_point_times, 95)
    print(f"  => p95 of tiles with <= 2,000 points: {p95_small:.2f} ms over {len(small_point_times)} tiles (target <= "
          "10 ms)")

    print("\naggregated tiles (layer bins, grid roll-up)")
    agg_times = []
    z10_mean = statistics.mean(z10_times)
    for z in range(5, 10):
        ts, bs = [], []
        for x, y in sample_tiles(z, args.tiles, rng):
            ms, (data, n, _layer, _capped) = timed_call(tiles.tile, "bins", z, x, y, month)
            ts.append(ms)
            bs.append(len(data))
            sizes_all.append(len(data))
            agg_times.append(ms)
        print(
            f"  z{z}: {len(ts)} tiles, db ms p50 {pct(ts, 50):.1f} p95 {pct(ts, 95):.1f} mean "
            f"{statistics.mean(ts):.1f}, "
            f"size avg {statistics.mean(bs) / 1024:.1f} KB max {max(bs) / 1024:.1f} KB, ratio mean/z10 "
            f"{statistics.mean(ts) / z10_mean:.2f}"
        )
    all_time = Filters()
    at_ts = []
    for z in range(5, 10):
        for x, y in sample_tiles(z, 10, rng):
            ms, (data, n, _layer, _capped) = timed_call(tiles.tile, "bins", z, x, y, all_time)
            at_ts.append(ms)
            sizes_all.append(len(data))
    print(f"  all 3 years, z5-z9: db ms p50 {pct(at_ts, 50):.1f} p95 {pct(at_ts, 95):.1f}")
    print(
        f"  => aggregated mean {statistics.mean(agg_times):.2f} ms vs z10 point tile mean {z10_mean:.2f} ms (same "
        "run): "
        f"ratio {statistics.mean(agg_times) / z10_mean:.2f} (target <= 2.5); p95 ratio "
        f"{pct(agg_times, 95) / pct(z10_times, 95):.2f}"
    )
    print(
        f"\ntile sizes: {len(sizes_all)} tiles, average {statistics.mean(sizes_all) / 1024:.1f} KB (target < 50), "
        f"max {max(sizes_all) / 1024:.1f} KB (target < 500)"
    )

    ms, months = timed_call(agg.refresh_incremental)
    print(f"\nincremental roll-up refresh (the beat's job): {months} (month, province) pairs in {ms:.0f} ms")
    print("\ndashboard national figures (all reports, all time)")
    roll, raw = [], []
    for _ in range(5):
        ms, fig_roll = timed_call(stats.summary, Filters())
        roll.append(ms)
        ms, fig_raw = timed_call(stats.summary_raw, Filters())
        raw.append(ms)
    keys = ("received", "resolved", "resolved_with_due", "resolved_on_time", "rejected", "open")
    same = all(fig_roll[k] == fig_raw[k] for k in keys)
    print(
        f"  from roll-ups {statistics.median(roll):.1f} ms, from raw reports {statistics.median(raw):.1f} ms: "
        f"ratio {statistics.median(roll) / statistics.median(raw):.3f} (target <= 0.15); same counts "
        f"({', '.join(keys)}): {same}"
    )
    print(
        f"  received {fig_roll['received']:,}, resolved {fig_roll['resolved']:,}, on time "
        f"{fig_roll['on_time_rate']:.3f}; "
        f"overdue {fig_roll['overdue']:,} as of the refresh vs {fig_raw['overdue']:,} now (deadlines keep passing)"
    )

    print("\none authority's view (a year of its figures, from the roll-up)")
    _ms, auths = timed(
        "SELECT authority_id FROM heatmaps_authorityrollup GROUP BY 1 ORDER BY sum(received) DESC LIMIT 5"
    )
    year = Filters(start=last_month.replace(year=last_month.year - 1), end=last_month)
    for (aid,) in auths[:3]:
        f = Filters(start=year.start, end=year.end, authority_id=aid)
        ts = [timed_call(stats.summary, f)[0] for _ in range(5)]
        ms_raw = timed_call(stats.summary_raw, f)[0]
        print(f"  authority {aid}: {statistics.median(ts):.2f} ms (target < 10), raw {ms_raw:.1f} ms")


if __name__ == "__main__":
    main()
