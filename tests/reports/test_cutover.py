"""The reform cut-over (reports/cutover.py, manage.py cutover) on the real 2009 and 2025
layers of Quảng Ninh.

Expected communes and authorities are hand-picked: points inside known 2009 wards of Hạ
Long and Móng Cái, and the 2025 ward each went into by the official table (Bạch Đằng,
Trần Hưng Đạo → Hồng Gai; Hồng Hải → Hạ Long; Giếng Đáy → Việt Hưng; Đại Yên → Tuần
Châu; Ka Long → Móng Cái 2). The names are checked again with a raw ST_Covers query,
never with the lookup under test.
"""

import datetime as dt
import io

import pytest
from django.contrib.gis.geos import Point
from django.core.management import CommandError, call_command
from django.db import connection

from boundaries.models import Area, Authority, BoundaryVersion
from reports import cutover
from reports.models import Category, Notification, Report, ReportEvent

UTC = dt.UTC
FORWARD_DUE = dt.datetime(2025, 6, 27, 10, 0, tzinfo=UTC)
RESOLVE_DUE = dt.datetime(2025, 7, 4, 10, 0, tzinfo=UTC)

# label, lon, lat, category, state, authority under vn-2009 (None: with the desk),
# 2009 commune name, 2025 commune code and name, authority after the cut-over.
CASES = [
    ("bach-dang", 107.08832, 20.95129, "do-thi-chieu-sang", "received", None,
     "Phường Bạch Đằng", "06685", "Phường Hồng Gai", "ubnd-06685"),
    ("tran-hung-dao", 107.08379, 20.95670, "moi-truong-rac-thai", "reopened", None,
     "Phường Trần Hưng Đạo", "06685", "Phường Hồng Gai", "ubnd-06685"),
    ("hong-hai", 107.11015, 20.94630, "do-thi-chieu-sang", "received", None,
     "Phường Hồng Hải", "06688", "Phường Hạ Long", "ubnd-06688"),
    ("gieng-day", 107.02076, 20.98309, "dien-mat-dien", "in_progress", "dien-luc-22",
     "Phường Giếng Đáy", "06661", "Phường Việt Hưng", "dien-luc-22"),
    ("dai-yen", 106.91460, 20.98298, "an-ninh-trat-tu", "accepted", "cong-an-22",
     "Phường Đại Yên", "06706", "Phường Tuần Châu", "cong-an-22"),
    ("ka-long", 107.96339, 21.52445, "do-thi-chieu-sang", "received", None,
     "Phường Ka Long", "06709", "Phường Móng Cái 2", "ubnd-06709"),
    ("bai-chay", 107.04257, 20.96823, "dien-mat-dien", "forwarded", "dien-luc-22",
     "Phường Bãi Cháy", "06673", "Phường Bãi Cháy", "dien-luc-22"),
]
# On the 2009 coastline of Xã Vạn Ninh (Móng Cái), 2.1 km from any 2025 commune: beyond
# the 1 km snap tolerance.
ADRIFT = (107.89438, 21.44866)


def covering(version, lon, lat):
    """(code, name) of the commune of ``version`` covering the point: raw SQL."""
    with connection.cursor() as cur:
        cur.execute(
            """SELECT a.code, a.name FROM boundaries_area a
               JOIN boundaries_areatype t ON t.id = a.type_id
               JOIN boundaries_boundaryversion v ON v.id = a.version_id
               WHERE v.code = %s AND t.code = 'commune'
                 AND ST_Covers(a.geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326))""",
            [version, lon, lat],
        )
        return cur.fetchall()


_seq = iter(range(1, 10_000))


