"""Stored point tiles (heatmaps.models.PointTile): a month of the map at z10-z14, with no
other filter, is served from tiles the roll-up refresh rendered, one for staff who see
everything and one for the public. Every expectation is counted in the reports table
itself (or written by hand), after each kind of change a refresh must carry into them."""

import datetime as dt
import gzip

import mapbox_vector_tile
import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from heatmaps import aggregates as agg
from heatmaps import tiles
from heatmaps.aggregates import Filters
from reports.policy.access import Scope
from tests.heatmaps.conftest import insert_points
from tests.heatmaps.test_tiles import HA_LONG, tile_of

# Written out by hand: what the public map shows (the desk has let it through).
PUBLIC_STATES = ["forwarded", "accepted", "in_progress", "resolved", "published", "rated", "reopened", "closed"]
BUFFER_SHARE = 80 / 4096  # the buffer, as documented: 80 of 4096 tile units
AT_SEA = (107.6, 20.5)  # the Gulf of Tonkin, 50 km off Cô Tô: no report of the fixture


def this_month():
    return timezone.localdate().replace(day=1)


def month_filters(month):
    return Filters(start=month, end=agg.next_month(month) - dt.timedelta(days=1))


def report_ids(z, x, y, month, margin=0.0, public=False):
    """Ids of the reports received in ``month`` (local; None: of all time) in tile z/x/y,
    or in it and its buffer (``margin``), counted in the reports table."""
    sql = """SELECT r.id FROM reports_report r
             WHERE ST_Intersects(ST_Transform(r.location, 3857), ST_TileEnvelope(%s, %s, %s, margin => %s))"""
    params = [z, x, y, margin]
    if month is not None:
        sql += " AND r.created_at >= %s AND r.created_at < %s"
        params += [dt.datetime.combine(month, dt.time(), tzinfo=agg.tz()),
                   dt.datetime.combine(agg.next_month(month), dt.time(), tzinfo=agg.tz())]
    if public:
        sql += " AND r.state = ANY(%s)"
        params.append(PUBLIC_STATES)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return {row[0] for row in cur.fetchall()}


def stored(z, x, y, month, audience="all"):
    """(MVT bytes, features, points inside, provinces) of a stored tile (kept as gzip)."""
    with connection.cursor() as cur:
        cur.execute("SELECT data, n, inside, provinces FROM heatmaps_pointtile WHERE z = %s AND x = %s AND y = %s "
                    "AND month = %s AND audience = %s", [z, x, y, month, audience])
        row = cur.fetchone()
    return (gzip.decompress(bytes(row[0])), *row[1:]) if row else None


def features(data, layer="reports"):
    return mapbox_vector_tile.decode(bytes(data)).get(layer, {}).get("features", [])


def stored_ids(z, x, y, month, audience="all"):
    row = stored(z, x, y, month, audience)
    return {f["id"] for f in features(row[0])} if row else set()


@pytest.mark.parametrize("z", [10, 11, 12, 13, 14])
def test_every_stored_point_tile_holds_the_reports_of_its_month(synthetic, z):
    with connection.cursor() as cur:
        cur.execute("SELECT audience, month, x, y, data, n, inside FROM heatmaps_pointtile "
                    "WHERE z = %s AND month IS NOT NULL", [z])
        rows = cur.fetchall()
    assert rows
    for audience, month, x, y, gz, n, inside in rows:
        data = gzip.decompress(bytes(gz))  # stored as the view sends it
        public = audience == "public"
        in_tile = report_ids(z, x, y, month, public=public)
        with_buffer = report_ids(z, x, y, month, BUFFER_SHARE, public=public)
        assert {f["id"] for f in features(data)} == with_buffer, (audience, z, x, y, month)
        assert n == len(with_buffer) and inside == len(in_tile)
    # every (month, tile) with a report inside has its tile, for staff
    with connection.cursor() as cur:
        cur.execute(
            """SELECT count(DISTINCT (date_trunc('month', created_at AT TIME ZONE %s),
                                      floor((ST_X(ST_Transform(location, 3857)) + 20037508.342789244)
                                            / (40075016.685578488 / 2 ^ %s)),
                                      floor((20037508.342789244 - ST_Y(ST_Transform(location, 3857)))
                                            / (40075016.685578488 / 2 ^ %s))))
               FROM reports_report""", [agg.tz().key, z, z])
        tiles_with_reports = cur.fetchone()[0]
    assert sum(1 for a, *_rest, inside in rows if a == "all" and inside > 0) == tiles_with_reports


