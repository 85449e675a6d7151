"""The dashboards and the ranking read the coarser roll-ups (per province, category and
month; per authority and month): their figures are the hand-counted ones, whatever
the filters, and follow the reports after an incremental refresh."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.utils import timezone

from heatmaps import aggregates as agg
from reports.models import Report
from tests.heatmaps.conftest import HA_LONG, insert_points

HUE = (107.5850, 16.4630)  # Huế (46)


def reports(point, n, category, authority, province, created_at, resolved_on_time=0, rating=None):
    """n reports resolved a day after reception, the first ``resolved_on_time`` of them
    before their 5-day deadline and the others after it."""
    ids = insert_points([point] * n, category=category, state="rated" if rating else "resolved",
                        created_at=created_at, authority=authority, province_code=province)
    Report.objects.filter(id__in=ids).update(resolve_due=created_at + dt.timedelta(days=5), rating_level=rating,
                                             resolved_at=created_at + dt.timedelta(days=1))
    Report.objects.filter(id__in=ids[resolved_on_time:]).update(resolved_at=created_at + dt.timedelta(days=9))
    return ids


@pytest.fixture
def two_provinces(db):
    """Hand-made: 22 has 10 street-light reports for its ward committee (7 on time,
    rated 5) this month and 4 power cuts for the power company (all on time) two months
    ago; 46 has 3 street-light reports for its province committee (none on time)."""
    now = timezone.now() - dt.timedelta(days=2)
    earlier = now - dt.timedelta(days=62)
    made = {
        "light22": reports(HA_LONG, 10, "do-thi-chieu-sang", "ubnd-06673", "22", now, resolved_on_time=7, rating=5),
        "power22": reports(HA_LONG, 4, "dien-mat-dien", "dien-luc-22", "22", earlier, resolved_on_time=4),
        "light46": reports(HUE, 3, "do-thi-chieu-sang", "ubnd-tinh-46", "46", now),
    }
    agg.refresh_all()
    return made


@pytest.mark.parametrize("url, received, resolved_on_time", [
    ("/api/v1/stats/", 17, 11),
    ("/api/v1/stats/province/22/", 14, 11),
    ("/api/v1/stats/province/46/", 3, 0),
    ("/api/v1/stats/category/do-thi-chieu-sang/", 13, 7),
    ("/api/v1/stats/category/dien/", 4, 4),
    ("/api/v1/stats/authority/ubnd-06673/", 10, 7),
    ("/api/v1/stats/authority/dien-luc-22/", 4, 4),
])
def test_figures_are_the_hand_counted_ones(two_provinces, client, url, received, resolved_on_time):
    fig = client.get(url).json()["figures"]
    assert (fig["received"], fig["resolved"], fig["resolved_on_time"]) == (received, received, resolved_on_time)


def test_breakdowns_series_and_ranking(two_provinces, client):
    by_province = {r["key"]: r["received"] for r in client.get("/api/v1/stats/by/province/").json()["rows"]}
    assert by_province == {"22": 14, "46": 3}
    by_group = {r["key"]: r["received"] for r in client.get("/api/v1/stats/by/group/").json()["rows"]}
    assert by_group == {"do-thi": 13, "dien": 4}
    series = client.get("/api/v1/stats/series/").json()["series"]
    assert sorted(r["received"] for r in series) == [4, 13]  # two months
    ranking = client.get("/api/v1/stats/ranking/?min=1").json()
    received = {e["authority"]: (e["received"], e["on_time_rate"]) for e in ranking["ranked"]}
    assert received == {"ubnd-06673": (10, 0.7), "dien-luc-22": (4, 1.0), "ubnd-tinh-46": (3, 0.0)}
    # the ranking of one category reads the finest roll-up: the same answer for it
    lights = client.get("/api/v1/stats/ranking/?min=1&category=do-thi-chieu-sang").json()
    assert {e["authority"]: e["received"] for e in lights["ranked"]} == {"ubnd-06673": 10, "ubnd-tinh-46": 3}
    # the dashboard page shows the national count
    assert 'id="n-received">17<' in client.get("/tong-quan/").content.decode()


def test_rollup_rows_do_not_depend_on_the_number_of_authorities(two_provinces):
    """One row per (province, category, month) and per (authority, month), and each
    sums exactly the finest roll-up's rows (an independent query on the reports)."""
    with connection.cursor() as cur:
        cur.execute("SELECT province_code, sum(received), sum(resolved_on_time) FROM heatmaps_provincerollup "
                    "GROUP BY 1 ORDER BY 1")
        assert cur.fetchall() == [("22", 14, 11), ("46", 3, 0)]
        cur.execute("SELECT count(*) FROM heatmaps_provincerollup")
        assert cur.fetchone()[0] == 3
        cur.execute("SELECT count(*), sum(received) FROM heatmaps_authoritymonthrollup")
        assert cur.fetchone() == (3, 17)
        cur.execute("SELECT count(*) FROM reports_report WHERE resolved_at <= resolve_due")
        assert cur.fetchone()[0] == 11


