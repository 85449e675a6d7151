"""The beat's refresh with its few due tiles rendered in it, or left to the warm-up.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/geo_portal_national \\
        .venv/bin/python bench/beat_refresh.py [--reports 2] [--rounds 8]

On bench/national.py's database (run that first). Each round copies --reports random
reports as new ones received now (the beat's 30 s of a country: 548 reports a day at
1 M over 5 years, 5,480 at 10 M, so 0.2-1.9 every 30 s), then times
``refresh_incremental()`` and the rendering of the stored tiles of all time it left due
(``render_due_all_time_tiles``: the warm-up's work), twice on the same copies:

  * baseline: HEATMAP_ALL_TIME_RENDER_IN_REFRESH=0, the refresh only marks the tiles
    due, and the map renders them when asked until the warm-up has;
  * 200 (the default): the refresh renders them itself before it commits.

The rounds alternate which goes first. The copies are deleted and their months
refreshed after each, so that every round starts from the same data. Prints each round,
the medians and their ratio, with the data size and the load average.
"""

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo_portal.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from bench.national import timed_refresh_then_undone  # noqa: E402
from heatmaps import aggregates as agg  # noqa: E402
from heatmaps import tiles  # noqa: E402

FRESH = ("id", "code", "created_at", "updated_at", "idempotency_key", "receipt_token", "state", "forward_due",
         "resolve_due")


def load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def copied_columns():
    with connection.cursor() as cur:
        cur.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'reports_report' "
                    "AND NOT column_name = ANY(%s) ORDER BY ordinal_position", [list(FRESH)])
        return [row[0] for row in cur.fetchall()]


def settle():
    """Nothing left to refresh, no tile due: where every beat starts (each one's undoing
    ends so too: timed_refresh_then_undone)."""
    agg.refresh_incremental()
    tiles.render_due_all_time_tiles()


def one_beat(render_in_refresh, sources, tag, columns):
    """(refresh s, due tiles rendered after it, their s) for copies of ``sources``."""
    settings.HEATMAP_ALL_TIME_RENDER_IN_REFRESH = render_in_refresh
    kept = ", ".join(columns)
    with connection.cursor() as cur:
        cur.execute(f"""INSERT INTO reports_report ({kept}, code, created_at, updated_at, idempotency_key,
                                                    receipt_token, state, forward_due, resolve_due)
                        SELECT {kept}, code || %s || id, now(), now(), md5(random()::text), md5(random()::text),
                               'received', now() + interval '1 day', now() + interval '7 days'
                        FROM reports_report WHERE id = ANY(%s) RETURNING id""", [tag, sources])
        ids = [row[0] for row in cur.fetchall()]
    timed = timed_refresh_then_undone("id = ANY(%s)", [ids])
    return timed["refresh_s"], timed["all_time_tiles"], timed["all_time_s"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=2, help="new reports a beat")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM reports_report")
        size = cur.fetchone()[0]
    print(f"{size:,} reports; {args.reports} new a beat; {args.rounds} rounds; load average {load()}", flush=True)
    columns = copied_columns()
    settle()
    results = {0: [], 200: []}
    for i in range(args.rounds):
        with connection.cursor() as cur:
            cur.execute("SELECT id FROM reports_report TABLESAMPLE SYSTEM (0.5) WHERE state <> 'received' "
                        "ORDER BY random() LIMIT %s", [args.reports])
            sources = [row[0] for row in cur.fetchall()]
        for limit in ((0, 200) if i % 2 == 0 else (200, 0)):
            refresh_s, rendered, warm_s = one_beat(limit, sources, f"-beat{i}-{limit}-", columns)
            results[limit].append((refresh_s, warm_s))
            print(f"round {i}, render in refresh up to {limit:3d}: refresh {refresh_s * 1000:7.0f} ms; due after it "
                  f"{rendered:3d} tiles, rendered in {warm_s * 1000:6.0f} ms", flush=True)
    medians = {limit: (statistics.median(r for r, _w in rows), statistics.median(r + w for r, w in rows))
               for limit, rows in results.items()}
    for limit, label in ((0, "baseline, marked due (0)"), (200, "rendered in the refresh (200)")):
        refresh, whole = medians[limit]
        print(f"{label:<32} refresh median {refresh * 1000:7.0f} ms; refresh and due tiles rendered, median "
              f"{whole * 1000:7.0f} ms")
    print(f"ratio to the baseline: refresh {medians[200][0] / medians[0][0]:.2f}x, refresh and due tiles "
          f"{medians[200][1] / medians[0][1]:.2f}x; load average {load()}")


if __name__ == "__main__":
    main()