@pytest.mark.parametrize("period", ["a month", "all time"])
def test_a_stored_tile_is_the_tile_rendered_when_asked(synthetic, period):
    with connection.cursor() as cur:
        cur.execute("SELECT audience, z, month, x, y, data FROM heatmaps_pointtile WHERE month IS "
                    + ("NOT NULL" if period == "a month" else "NULL") + " ORDER BY n DESC LIMIT 12")
        rows = cur.fetchall()
    assert rows
    for audience, z, month, x, y, gz in rows:
        data = gzip.decompress(bytes(gz))
        filters = month_filters(month) if month else Filters()
        filters.scope = Scope() if audience == "public" else None
        rendered, _n, _inside = tiles.point_tile(z, x, y, filters)

        def key(f):
            return f["id"], tuple(f["geometry"]["coordinates"]), tuple(sorted(f["properties"].items()))

        assert sorted(map(key, features(data))) == sorted(map(key, features(rendered)))


def viewer(kind):
    User = get_user_model()
    if kind == "anonymous":
        return None
    if kind == "admin":
        return User.objects.create(username="pt-admin", is_superuser=True, is_staff=True)
    return User.objects.get(username="+84900000001")  # the desk of Quảng Ninh (22)


# Who asks for a tile of Quảng Ninh's points only, and which reports they see on it.
@pytest.mark.parametrize("who, sees_every_state", [
    ("anonymous", False),
    ("desk of 22", True),
    ("admin", True),
])
def test_each_viewer_is_served_what_they_may_see(client, synthetic, who, sees_every_state):
    month = this_month()
    ids = insert_points([(HA_LONG[0] + i * 1e-4, HA_LONG[1]) for i in range(4)], state="received",
                        created_at=timezone.now(), province_code="22")
    ids += insert_points([(HA_LONG[0] - i * 1e-4, HA_LONG[1]) for i in range(3)], state="in_progress",
                         created_at=timezone.now(), province_code="22")
    agg.refresh_months([(month, "22")])
    z = 11
    x, y = tile_of(*HA_LONG, z)
    user = viewer(who)
    if user:
        client.force_login(user)
    resp = client.get(f"/tiles/reports/{z}/{x}/{y}.pbf?month={month:%Y-%m}")
    assert resp.status_code == 200
    shown = {f["id"] for f in features(resp.content)}
    assert shown == report_ids(z, x, y, month, BUFFER_SHARE, public=not sees_every_state)
    assert set(ids[4:]) <= shown and (set(ids[:4]) <= shown) == sees_every_state
    # the stored tile of that audience, its gzip sent as it is
    assert shown == stored_ids(z, x, y, month, "all" if sees_every_state else "public")
    gz = client.get(f"/tiles/reports/{z}/{x}/{y}.pbf?month={month:%Y-%m}", HTTP_ACCEPT_ENCODING="gzip")
    assert gz["Content-Encoding"] == "gzip" and gzip.decompress(gz.content) == resp.content


# Each change a refresh must carry into the stored tiles: (what happens, the point it
# happens at, the tile looked at, relative to the point).
def _new_report(point):
    return insert_points([point], state="forwarded", created_at=timezone.now(), province_code="22")


def _deleted(point):
    from reports.models import Report

    ids = _new_report(point)
    agg.refresh_months([(this_month(), "22")])
    assert ids[0] in stored_ids(12, *tile_of(*point, 12), this_month())
    Report.objects.filter(pk__in=ids).delete()
    return ids


def _let_through_by_the_desk(point):
    from reports.models import Report

    ids = insert_points([point], state="received", created_at=timezone.now(), province_code="22")
    agg.refresh_months([(this_month(), "22")])
    assert ids[0] not in stored_ids(12, *tile_of(*point, 12), this_month(), "public")
    Report.objects.filter(pk__in=ids).update(state="forwarded", updated_at=timezone.now())
    return ids


def _moved_here(point):
    """A report pinned 60 km away (a tile of z10 is 37 km wide), its place corrected to the point."""
    from reports.models import Report

    ids = _new_report((point[0] + 0.6, point[1] + 0.01))
    agg.refresh_months([(this_month(), "22")])
    Report.objects.filter(pk__in=ids).update(location=f"SRID=4326;POINT({point[0]} {point[1]})",
                                            updated_at=timezone.now())
    return ids