def test_an_incremental_refresh_updates_the_dashboard(two_provinces, client):
    agg.refresh_incremental()
    # two of Huế's reports are reopened: open again, no longer resolved
    Report.objects.filter(id__in=two_provinces["light46"][:2]).update(state="reopened", updated_at=timezone.now())
    agg.refresh_incremental(now=timezone.now() + dt.timedelta(seconds=30))
    fig = client.get("/api/v1/stats/province/46/").json()["figures"]
    assert (fig["received"], fig["resolved"], fig["open"]) == (3, 1, 2)
    national = client.get("/api/v1/stats/").json()["figures"]
    assert (national["received"], national["resolved"], national["open"]) == (17, 15, 2)
    ranking = client.get("/api/v1/stats/ranking/?min=1").json()["ranked"]
    assert next(e for e in ranking if e["authority"] == "ubnd-tinh-46")["resolved"] == 1


@pytest.mark.parametrize("index, stage", [
    ("heat_report_forward_due", "FORWARD_STAGE"),
    ("heat_report_resolve_due", "RESOLVE_STAGE"),
    ("heat_report_open", "OPEN"),
    ("heat_point_open_geom", "OPEN"),
    ("heat_grid_total_open", "OPEN"),
])
def test_partial_indexes_cover_the_states_of_the_policy(db, index, stage):
    """The refresh's and the wall's partial indexes name the states reports.policy
    gives each deadline stage: a state added to a stage without them would make the
    planner fall back to reading every open report."""
    from reports import policy

    with connection.cursor() as cur:
        cur.execute("SELECT pg_get_expr(i.indpred, i.indrelid) FROM pg_index i WHERE i.indexrelid = %s::regclass",
                    [index])
        predicate = cur.fetchone()[0]
    named = set(re.findall(r"'([a-z_]+)'", predicate))
    assert named == set(getattr(policy, stage).values)


def test_the_refresh_of_a_month_reads_only_that_month(two_provinces):
    """The beat's refresh of one (month, province) pair scans that pair's reports on
    the (province, created_at) index, not the reports table (EXPLAIN, no timing)."""
    month = agg.month_start(timezone.localdate())
    params = {"months": [month], "starts": [agg.local_midnight(month)],
              "ends": [agg.local_midnight(agg.next_month(month))], "provinces": ["22"],
              "now": timezone.now(), "tz": "Asia/Ho_Chi_Minh"}
    with connection.cursor() as cur:
        cur.execute("SET enable_bitmapscan = off")  # a table this small: the plan shape only
        cur.execute("EXPLAIN " + agg._authority_insert_sql(), params)
        plan = "\n".join(r[0] for r in cur.fetchall())
        cur.execute("RESET enable_bitmapscan")
    assert "Seq Scan on reports_report" not in plan
    assert "reports_report" in plan


# The league table of one province (the wall's) and what it must not read: every
# province's rows of the roll-up.
def test_a_provinces_league_table_reads_only_that_province(two_provinces):
    """EXPLAIN of the query the league table runs, with sequential scans priced out so
    that the plan shows which index serves it (the tables here are tiny: the plan's
    shape only, no timing). Its first column must be the province: the index led by the
    month served it too, by reading every province's entries. At 10 M reports that
    scan made the wall 3x slower than at 1 M."""
    from django.test.utils import CaptureQueriesContext

    from heatmaps import stats
    from heatmaps.aggregates import Filters

    table = "heatmaps_authoritymonthrollup"
    # A table of a real size (34 provinces x 60 units x 60 months): on a few rows the
    # planner's choice between two indexes is a coin toss.
    sums = ", ".join(agg.ROLLUP_SUM_FIELDS)
    with connection.cursor() as cur:
        cur.execute(f"""INSERT INTO {table} (authority_id, month, province_code, {sums}, handling_hist)
                        SELECT u, make_date(2021 + m / 12, m % 12 + 1, 1), 'P' || p,
                               {", ".join("1" for _f in agg.ROLLUP_SUM_FIELDS)}, '{{}}'
                        FROM generate_series(1, 34) p, generate_series(1, 60) u, generate_series(0, 59) m""")
        cur.execute(f"ANALYZE {table}")
    with CaptureQueriesContext(connection) as ctx:
        stats.league_table(Filters(province="22"))
    sql = next(q["sql"] for q in ctx.captured_queries if f"FROM {table}" in q["sql"])
    with connection.cursor() as cur:
        cur.execute("SET enable_seqscan = off")
        cur.execute("EXPLAIN " + sql)
        plan = "\n".join(r[0] for r in cur.fetchall())
        cur.execute("RESET enable_seqscan")
        indexes = re.findall(r"Index (?:Only )?Scan (?:using|on) (\w+)", plan)
        assert indexes, plan
        cur.execute("""SELECT a.attname FROM pg_index i
                       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                       WHERE i.indexrelid = %s::regclass""", [indexes[0]])
        assert cur.fetchone()[0] == "province_code", plan