def old_report(lon, lat, category, state="received", authority=None, version="vn-2009", province="22"):
    """A report as intake stored it before the reform: the 2009 commune covering the point
    (raw SQL), the authority given, deadlines fixed, one "receive" event."""
    (code, _name), = covering(version, lon, lat)
    commune = Area.objects.get(version__code=version, type__code="commune", code=code)
    in_unit = state in ("forwarded", "accepted", "in_progress")
    r = Report.objects.create(
        code=f"PA-2025-T{next(_seq):05d}", description="Đèn đường hỏng", category=Category.objects.get(code=category),
        location=Point(lon, lat, srid=4326), boundary_version=BoundaryVersion.objects.get(code=version),
        commune=commune, district=commune.parent, province_code=province,
        authority=Authority.objects.get(code=authority) if authority else None, state=state,
        created_at=dt.datetime(2025, 6, 26, 3, 0, tzinfo=UTC), forward_due=FORWARD_DUE,
        resolve_due=RESOLVE_DUE if in_unit else None,
        forwarded_at=dt.datetime(2025, 6, 26, 5, 0, tzinfo=UTC) if in_unit else None,
        contact_phone="0912000111", contact_email="dan@example.org",
    )
    ReportEvent.objects.create(report=r, action="receive", to_state="received", actor_role="reporter",
                               created_at=r.created_at)
    return r


@pytest.fixture
def batch(db):
    return {label: old_report(lon, lat, cat, state, auth) for label, lon, lat, cat, state, auth, *_ in CASES}


def cutover_events(report):
    return list(ReportEvent.objects.filter(report=report, action="cutover"))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hand_picked_points_lie_where_the_table_says(db, case):
    _label, lon, lat, _cat, _state, _auth, old_name, new_code, new_name, _new_auth = case
    assert [name for _c, name in covering("vn-2009", lon, lat)] == [old_name]
    assert covering("vn-2025", lon, lat) == [(new_code, new_name)]


def test_dry_run_changes_nothing(batch):
    before = {r.pk: (r.commune_id, r.authority_id, r.boundary_version_id, r.row_version) for r in batch.values()}
    result = cutover.run("vn-2009", "vn-2025")
    assert not result.commit
    assert {m.code: m.new.commune for m in result.moved} == {batch[c[0]].code: c[7] for c in CASES}
    for r in Report.objects.filter(pk__in=before):
        assert (r.commune_id, r.authority_id, r.boundary_version_id, r.row_version) == before[r.pk]
    assert not ReportEvent.objects.filter(action="cutover").exists()
    assert not Notification.objects.filter(kind="cutover").exists()


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_commit_moves_each_report_by_its_point(batch, case):
    label, *_rest, old_name, new_code, new_name, new_auth = case
    report = batch[label]
    state, old_auth = report.state, report.authority.code if report.authority_id else ""
    cutover.run("vn-2009", "vn-2025", commit=True)
    report.refresh_from_db()
    assert report.boundary_version.code == "vn-2025"
    assert (report.commune.code, report.commune.name) == (new_code, new_name)
    assert report.authority.code == new_auth
    assert report.state == state  # the state machine step leaves the state
    assert report.forward_due == FORWARD_DUE
    assert report.resolve_due == (RESOLVE_DUE if state in ("forwarded", "accepted", "in_progress") else None)
    events = cutover_events(report)
    assert len(events) == 1
    ev = events[0]
    assert (ev.from_state, ev.to_state, ev.actor_role, ev.actor_id) == (state, state, "system", None)
    assert ev.data["from"]["commune_name"] == old_name
    assert ev.data["to"]["commune"] == new_code
    assert (ev.data["from"]["authority"], ev.data["to"]["authority"]) == (old_auth, new_auth)
    assert (ev.data["from_version"], ev.data["to_version"]) == ("vn-2009", "vn-2025")
    assert "vn-2009" in ev.reason and new_name in ev.reason


def test_closed_and_already_moved_reports_are_untouched_and_second_run_moves_nothing(batch):
    closed = old_report(107.08832, 20.95129, "do-thi-chieu-sang", state="rejected")
    current = old_report(107.08832, 20.95129, "do-thi-chieu-sang", version="vn-2025")
    first = cutover.run("vn-2009", "vn-2025", commit=True)
    assert len(first.moved) == len(CASES)
    second = cutover.run("vn-2009", "vn-2025", commit=True)
    assert (len(second.moved), len(second.left), len(second.failed)) == (0, 0, 0)
    for r in batch.values():
        assert len(cutover_events(r)) == 1
    closed.refresh_from_db()
    current.refresh_from_db()
    assert closed.boundary_version.code == "vn-2009" and closed.commune.name == "Phường Bạch Đằng"
    assert not cutover_events(closed) and not cutover_events(current)