def _moved_away(point):
    """A report at the point, its place corrected to 60 km away."""
    from reports.models import Report

    ids = _new_report(point)
    agg.refresh_months([(this_month(), "22")])
    assert ids[0] in stored_ids(13, *tile_of(*point, 13), this_month())
    Report.objects.filter(pk__in=ids).update(location=f"SRID=4326;POINT({point[0] + 0.6} {point[1] + 0.01})",
                                            updated_at=timezone.now())
    return ids


@pytest.mark.parametrize("change, in_the_tile", [
    (_new_report, True),
    (_deleted, False),
    (_let_through_by_the_desk, True),
    (_moved_here, True),
    (_moved_away, False),
])
@pytest.mark.parametrize("audience", ["all", "public"])
def test_a_refresh_renders_the_tiles_it_changed_again(synthetic, change, in_the_tile, audience):
    month = this_month()
    point = (HA_LONG[0] + 0.003, HA_LONG[1] + 0.002)
    ids = change(point)
    agg.refresh_incremental()
    for z in (10, 11, 12, 13):
        x, y = tile_of(*point, z)
        expected = report_ids(z, x, y, month, BUFFER_SHARE, public=audience == "public")
        assert stored_ids(z, x, y, month, audience) == expected
        assert (ids[0] in expected) == in_the_tile


def overdue_of(report_id, z, point, month, audience="all"):
    """The overdue flag the stored tile at ``point`` shows for a report (None: not shown)."""
    row = stored(z, *tile_of(*point, z), month, audience)
    flags = {f["id"]: f["properties"]["overdue"] for f in features(row[0])} if row else {}
    return flags.get(report_id)


# A report no one touches turns overdue when its deadline passes: the refresh after
# that moment must render its tiles again, though no report changed. (state, the
# deadline's column, its audience: received reports are staff-only.)
@pytest.mark.parametrize("state, due_column, audience", [
    ("received", "forward_due", "all"),
    ("in_progress", "resolve_due", "public"),
])
def test_a_stored_tile_shows_a_deadline_passed_since_the_last_refresh(synthetic, state, due_column, audience):
    month = this_month()
    now = timezone.now()
    point = (HA_LONG[0] - 0.004, HA_LONG[1] + 0.003)
    [report_id] = insert_points([point], state=state, created_at=now, province_code="22",
                                **{due_column: now + dt.timedelta(hours=2)})
    agg.refresh_incremental(now=now)
    assert {z: overdue_of(report_id, z, point, month, audience) for z in (10, 11, 12, 13)} == dict.fromkeys(
        (10, 11, 12, 13), False)
    agg.refresh_incremental(now=now + dt.timedelta(hours=1))  # not yet
    assert overdue_of(report_id, 13, point, month, audience) is False
    agg.refresh_incremental(now=now + dt.timedelta(hours=3))
    assert {z: overdue_of(report_id, z, point, month, audience) for z in (10, 11, 12, 13)} == dict.fromkeys(
        (10, 11, 12, 13), True)


def test_a_refresh_leaves_the_tiles_of_unchanged_points_alone(synthetic):
    """Only the tiles of the points (and grid cells) that changed are written again: the
    point tile of a report 20 km away from the change, and the bin tile of one 100 km
    away, in the same province and month, keep their stored rows (the same row
    version); the tiles at the change are new."""
    month = this_month()
    here = (HA_LONG[0] + 0.003, HA_LONG[1] + 0.002)
    near, far = (HA_LONG[0] + 0.2, HA_LONG[1] + 0.05), (HA_LONG[0] + 0.9, HA_LONG[1] + 0.4)
    [near_id] = _new_report(near)
    _new_report(far)
    agg.refresh_incremental()

    def row_version(table, point, z):
        x, y = tile_of(*point, z)
        z_column = "z" if table == "heatmaps_pointtile" else "level"
        with connection.cursor() as cur:
            cur.execute(f"SELECT xmin::text FROM {table} WHERE {z_column} = %s AND x = %s AND y = %s AND month = %s "
                        + ("AND audience = 'all'" if table == "heatmaps_pointtile" else ""), [z, x, y, month])
            return cur.fetchone()

    def versions():
        return {"point tile z13 near": row_version("heatmaps_pointtile", near, 13),
                "bin tile z9 far": row_version("heatmaps_bintile", far, 9),
                "point tile z13 here": row_version("heatmaps_pointtile", here, 13),
                "bin tile z9 here": row_version("heatmaps_bintile", here, 9)}

    before = versions()
    assert tile_of(*far, 9) != tile_of(*here, 9) and before["bin tile z9 far"] is not None
    [new_id] = _new_report(here)
    agg.refresh_incremental()
    after = versions()
    assert {k: after[k] == before[k] for k in before} == {
        "point tile z13 near": True, "bin tile z9 far": True, "point tile z13 here": False, "bin tile z9 here": False}
    assert near_id in stored_ids(13, *tile_of(*near, 13), month)
    assert new_id in stored_ids(13, *tile_of(*here, 13), month)


