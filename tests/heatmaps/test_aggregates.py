"""The roll-ups and the per-area counts add up to what the raw reports say."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from heatmaps import aggregates as agg
from heatmaps.aggregates import FilterError, Filters
from reports.models import Report
from tests.heatmaps.conftest import insert_points, raw_count


def grid_total(level, where="TRUE", params=()):
    with connection.cursor() as cur:
        cur.execute(f"SELECT coalesce(sum(n), 0) FROM heatmaps_gridrollup WHERE level = %s AND {where}",
                    [level, *params])
        return cur.fetchone()[0]


def test_every_grid_level_counts_every_report_once(synthetic):
    total = raw_count()
    assert total == synthetic
    for level in agg.bin_levels():
        assert grid_total(level) == total


def test_bins_of_a_month_and_category_equal_raw_counts(synthetic):
    month = timezone.localtime().date().replace(day=1) - dt.timedelta(days=40)
    f = Filters.from_params({"month": month.strftime("%Y-%m"), "category": "do-thi"})
    level = 9
    # the cells covering all four provinces
    cx0, cx1, cy0, cy1 = agg.bbox_to_cells(level, 100, 7, 110, 24)
    bins = agg.bins_in_range(level, cx0, cx1, cy0, cy1, f)
    where, params = f.raw_sql("r")
    expected = raw_count(where, params)
    assert expected > 0
    assert sum(b["n"] for b in bins) == expected


def test_dashboard_figures_from_rollup_equal_raw(synthetic):
    first = timezone.localtime().date().replace(day=1) - dt.timedelta(days=200)
    f = Filters(start=first.replace(day=1), province="22")
    from heatmaps import stats

    rolled, raw = stats.summary(f), stats.summary_raw(f)
    for key in ("received", "forwarded", "forwarded_on_time", "resolved", "resolved_with_due", "resolved_on_time",
                "open", "overdue", "rejected", "satisfaction"):
        assert rolled[key] == raw[key], key
    assert rolled["received"] > 100
    # the histogram median is within its bucket of the exact one
    assert abs(rolled["median_handling_hours"] - raw["median_handling_hours"]) < 24


def test_area_counts_stored_commune_and_spatial_old_version(synthetic):
    provinces = {r["code"]: r["n"] for r in agg.area_counts("vn-2025", "province", Filters())}
    assert provinces["22"] == raw_count("r.province_code = '22'")
    communes = agg.area_counts("vn-2025", "commune", Filters(), parent_code="22")
    assert len(communes) == 54
    assert sum(c["n"] for c in communes) == raw_count("r.province_code = '22' AND r.commune_id IS NOT NULL")
    # The 2009 version: the reports (routed in 2025) are placed by their point, by the
    # lookup's rules: covered, or within the 1 km snap tolerance of an old commune; once.
    old = agg.area_counts("vn-2009", "commune", Filters())
    with connection.cursor() as cur:
        cur.execute(
            """SELECT count(*) FROM reports_report r WHERE EXISTS (
                   SELECT 1 FROM boundaries_area a
                   JOIN boundaries_boundaryversion v ON v.id = a.version_id AND v.code = 'vn-2009'
                   JOIN boundaries_areatype t ON t.id = a.type_id AND t.code = 'commune'
                   WHERE a.geom && ST_Expand(r.location, 0.02)
                     AND ST_DWithin(a.geom::geography, r.location::geography, 1000))"""
        )
        in_old = cur.fetchone()[0]
    assert sum(c["n"] for c in old) == in_old
    # the 2009 layer has Cà Mau without old Bạc Liêu (merged into Cà Mau in 2025)
    assert in_old > 0.8 * synthetic


# "Overdue", written out by hand here (not taken from reports.policy): the desk's
# stage runs against forward_due, the unit's against resolve_due.
FORWARD_STAGE = {"received", "reopened"}
RESOLVE_STAGE = {"forwarded", "accepted", "in_progress"}


def overdue_by_hand(at):
    n = 0
    for state, fdue, rdue in Report.objects.values_list("state", "forward_due", "resolve_due"):
        if state in FORWARD_STAGE and fdue is not None and fdue < at:
            n += 1
        elif state in RESOLVE_STAGE and rdue is not None and rdue < at:
            n += 1
    return n


def test_incremental_refresh_follows_new_reports_state_changes_and_deadlines(synthetic):
    agg.refresh_incremental()
    version_before = agg.data_version()
    # a report closed by the workflow (updated_at moves), one new, and two that fall
    # overdue without being touched: one at each stage
    r = Report.objects.filter(state="received").first()
    Report.objects.filter(pk=r.pk).update(state="closed", resolved_at=timezone.now(), updated_at=timezone.now())
    insert_points([(107.08, 20.95)], created_at=timezone.now())
    soon = timezone.now() + dt.timedelta(seconds=1)
    late_resolve = Report.objects.filter(state="in_progress").first()
    late_forward = Report.objects.filter(state="received").exclude(pk=r.pk).first()
    # QuerySet.update leaves updated_at alone: only the deadline watermark can find them
    Report.objects.filter(pk=late_resolve.pk).update(resolve_due=soon)
    Report.objects.filter(pk=late_forward.pk).update(forward_due=soon)
    before = timezone.now()
    agg.refresh_incremental(now=before)
    with connection.cursor() as cur:
        cur.execute("SELECT sum(overdue) FROM heatmaps_authorityrollup")
        overdue_before = cur.fetchone()[0]
    at = soon + dt.timedelta(seconds=1)
    months = agg.refresh_incremental(now=at)
    assert months >= 1
    assert agg.data_version() != version_before
    assert grid_total(9) == raw_count()
    with connection.cursor() as cur:
        cur.execute("SELECT state, sum(n) FROM heatmaps_gridrollup WHERE level = 9 GROUP BY 1")
        rolled = dict(cur.fetchall())
        cur.execute("SELECT state, count(*) FROM reports_report GROUP BY 1")
        raw = dict(cur.fetchall())
        cur.execute("SELECT sum(overdue) FROM heatmaps_authorityrollup")
        overdue = cur.fetchone()[0]
        cur.execute("SELECT sum(overdue) FROM heatmaps_gridrollup WHERE level = 9")
        grid_overdue = cur.fetchone()[0]
    assert rolled == raw
    # both reports became overdue with no other change: the refresh found them by their deadlines
    assert overdue == overdue_before + 2
    assert overdue == grid_overdue == overdue_by_hand(at)


# A deadline at the very moment of a refresh: not overdue then (overdue means due < now),
# overdue at the next refresh, which must count it though the report is untouched.
@pytest.mark.parametrize("due_after_first_refresh_s", [0, 1])
def test_a_deadline_on_a_refresh_is_counted_at_the_next(synthetic, due_after_first_refresh_s):
    first = timezone.now()
    # every report last changed yesterday: only its deadline can bring a month back
    Report.objects.update(updated_at=first - dt.timedelta(days=1))
    agg.refresh_incremental(now=first - dt.timedelta(seconds=10))
    r = Report.objects.filter(state="received").first()
    Report.objects.filter(pk=r.pk).update(forward_due=first + dt.timedelta(seconds=due_after_first_refresh_s))
    agg.refresh_incremental(now=first)
    later = first + dt.timedelta(seconds=5)
    agg.refresh_incremental(now=later)
    with connection.cursor() as cur:
        cur.execute("SELECT sum(overdue) FROM heatmaps_gridrollup WHERE level = 9")
        assert cur.fetchone()[0] == overdue_by_hand(later)


def test_bad_filters_are_field_errors():
    with pytest.raises(FilterError) as exc:
        Filters.from_params({"month": "2025-13", "state": "lost", "start": "x"})
    assert set(exc.value.errors) == {"month", "state", "start"}


def test_time_series_by_group(synthetic):
    series = agg.time_series(Filters(), "month", "group")
    assert sum(r["n"] for r in series) == synthetic
    assert {r["key"] for r in series} <= {"dien", "nuoc", "y-te", "giao-duc", "giao-thong", "do-thi", "moi-truong",
                                           "an-ninh", "xay-dung", "du-lich", "khac"}
