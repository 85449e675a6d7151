"""The map's bins of all time (heatmaps.models.GridTotal) follow every kind of change the
refresh sees, and say what the reports say: counted here per cell from the reports
themselves, with the cell arithmetic written out (not taken from heatmaps.aggregates)."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.utils import timezone

from heatmaps import aggregates as agg
from heatmaps.aggregates import Filters
from reports import policy
from reports.models import Report
from tests.heatmaps.conftest import insert_points
from tests.heatmaps.test_aggregates import overdue_by_hand

LEVEL = 9
# EPSG:3857: the world's width and its west / south edge; a cell of level 9 is 1/64 of
# a z9 tile's width.
WORLD, EDGE = 40075016.685578488, 20037508.342789244
CELL = WORLD / (2**LEVEL * 64)


def cells_from_reports(states=None, category=None):
    """{(cx, cy): reports} of the level's cells, counted from reports_report."""
    where, params = ["TRUE"], []
    if states:
        where, params = [*where, "r.state = ANY(%s)"], [*params, states]
    if category:
        where, params = [*where, "r.category_id = %s"], [*params, category]
    where = " AND ".join(where)
    with connection.cursor() as cur:
        cur.execute(f"""SELECT floor((ST_X(g) + {EDGE}) / {CELL})::int, floor((ST_Y(g) + {EDGE}) / {CELL})::int,
                               count(*)
                        FROM reports_report r CROSS JOIN LATERAL ST_Transform(r.location, 3857) g
                        WHERE {where} GROUP BY 1, 2""", params)
        return {(cx, cy): n for cx, cy, n in cur.fetchall()}


def all_time_bins(filters=None):
    """{(cx, cy): (n, overdue)} of the map's bins of all time over the four provinces."""
    cx0, cx1, cy0, cy1 = agg.bbox_to_cells(LEVEL, 100, 7, 110, 24)
    rows = agg.bins_in_range(LEVEL, cx0, cx1, cy0, cy1, filters or Filters())
    return {(b["cx"], b["cy"]): (b["n"], b["overdue"]) for b in rows}


def new_reports(_now):
    insert_points([(107.08, 20.95), (107.081, 20.951), (106.0, 21.5)], created_at=timezone.now())


def a_report_closed(_now):
    r = Report.objects.filter(state="received").first()
    Report.objects.filter(pk=r.pk).update(state="closed", resolved_at=timezone.now(), updated_at=timezone.now())


def deadlines_passed(now):
    # untouched reports (updated_at stays): only their deadlines bring their months back
    late = now + dt.timedelta(seconds=1)
    Report.objects.filter(pk=Report.objects.filter(state="in_progress").first().pk).update(resolve_due=late)
    Report.objects.filter(pk=Report.objects.filter(state="received").first().pk).update(forward_due=late)


def deleted_then_month_refreshed(_now):
    # deletions reach the roll-ups when their whole month is refreshed (or rebuilt)
    oldest = Report.objects.order_by("created_at").first().created_at
    month = timezone.localtime(oldest).date().replace(day=1)
    ids = list(Report.objects.filter(created_at__lt=oldest + dt.timedelta(days=20)).values_list("pk", flat=True)[:7])
    Report.objects.filter(pk__in=ids).delete()
    agg.refresh_months([month])


def rebuilt(_now):
    agg.refresh_all()


STEPS = [new_reports, a_report_closed, deadlines_passed, deleted_then_month_refreshed, rebuilt]


def test_the_bins_of_all_time_follow_every_change(synthetic):
    now = timezone.now()
    category = Report.objects.order_by("pk").first().category_id
    for step in STEPS:
        step(now)
        now += dt.timedelta(seconds=5)
        agg.refresh_incremental(now=now)
        bins = all_time_bins()
        assert {cell: n for cell, (n, _overdue) in bins.items()} == cells_from_reports(), step.__name__
        assert sum(overdue for _n, overdue in bins.values()) == overdue_by_hand(now), step.__name__
        # one category: the other sums of all time (by category and state)
        some = all_time_bins(Filters(category_ids=[category]))
        assert {cell: n for cell, (n, _o) in some.items()} == cells_from_reports(category=category), step.__name__
        with connection.cursor() as cur:  # a cell whose reports all went leaves no row behind
            for table in ("heatmaps_gridtotal", "heatmaps_gridcelltotal"):
                cur.execute(f"SELECT count(*) FROM {table} WHERE n = 0")
                assert cur.fetchone()[0] == 0, (step.__name__, table)
    assert sum(n for n, _o in bins.values()) == Report.objects.count() != synthetic


@pytest.mark.parametrize("states", [["closed"], ["received", "forwarded", "in_progress"]])
def test_the_bins_of_all_time_of_some_states(synthetic, states):
    bins = all_time_bins(Filters(states=states))
    assert {cell: n for cell, (n, _o) in bins.items()} == cells_from_reports(states)


# EXPLAIN (no timing) of a tile's cells of all time: the sums' index, not the months'
# rows (60 months of a busy cell at 1 M reports: 50-160 ms for a z6 tile), and without a
# category or state one row a cell (a z8 tile at 10 M: 59,104 rows of the other, 20 a
# cell); one category, or the open reports, the rows of the cells they draw (0020).
@pytest.mark.parametrize("filters, index", [
    (Filters(), "heat_grid_cell_total_cell"),
    (Filters(province="22"), "heat_grid_cell_total_cell"),
    (Filters(states=["closed"]), "heat_grid_total_cell"),
    (Filters(states=list(policy.OPEN.values)), "heat_grid_total_open"),
    (Filters(states=["received", "forwarded"]), "heat_grid_total_open"),
    (Filters(category_ids=[1]), "heat_grid_total_category"),
    (Filters(category_ids=[1], states=list(policy.OPEN.values)), "heat_grid_total_(?:category|open)"),
])
def test_the_bins_of_all_time_read_the_sums(synthetic, filters, index):
    sql, params = agg.cells_query(LEVEL, 0, 2**LEVEL * 64, 0, 2**LEVEL * 64, filters)
    with connection.cursor() as cur:
        cur.execute("SET enable_seqscan = off")  # a table this small: the plan's shape only
        cur.execute("EXPLAIN " + sql, params)
        plan = "\n".join(r[0] for r in cur.fetchall())
        cur.execute("RESET enable_seqscan")
    assert re.search(rf"Index (?:Only )?Scan (?:using|on) {index}\b", plan), plan
    assert "heatmaps_gridrollup" not in plan
