"""Stored point tiles of all time (heatmaps.models.PointTile with month NULL): the map's
"all time" view at z10-z14, with no other filter, served from tiles rendered ahead. A
refresh marks the tiles its changes touched as due (they are rendered when asked
meanwhile) and the warm-up after it renders them again. Every expectation is counted in
the reports table itself, or written by hand."""

import datetime as dt
import gzip

import pytest
from django.db import connection
from django.utils import timezone

from heatmaps import aggregates as agg
from heatmaps import tasks, tiles
from heatmaps.aggregates import Filters
from reports.policy.access import Scope
from tests.heatmaps.conftest import insert_points
from tests.heatmaps.test_point_tiles_stored import AT_SEA, BUFFER_SHARE, features, report_ids
from tests.heatmaps.test_tiles import HA_LONG, tile_of

ZOOMS = (10, 11, 12, 13, 14)


@pytest.fixture(autouse=True)
def _refresh_leaves_tiles_due(settings):
    """The path of the many changes (a day's reports, an import): the refresh marks the
    tiles due and the warm-up renders them. A refresh of a few changes renders them
    itself (HEATMAP_ALL_TIME_RENDER_IN_REFRESH): the tests that say so set it."""
    settings.HEATMAP_ALL_TIME_RENDER_IN_REFRESH = 0


def ids_of_all_time(z, x, y, margin=0.0, public=False):
    """Ids of every report in tile z/x/y (and its buffer: ``margin``), counted in the
    reports table."""
    return report_ids(z, x, y, None, margin, public)


def row(z, x, y, audience="all"):
    """(gzip or None when due, xmin) of the stored tile of all time, or None: no row."""
    with connection.cursor() as cur:
        cur.execute("SELECT data, xmin::text FROM heatmaps_pointtile WHERE month IS NULL AND z = %s AND x = %s "
                    "AND y = %s AND audience = %s", [z, x, y, audience])
        found = cur.fetchone()
    return (None if found[0] is None else bytes(found[0]), found[1]) if found else None


def stored_ids(z, x, y, audience="all"):
    data = row(z, x, y, audience)[0]
    return {f["id"] for f in features(gzip.decompress(data))}


def served_ids(z, x, y, scope=None):
    """What the map's all-time view is served (stored, or rendered when asked)."""
    filters = Filters()
    filters.scope = scope
    return {f["id"] for f in features(tiles.tile("reports", z, x, y, filters).data)}


@pytest.mark.parametrize("z", ZOOMS)
def test_every_tile_of_all_time_is_stored_with_the_reports_of_its_place(synthetic, z):
    with connection.cursor() as cur:
        cur.execute("SELECT x, y, inside FROM heatmaps_pointtile WHERE month IS NULL AND audience = 'all' AND z = %s "
                    "AND data IS NOT NULL ORDER BY n DESC", [z])
        rows = cur.fetchall()
        # the tiles with a report inside, counted from the reports' own coordinates
        cur.execute("""SELECT count(DISTINCT (floor((ST_X(ST_Transform(location, 3857)) + 20037508.342789244)
                                                    / (40075016.685578488 / 2 ^ %s)),
                                              floor((20037508.342789244 - ST_Y(ST_Transform(location, 3857)))
                                                    / (40075016.685578488 / 2 ^ %s))))
                       FROM reports_report""", [z, z])
        tiles_with_reports = cur.fetchone()[0]
    assert sum(1 for _x, _y, inside in rows if inside > 0) == tiles_with_reports
    for x, y, inside in rows[:5]:
        assert stored_ids(z, x, y) == ids_of_all_time(z, x, y, BUFFER_SHARE)
        assert inside == len(ids_of_all_time(z, x, y))
        assert stored_ids(z, x, y, "public") == ids_of_all_time(z, x, y, BUFFER_SHARE, public=True)


def _new_report(point):
    return insert_points([point], state="forwarded", created_at=timezone.now(), province_code="22")


def _let_through_by_the_desk(point):
    [report_id] = insert_points([point], state="received", created_at=timezone.now() - dt.timedelta(days=40),
                                province_code="22")
    agg.refresh_incremental()
    tiles.render_due_all_time_tiles()
    with connection.cursor() as cur:
        cur.execute("UPDATE reports_report SET state = 'forwarded', updated_at = %s WHERE id = %s",
                    [timezone.now(), report_id])
    return [report_id]


def _moved_away(point):
    [report_id] = _new_report(point)
    agg.refresh_incremental()
    tiles.render_due_all_time_tiles()
    with connection.cursor() as cur:
        cur.execute("UPDATE reports_report SET location = ST_SetSRID(ST_MakePoint(%s, %s), 4326), updated_at = %s "
                    "WHERE id = %s", [point[0] + 0.5, point[1] + 0.3, timezone.now(), report_id])
    return [report_id]