def test_a_point_in_the_buffer_is_in_the_neighbouring_stored_tile_too(synthetic):
    month = this_month()
    z = 12
    x, y = tile_of(*HA_LONG, z)
    # 1/8 of the buffer west of the tile's west edge (tile width: 360 / 2^12 degrees)
    west_edge = x * 360 / 2**z - 180
    point = (west_edge - 360 / 2**z * BUFFER_SHARE / 8, HA_LONG[1])
    ids = _new_report(point)
    agg.refresh_incremental()
    assert tile_of(*point, z) == (x - 1, y)
    assert ids[0] in stored_ids(z, x - 1, y, month) and ids[0] in stored_ids(z, x, y, month)
    inside_counts = {t: stored(z, *t, month)[2] for t in ((x - 1, y), (x, y))}
    assert inside_counts == {t: len(report_ids(z, *t, month)) for t in inside_counts}


def test_a_capped_stored_tile_keeps_the_newest_points_inside_and_says_so(synthetic, settings):
    settings.HEATMAP_TILE_MAX_POINTS = 3
    month = this_month()
    z = 12
    point = (HA_LONG[0] + 0.01, HA_LONG[1] + 0.01)
    x, y = tile_of(*point, z)
    now = timezone.now()
    ids = [insert_points([(point[0] + i * 1e-4, point[1])], state="forwarded", province_code="22",
                         created_at=now - dt.timedelta(minutes=10 - i))[0] for i in range(6)]
    agg.refresh_all()
    served = tiles.tile("reports", z, x, y, month_filters(month))
    total = len(report_ids(z, x, y, month))
    assert total >= 6
    assert served.capped == (3, total)
    assert {f["id"] for f in features(served.data)} == set(ids[-3:])  # the three newest
    capped = features(served.data, "capped")
    assert [(f["properties"]["shown"], f["properties"]["total"]) for f in capped] == [(3, total)]
    assert stored(z, x, y, month)[1:3] == (3, total)
    assert [f["properties"]["total"] for f in features(stored(z, x, y, month)[0], "capped")] == [total]


# The view a stored tile answers, and the one it does not (rendered when asked).
@pytest.mark.parametrize("params, stored_answer", [
    ({"month": "THIS"}, True),
    ({"month": "THIS", "province": "22"}, True),  # the tile holds Quảng Ninh's points only
    ({"month": "THIS", "province": "11"}, False),
    ({"month": "THIS", "category": "do-thi-chieu-sang"}, False),
    ({"month": "THIS", "state": "open"}, False),
    ({"start": "FIRST", "end": "FIFTEENTH"}, False),  # half a month: counted by day
    ({}, True),  # all time: the refresh rendered it again itself (test_point_tiles_all_time.py)
])
def test_which_views_the_stored_tiles_answer(synthetic, params, stored_answer):
    month = this_month()
    insert_points([HA_LONG] * 2, state="forwarded", created_at=timezone.now(), province_code="22")
    agg.refresh_months([(month, "22")])
    values = {"THIS": f"{month:%Y-%m}", "FIRST": f"{month:%Y-%m-%d}", "FIFTEENTH": f"{month.replace(day=15):%Y-%m-%d}"}
    filters = Filters.from_params({k: values.get(v, v) for k, v in params.items()})
    x, y = tile_of(*HA_LONG, 11)
    answer = tiles.stored_point_tile(11, x, y, filters)
    assert (answer is not None) == stored_answer
    if answer is not None:
        period = month if params else None  # None: all time
        assert {f["id"] for f in features(gzip.decompress(answer[0]))} == report_ids(11, x, y, period, BUFFER_SHARE)


MONTH_ZOOMS = [10, 11, 12, 13, 14]  # written out: the default HEATMAP_STORED_POINT_ZOOMS


def month_tile_zooms():
    with connection.cursor() as cur:
        cur.execute("SELECT month_tile_zooms, all_time_tile_zooms FROM heatmaps_refreshstate WHERE name = 'default'")
        return cur.fetchone()