def test_a_point_in_no_new_unit_is_listed_and_left_for_the_desk(db):
    assert covering("vn-2025", *ADRIFT) == []
    with connection.cursor() as cur:  # farther than the snap tolerance from every 2025 area
        cur.execute("SELECT min(ST_Distance(a.geom::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography)) "
                    "FROM boundaries_area a JOIN boundaries_boundaryversion v ON v.id = a.version_id "
                    "WHERE v.code = 'vn-2025'", list(ADRIFT))
        assert cur.fetchone()[0] > 1000
    report = old_report(*ADRIFT, "do-thi-chieu-sang")
    out = io.StringIO()
    call_command("cutover", "--from", "vn-2009", "--to", "vn-2025", "--commit", "--no-progress", stdout=out)
    report.refresh_from_db()
    assert report.boundary_version.code == "vn-2009" and report.commune.name == "Xã Vạn Ninh"
    assert not cutover_events(report)
    text = out.getvalue()
    assert "Để Tổ vận hành xem xét" in text and report.code in text
    listed = next(x for x in text.splitlines() if report.code in x)
    assert "Đã tiếp nhận" in listed and "received" not in listed  # the state's name, not its code


def test_a_point_the_new_layers_put_in_another_province_is_left_for_the_desk(db):
    # On the demo's national layer a 2009 Quảng Ninh coast falls in Hải Phòng; here the
    # report's province disagrees with where the 2025 layer puts its point.
    report = old_report(107.08832, 20.95129, "do-thi-chieu-sang", province="46")
    result = cutover.run("vn-2009", "vn-2025", commit=True)
    assert [m.code for m in result.left] == [report.code]
    assert "Quảng Ninh" in result.left[0].reason
    report.refresh_from_db()
    assert report.boundary_version.code == "vn-2009" and not cutover_events(report)


def test_old_and_new_units_are_notified(batch):
    cutover.run("vn-2009", "vn-2025", commit=True)

    def sms_to(report):
        rows = Notification.objects.filter(report=report, kind="cutover", channel="sms")
        return set(rows.values_list("to", flat=True))

    # With the desk before (no unit under the 2009 rules) → Hồng Gai's committee: the
    # Quảng Ninh desk operator and the Hồng Gai officer hear of it.
    assert {"+84900000001", "+84900000003"} <= sms_to(batch["bach-dang"])
    # The power company keeps it: its officer is told the commune changed, the desk is not.
    assert "+84900000005" in sms_to(batch["bai-chay"]) and "+84900000001" not in sms_to(batch["bai-chay"])
    # The reporter hears where the report now is (by e-mail: an anonymous contact phone
    # is not verified, so it gets no SMS).
    step = Notification.objects.get(report=batch["bach-dang"], kind="step", to="dan@example.org")
    assert "Phường Hồng Gai" in step.body
    assert not Notification.objects.filter(report=batch["bach-dang"], to="0912000111").exists()


def test_command_dry_run_prints_the_summary_per_old_and_new_unit(batch):
    out = io.StringIO()
    call_command("cutover", "--from", "vn-2009", "--to", "vn-2025", "--no-progress", stdout=out)
    text = out.getvalue()
    line = next(x for x in text.splitlines() if "Phường Bạch Đằng" in x)
    assert "Phường Hồng Gai (06685)" in line and "UBND Phường Hồng Gai" in line and line.rstrip().endswith("1")
    assert "Chạy thử" in text
    assert not ReportEvent.objects.filter(action="cutover").exists()