# A change, the audience whose tile shows it, and whether the report is in the tile after.
@pytest.mark.parametrize("change, audience, in_the_tile", [
    (_new_report, "all", True),
    (_new_report, "public", True),
    (_let_through_by_the_desk, "public", True),
    (_moved_away, "all", False),
])
def test_a_change_marks_its_tiles_due_and_the_warm_up_renders_them(synthetic, change, audience, in_the_tile):
    point = (HA_LONG[0] + 0.0031, HA_LONG[1] + 0.0017)
    far = (HA_LONG[0] + 0.9, HA_LONG[1] + 0.4)  # ~100 km away, the same province
    insert_points([far], state="forwarded", created_at=timezone.now(), province_code="22")
    agg.refresh_incremental()
    tiles.render_due_all_time_tiles()
    far_before = {z: row(z, *tile_of(*far, z))[1] for z in (13, 14)}
    [report_id] = change(point)
    scope = Scope() if audience == "public" else None
    agg.refresh_incremental()
    due = {z: row(z, *tile_of(*point, z), audience)[0] is None for z in ZOOMS}
    assert due == dict.fromkeys(ZOOMS, True)
    # meanwhile rendered when asked: the change shows at once
    assert {z: report_id in served_ids(z, *tile_of(*point, z), scope) for z in ZOOMS} == dict.fromkeys(
        ZOOMS, in_the_tile)
    assert tiles.render_due_all_time_tiles() > 0
    assert {z: report_id in stored_ids(z, *tile_of(*point, z), audience) for z in ZOOMS} == dict.fromkeys(
        ZOOMS, in_the_tile)
    assert {z: report_id in served_ids(z, *tile_of(*point, z), scope) for z in ZOOMS} == dict.fromkeys(
        ZOOMS, in_the_tile)
    # a tile far from the change was neither marked nor written again
    assert {z: row(z, *tile_of(*far, z))[1] for z in (13, 14)} == far_before


def test_the_warm_up_after_a_refresh_renders_the_due_tiles(synthetic, settings):
    settings.HEATMAP_TILE_WARM_MAX = 0  # the cache's part of the warm-up off: only the due tiles
    point = (HA_LONG[0] + 0.0021, HA_LONG[1] - 0.0013)
    [report_id] = _new_report(point)
    agg.refresh_incremental()
    assert {z: row(z, *tile_of(*point, z))[0] for z in ZOOMS} == dict.fromkeys(ZOOMS)  # due
    tasks.warm_tiles()  # what the refresh task starts after a refresh that changed something
    assert {z: report_id in stored_ids(z, *tile_of(*point, z)) for z in ZOOMS} == dict.fromkeys(ZOOMS, True)


def test_the_beat_renders_tiles_left_due_when_nothing_changed(synthetic, settings, monkeypatch):
    """A warm-up that ran out of time (or a bulk import) leaves tiles due; the beat's next
    refresh changes nothing, and still renders them: the map does not render them when
    asked for good on a database that stands still."""
    from geo_portal.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)  # the task the beat queues runs here
    settings.HEATMAP_TILE_WARM_MAX = 0  # the cache's part of the warm-up off: only the due tiles
    point = (HA_LONG[0] - 0.0017, HA_LONG[1] + 0.0023)
    [report_id] = _new_report(point)
    # marks them due, and no warm-up runs after it; dated past the refresh's lag, so
    # that the beat's refresh after it finds the report already seen
    agg.refresh_incremental(now=timezone.now() + dt.timedelta(seconds=settings.HEATMAP_REFRESH_LAG_S + 1))
    assert {z: row(z, *tile_of(*point, z))[0] for z in ZOOMS} == dict.fromkeys(ZOOMS)  # due
    assert not tasks.refresh_incremental()  # the beat's next refresh: nothing changed since
    assert {z: report_id in stored_ids(z, *tile_of(*point, z)) for z in ZOOMS} == dict.fromkeys(ZOOMS, True)


# (tiles due after the refresh, in all, at most rendered by the refresh itself, rendered by it)
@pytest.mark.parametrize("render_in_refresh, rendered_by_the_refresh", [
    (200, True),  # the default: the beat's few changes
    (5, True),  # exactly the 5 tiles of one report (one a zoom)
    (4, False),  # fewer than that: all left due for the warm-up, none rendered
])
def test_a_refresh_of_a_few_changes_renders_their_tiles_itself(synthetic, settings, render_in_refresh,
                                                                 rendered_by_the_refresh):
    point = (HA_LONG[0] + 0.0027, HA_LONG[1] - 0.0019)
    tiles.render_due_all_time_tiles()  # nothing due before
    settings.HEATMAP_ALL_TIME_RENDER_IN_REFRESH = render_in_refresh
    [report_id] = _new_report(point)
    agg.refresh_incremental()
    if rendered_by_the_refresh:  # stored with the new report as the refresh commits
        assert {z: report_id in stored_ids(z, *tile_of(*point, z)) for z in ZOOMS} == dict.fromkeys(ZOOMS, True)
        assert {z: report_id in served_ids(z, *tile_of(*point, z)) for z in ZOOMS} == dict.fromkeys(ZOOMS, True)
    else:
        assert {z: row(z, *tile_of(*point, z))[0] for z in ZOOMS} == dict.fromkeys(ZOOMS)  # due
    with connection.cursor() as cur:
        cur.execute("SELECT count(DISTINCT (z, x, y)) FROM heatmaps_pointtile WHERE month IS NULL AND data IS NULL")
        assert cur.fetchone()[0] == (0 if rendered_by_the_refresh else len(ZOOMS))


