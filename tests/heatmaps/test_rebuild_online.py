"""A full rebuild of the roll-ups (refresh_all: after a boundary cut-over, a deletion, a
change of the tile cap) runs in one transaction for minutes on a big database (16 min at
10 M reports). Meanwhile the maps, the dashboard figures and the wall must answer at
once with the data of before, and another refresh must wait for it rather than count a
province twice.

The data here is committed by threads with their own connections (the test's own
transaction would hide it from them) and removed again afterwards."""

import datetime as dt
import threading
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone

from heatmaps import aggregates as agg
from tests.heatmaps.conftest import insert_points, remove_committed_reports
from tests.heatmaps.test_point_tiles_stored import features
from tests.heatmaps.test_tiles import HA_LONG, tile_of
from tests.reports.conftest import in_thread

pytestmark = pytest.mark.django_db

FIRST, ADDED = 5, 3  # reports before the rebuild, and added by it


def _points(n, shift):
    return [(HA_LONG[0] + (shift + i) * 2e-4, HA_LONG[1]) for i in range(n)]


def _add(n, shift):
    return insert_points(_points(n, shift), state="forwarded", created_at=timezone.now(), province_code="22")


def committed_call(fn):
    """fn() in a thread of its own connection (committed); its exception raised here."""
    result = in_thread(fn)
    if isinstance(result, BaseException):
        raise result
    return result


def _raw_count():
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM reports_report WHERE province_code = '22'")
        return cur.fetchone()[0]


@pytest.fixture
def committed():
    """FIRST reports committed in Hạ Long this month, the roll-ups rebuilt (committed);
    afterwards every report, roll-up row and refresh state removed again."""
    ids = committed_call(lambda: _add(FIRST, 0))
    committed_call(agg.refresh_all)
    yield ids

    committed_call(remove_committed_reports)


def _point_tile(client):
    z = 12
    x, y = tile_of(*HA_LONG, z)
    resp = client.get(f"/tiles/reports/{z}/{x}/{y}.pbf?month={timezone.localdate():%Y-%m}")
    assert resp.status_code == 200
    return len(features(resp.content))


def _bin_tile(client):
    z = 8
    x, y = tile_of(*HA_LONG, z)
    resp = client.get(f"/tiles/reports/{z}/{x}/{y}.pbf?month={timezone.localdate():%Y-%m}")
    assert resp.status_code == 200
    return sum(f["properties"]["n"] for f in features(resp.content, "bins"))


def _national_figures(client):
    resp = client.get("/api/v1/stats/province/22/")
    assert resp.status_code == 200
    return resp.json()["figures"]["received"]


# What a map or dashboard reader counts of Quảng Ninh's reports this month.
READS = [
    pytest.param(_point_tile, id="stored point tile z12"),
    pytest.param(_bin_tile, id="stored bin tile z8"),
    pytest.param(_national_figures, id="province figures"),
]


@pytest.mark.parametrize("read", READS)
def test_reads_answer_during_a_full_rebuild_with_the_data_before_it(committed, client, read):
    rebuilt, release = threading.Event(), threading.Event()

    def rebuild():
        with transaction.atomic():
            _add(ADDED, FIRST)
            agg.refresh_all()
            rebuilt.set()
            release.wait(timeout=30)  # the rebuild's transaction held open

    writer = threading.Thread(target=lambda: committed_call(rebuild))
    writer.start()
    try:
        assert rebuilt.wait(timeout=30)
        with connection.cursor() as cur:
            cur.execute("SET lock_timeout = '2s'")  # a read that would wait for the rebuild fails
        t = time.perf_counter()
        during = read(client)
        assert time.perf_counter() - t < 2
    finally:
        release.set()
        writer.join(timeout=30)
        with connection.cursor() as cur:
            cur.execute("RESET lock_timeout")
    assert during == FIRST
    assert read(client) == FIRST + ADDED  # once it committed


def test_a_refresh_waits_for_another_and_counts_each_report_once(committed):
    """Reports of an earlier month arrive (committed) and a refresh of that (month,
    province) holds its transaction open; a full rebuild started meanwhile must wait for
    it: that pair had no rows before, so no row lock would stop the rebuild, which would
    then count the pair's reports beside the rows the first refresh wrote."""
    refreshed, release = threading.Event(), threading.Event()
    when = timezone.now() - dt.timedelta(days=40)
    month = timezone.localtime(when).date().replace(day=1)
    committed_call(lambda: insert_points(_points(ADDED, FIRST), state="forwarded", created_at=when,
                                         province_code="22"))

    def province_refresh():
        with transaction.atomic():
            agg.refresh_months([(month, "22")])
            refreshed.set()
            release.wait(timeout=30)

    outcome = {}
    first = threading.Thread(target=lambda: outcome.update(first=in_thread(province_refresh)))
    first.start()
    assert refreshed.wait(timeout=30)
    second = threading.Thread(target=lambda: outcome.update(second=in_thread(agg.refresh_all)))
    second.start()
    second.join(timeout=1.0)
    waited = second.is_alive()
    release.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert waited
    # both went through (neither failed on the other's rows)
    assert not isinstance(outcome["first"], BaseException) and not isinstance(outcome["second"], BaseException)
    assert _raw_count() == FIRST + ADDED
    with connection.cursor() as cur:
        cur.execute("SELECT sum(n) FROM heatmaps_gridrollup WHERE level = 9 AND month = %s AND province_code = '22'",
                    [month])
        assert cur.fetchone()[0] == ADDED
        cur.execute("SELECT count(*), count(DISTINCT report_id) FROM heatmaps_reportpoint WHERE month = %s",
                    [month])
        assert cur.fetchone() == (ADDED, ADDED)
        cur.execute("SELECT sum(received) FROM heatmaps_provincerollup WHERE province_code = '22' AND month = %s",
                    [month])
        assert cur.fetchone()[0] == ADDED