# A month's tile with no stored row, after the full render (its zoom complete: the map
# gets an empty tile at once) and when z14 was added to the settings since (not
# complete: the tile is rendered when asked, and shows the report it holds).
@pytest.mark.parametrize("z14_complete, report_at_sea, stored_answer, shown", [
    (True, False, "empty", 0),
    (False, False, "none: rendered", 0),
    (False, True, "none: rendered", 1),
])
def test_a_month_tile_without_a_row_is_empty_only_at_a_complete_zoom(synthetic, z14_complete, report_at_sea,
                                                                     stored_answer, shown):
    assert month_tile_zooms()[0] == MONTH_ZOOMS  # refresh_all rendered every month at each
    month, (x, y) = this_month(), tile_of(*AT_SEA, 14)
    if report_at_sea:
        insert_points([AT_SEA], state="forwarded", created_at=timezone.now(), province_code="22")
        agg.refresh_months([(month, "22")])
    if not z14_complete:  # as on a database whose months were rendered before z14 was stored
        with connection.cursor() as cur:
            cur.execute("DELETE FROM heatmaps_pointtile WHERE month IS NOT NULL AND z = 14")
            cur.execute("UPDATE heatmaps_refreshstate SET month_tile_zooms = '{10,11,12,13}'")
    answer = tiles.stored_point_tile(14, x, y, month_filters(month))
    assert {None: "none: rendered", (b"", 0, 0): "empty"}.get(answer) == stored_answer
    served = tiles.tile("reports", 14, x, y, month_filters(month))
    assert served.count == shown
    # the next full render completes z14 again: stored, with the report
    agg.refresh_all()
    assert month_tile_zooms()[0] == MONTH_ZOOMS
    again = tiles.stored_point_tile(14, x, y, month_filters(month))
    assert again is not None and again[1] == shown


def test_a_zoom_taken_out_of_the_settings_is_no_longer_complete(synthetic, settings):
    settings.HEATMAP_STORED_POINT_ZOOMS = [10, 11, 12, 13]
    settings.HEATMAP_STORED_ALL_TIME_ZOOMS = [10, 11, 12, 13]
    insert_points([HA_LONG], state="forwarded", created_at=timezone.now(), province_code="22")
    agg.refresh_incremental()
    assert month_tile_zooms() == ([10, 11, 12, 13], [10, 11, 12, 13])
    # put back, its rows (no longer kept up to date meanwhile) are not trusted: z14 is
    # rendered when asked until the next full render
    settings.HEATMAP_STORED_POINT_ZOOMS = MONTH_ZOOMS
    x, y = tile_of(*AT_SEA, 14)
    assert tiles.stored_point_tile(14, x, y, month_filters(this_month())) is None


# The refresh state's row made by a refresh of a few months (not the full render): on a
# database without points every month zoom is complete (the refresh renders the tiles of
# every point it adds); with points already projected, none is until a full render.
@pytest.mark.parametrize("points_there, complete", [(False, MONTH_ZOOMS), (True, [])])
def test_the_refresh_state_made_without_points_has_every_month_zoom_complete(db, points_there, complete):
    month = this_month()
    if points_there:
        insert_points([HA_LONG], state="forwarded", created_at=timezone.now(), province_code="22")
        agg.refresh_months([(month, "22")])
    with connection.cursor() as cur:
        cur.execute("DELETE FROM heatmaps_refreshstate")
    insert_points([HA_LONG], state="forwarded", created_at=timezone.now(), province_code="22")
    agg.refresh_months([(month, "22")])
    assert month_tile_zooms()[0] == complete
    x, y = tile_of(*AT_SEA, 14)
    answer = tiles.stored_point_tile(14, x, y, month_filters(month))
    assert answer == ((b"", 0, 0) if complete else None)  # empty at once, or rendered


# Which stored tile a scope may be served, for a tile of Quảng Ninh (22) alone, or of
# Quảng Ninh and Điện Biên (11).
@pytest.mark.parametrize("scope, provinces, audience", [
    (None, ["22"], "all"),
    (Scope(everything=True), ["11", "22"], "all"),
    (Scope(), ["22"], "public"),
    (Scope(provinces=["22"]), ["22"], "all"),
    (Scope(provinces=["22"]), ["11"], "public"),
    (Scope(provinces=["22"]), ["11", "22"], None),
    (Scope(provinces=["11", "22"]), ["11", "22"], "all"),
    (Scope(authorities=[7]), ["22"], None),
    (Scope(reporter_id=5), ["22"], None),
])
def test_stored_audience(scope, provinces, audience):
    assert tiles.stored_audience(scope, provinces) == audience