def test_a_deadline_passed_marks_the_tile_of_all_time_due(synthetic):
    now = timezone.now()
    point = (HA_LONG[0] - 0.004, HA_LONG[1] + 0.003)
    [report_id] = insert_points([point], state="in_progress", created_at=now, province_code="22",
                                resolve_due=now + dt.timedelta(hours=2))
    agg.refresh_incremental(now=now)
    tiles.render_due_all_time_tiles(now=now)

    def overdue(z):
        data = row(z, *tile_of(*point, z))[0]
        return {f["id"]: f["properties"]["overdue"] for f in features(gzip.decompress(data))}[report_id]

    assert {z: overdue(z) for z in ZOOMS} == dict.fromkeys(ZOOMS, False)
    later = now + dt.timedelta(hours=3)
    agg.refresh_incremental(now=later)
    assert {z: row(z, *tile_of(*point, z))[0] for z in ZOOMS} == dict.fromkeys(ZOOMS)  # due
    tiles.render_due_all_time_tiles(now=later)
    assert {z: overdue(z) for z in ZOOMS} == dict.fromkeys(ZOOMS, True)


def test_before_the_first_render_a_tile_of_all_time_is_rendered_when_asked(synthetic):
    z = 13
    x, y = tile_of(*HA_LONG, z)
    insert_points([HA_LONG], state="forwarded", created_at=timezone.now(), province_code="22")
    agg.refresh_incremental()
    with connection.cursor() as cur:  # as before the first full render, on a database with reports
        cur.execute("DELETE FROM heatmaps_pointtile WHERE month IS NULL")
        cur.execute("UPDATE heatmaps_refreshstate SET all_time_tile_zooms = '{}'")
    assert served_ids(z, x, y) == ids_of_all_time(z, x, y, BUFFER_SHARE)


@pytest.mark.parametrize("z", ZOOMS)
def test_after_the_full_render_a_tile_without_points_is_empty_at_once(synthetic, z, django_assert_max_num_queries):
    """A tile at sea has no row; its zoom is complete, so it is an empty tile (204) from
    the stored tiles' one query, with no render. A report there, once refreshed, marks
    its tile and the map shows it."""
    path = "/tiles/reports/{}/{}/{}.pbf".format(z, *tile_of(*AT_SEA, z))
    assert row(z, *tile_of(*AT_SEA, z)) is None
    with django_assert_max_num_queries(2):  # the version and the stored tile
        assert tiles.stored_tile("reports", z, *tile_of(*AT_SEA, z), Filters()).count == 0
    from django.test import Client

    resp = Client().get(path)
    assert (resp.status_code, resp["X-Tile-Cache"]) == (204, "stored")
    [new] = insert_points([AT_SEA], state="forwarded", created_at=timezone.now(), province_code="22")
    agg.refresh_incremental()
    resp = Client().get(path)
    assert resp.status_code == 200 and {f["id"] for f in features(resp.content)} == {new}


# The all-time views a stored tile answers, and the ones it does not (rendered when asked).
@pytest.mark.parametrize("z, params, stored_answer", [
    (11, {}, True),
    (14, {}, True),
    (11, {"province": "22"}, True),  # the tile holds Quảng Ninh's points only
    (11, {"province": "11"}, False),
    (11, {"category": "do-thi-chieu-sang"}, False),
    (11, {"state": "open"}, False),
    (11, {"start": "2020-01-01"}, False),  # from a day on: not all time
])
def test_which_views_the_stored_tiles_of_all_time_answer(synthetic, z, params, stored_answer):
    insert_points([HA_LONG] * 2, state="forwarded", created_at=timezone.now(), province_code="22")
    agg.refresh_incremental()
    tiles.render_due_all_time_tiles()
    x, y = tile_of(*HA_LONG, z)
    answer = tiles.stored_point_tile(z, x, y, Filters.from_params(params))
    assert (answer is not None) == stored_answer
    if answer is not None:
        assert {f["id"] for f in features(gzip.decompress(answer[0]))} == ids_of_all_time(z, x, y, BUFFER_SHARE)