@pytest.mark.parametrize("args, message", [
    (["--from", "vn-1999", "--to", "vn-2025"], "vn-1999"),
    (["--from", "vn-2009", "--to", "vn-2025", "--at", "2025-06-30"], "30/06/2025"),
    (["--from", "vn-2009", "--to", "vn-2025", "--at", "hôm qua"], "--at"),
])
def test_command_bad_arguments_are_clear_errors(db, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("cutover", *args, "--no-progress", stdout=io.StringIO())


def test_demo_batch_is_pre_reform_open_and_moves_at_the_cutover(db):
    from fixtures.reports import PRE_REFORM_ADRIFT, generate_pre_reform_reports

    n = generate_pre_reform_reports(count=40)
    assert generate_pre_reform_reports(count=40) == 0  # idempotent
    batch = list(Report.objects.filter(source="demo", external_id__startswith="pre2025-").select_related("commune"))
    assert len(batch) == n >= 30
    for r in batch:
        assert r.created_at < dt.datetime(2025, 6, 30, 17, 0, tzinfo=UTC)
        assert r.state in ("received", "forwarded", "accepted", "in_progress")
        assert r.boundary_version.code == "vn-2009"
        assert [name for _c, name in covering("vn-2009", r.location.x, r.location.y)] == [r.commune.name]
        if r.authority_id is None:  # no committee for a 2009 commune: with the desk
            assert r.state == "received"
    result = cutover.run("vn-2009", "vn-2025", commit=True)
    assert len(result.left) == len(PRE_REFORM_ADRIFT)
    assert len(result.moved) == n - len(PRE_REFORM_ADRIFT)
    assert ReportEvent.objects.filter(action="cutover", report__in=batch).count() == n - len(PRE_REFORM_ADRIFT)


@pytest.mark.parametrize("phone", ["+84900000001", "+84900000005"])  # the desk; the power company's officer
def test_nobody_but_the_system_may_cut_over(batch, phone):
    from reports import workflow
    from tests.reports.conftest import user

    report = batch["gieng-day"]
    with pytest.raises(workflow.Forbidden):
        workflow.transition(report, "cutover", user(phone), {})
    report.refresh_from_db()
    assert report.boundary_version.code == "vn-2009" and not cutover_events(report)


def test_the_step_without_the_services_values_is_a_field_error(batch):
    from django.core.exceptions import ValidationError

    from reports import workflow

    with pytest.raises(ValidationError) as err:
        workflow.transition(batch["gieng-day"], "cutover", None, {}, role="system")
    assert "from_version" in err.value.message_dict


def test_before_the_cutover_the_province_map_counts_an_old_report_where_its_desk_holds_it(db):
    # Off the 2025 coast (in no 2025 area) and late at the desk; and one the 2025 layer
    # puts in Quảng Ninh while Huế's desk holds it: each province's figures on the map
    # are its desk's, as on the wall and the dashboard (each is 1 report, 1 overdue).
    from heatmaps import aggregates as agg

    old_report(*ADRIFT, "do-thi-chieu-sang")
    old_report(107.08832, 20.95129, "do-thi-chieu-sang", province="46")
    rows = {r["code"]: (r["n"], r["overdue"]) for r in agg.area_counts("vn-2025", "province", agg.Filters())}
    assert rows["22"] == (1, 1)
    assert rows["46"] == (1, 1)
    assert sum(n for n, _o in rows.values()) == 2


def test_the_commune_map_places_an_old_report_by_the_lookups_rules(db):
    # 39 m off the 2025 Xã Hải Sơn (no 2025 commune covers it, the nearest is within the
    # 1 km snap tolerance: raw SQL below), in a 2009 commune: the 2025 commune map counts
    # it in Hải Sơn, as the cut-over would move it — once.
    point = (107.90914970614669, 21.588958125353198)
    assert covering("vn-2025", *point) == []
    with connection.cursor() as cur:
        cur.execute("SELECT a.code, ST_Distance(a.geom::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography) "
                    "FROM boundaries_area a JOIN boundaries_boundaryversion v ON v.id = a.version_id "
                    "JOIN boundaries_areatype t ON t.id = a.type_id WHERE v.code = 'vn-2025' AND t.code = 'commune' "
                    "ORDER BY 2 LIMIT 1", list(point))
        code, metres = cur.fetchone()
    assert code == "06724" and metres < 1000
    from heatmaps import aggregates as agg

    old_report(*point, "do-thi-chieu-sang")
    rows = agg.area_counts("vn-2025", "commune", agg.Filters(), parent_code="22")
    assert {r["code"]: r["n"] for r in rows if r["n"]} == {"06724": 1}
