"""Every overdue case, as a table: real reports walked through intake and the workflow at
set times (the clock is set, the deadlines come from the working-day calendar), then
asked at a set moment through the three forms of the one rule — the Python predicate,
the queryset filter and the SQL fragment — which must all give the kind written by hand
in the table."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from reports import intake, policy, workflow
from reports.models import Report
from tests.reports.conftest import new_key, photo, report_data

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def at(*args):
    return dt.datetime(*args, tzinfo=TZ)


RESOLVE = {"result_text": "Đã thay bóng đèn."}

# Steps: (local time, action, who, data). Who: operator | officer | citizen.
FORWARD_MON = [(at(2026, 3, 9, 10, 0), "forward", "operator", {})]
TO_IN_PROGRESS = FORWARD_MON + [
    (at(2026, 3, 9, 11, 0), "accept", "officer", {}),
    (at(2026, 3, 9, 12, 0), "start", "officer", {}),
]
TO_RESOLVED = TO_IN_PROGRESS + [(at(2026, 3, 11, 9, 0), "resolve", "officer", RESOLVE)]
TO_PUBLISHED = TO_RESOLVED + [(at(2026, 3, 11, 10, 0), "publish", "operator", {})]
# Resolved late (Tuesday 17/3, the deadline was Monday 16/3 10:00), published, rated 1:
# the rating reopens it for the desk on Wednesday 18/3 10:00 → a new forward deadline,
# Thursday 19/3 10:00; the passed resolve deadline stays on the row.
TO_REOPENED = TO_IN_PROGRESS + [
    (at(2026, 3, 17, 9, 0), "resolve", "officer", RESOLVE),
    (at(2026, 3, 17, 10, 0), "publish", "operator", {}),
    (at(2026, 3, 18, 10, 0), "rate", "citizen", {"level": 1, "reason": "Chưa sửa"}),
]
# Rated 2 on Friday 20/3 16:00: the new forward deadline skips the weekend → Monday 23/3 16:00.
REOPENED_FRIDAY = TO_IN_PROGRESS + [
    (at(2026, 3, 17, 9, 0), "resolve", "officer", RESOLVE),
    (at(2026, 3, 17, 10, 0), "publish", "operator", {}),
    (at(2026, 3, 20, 16, 0), "rate", "citizen", {"level": 2, "reason": "Chưa sửa"}),
]
EXTENDED = TO_IN_PROGRESS + [
    (at(2026, 3, 12, 9, 0), "request_extension", "officer", {"reason": "Chờ vật tư", "until": "2026-03-20T17:00"}),
    (at(2026, 3, 12, 10, 0), "grant_extension", "operator", {}),
]

MON_9 = at(2026, 3, 9, 9, 0)
# id, received at, steps, expected state, expected forward_due, expected resolve_due,
# the moment asked, the expected kind ("" = not overdue). Deadlines written by hand
# from the calendar: 1 working day to forward, 5 to resolve.
CASES = [
    # the desk's stage
    ("received-before-forward-due", MON_9, [], "received", at(2026, 3, 10, 9, 0), None, at(2026, 3, 10, 8, 59), ""),
    ("received-after-forward-due", MON_9, [], "received", at(2026, 3, 10, 9, 0), None, at(2026, 3, 10, 9, 1),
     "forward"),
    # Friday 16:00 + 1 working day = Monday 16:00: the weekend does not count
    ("weekend-sunday-not-late", at(2026, 3, 6, 16, 0), [], "received", at(2026, 3, 9, 16, 0), None,
     at(2026, 3, 8, 12, 0), ""),
    ("weekend-monday-late", at(2026, 3, 6, 16, 0), [], "received", at(2026, 3, 9, 16, 0), None,
     at(2026, 3, 9, 16, 1), "forward"),
    # received on a Saturday night: the clock starts Monday 08:00 → Tuesday 08:00
    ("received-saturday", at(2026, 3, 7, 21, 0), [], "received", at(2026, 3, 10, 8, 0), None,
     at(2026, 3, 9, 17, 0), ""),
    ("received-saturday-late", at(2026, 3, 7, 21, 0), [], "received", at(2026, 3, 10, 8, 0), None,
     at(2026, 3, 10, 8, 1), "forward"),
    # Friday 13/2/2026 before Tết: the desk's deadline is Monday 23/2 (16–20/2 Tết, weekends)
    ("tet-holiday-not-late", at(2026, 2, 13, 10, 0), [], "received", at(2026, 2, 23, 10, 0), None,
     at(2026, 2, 19, 10, 0), ""),
    ("tet-holiday-late", at(2026, 2, 13, 10, 0), [], "received", at(2026, 2, 23, 10, 0), None,
     at(2026, 2, 23, 10, 1), "forward"),
    # the unit's stage: forwarded Monday 9/3 10:00 → resolve by Monday 16/3 10:00; the
    # passed forward deadline (Tuesday 10/3 09:00) no longer counts once forwarded
    ("forwarded-before-resolve-due", MON_9, FORWARD_MON, "forwarded", at(2026, 3, 10, 9, 0), at(2026, 3, 16, 10, 0),
     at(2026, 3, 16, 9, 59), ""),
    ("forwarded-after-resolve-due", MON_9, FORWARD_MON, "forwarded", at(2026, 3, 10, 9, 0), at(2026, 3, 16, 10, 0),
     at(2026, 3, 16, 10, 1), "resolve"),
    ("accepted-after-resolve-due", MON_9, TO_IN_PROGRESS[:2], "accepted", at(2026, 3, 10, 9, 0), at(2026, 3, 16, 10, 0),
     at(2026, 3, 16, 10, 1), "resolve"),
    ("in-progress-before-resolve-due", MON_9, TO_IN_PROGRESS, "in_progress", at(2026, 3, 10, 9, 0),
     at(2026, 3, 16, 10, 0), at(2026, 3, 16, 9, 0), ""),
    ("in-progress-after-resolve-due", MON_9, TO_IN_PROGRESS, "in_progress", at(2026, 3, 10, 9, 0),
     at(2026, 3, 16, 10, 0), at(2026, 3, 17, 9, 0), "resolve"),
    # forwarded Thursday 23/4/2026: Mon 27/4 (Giỗ Tổ), Thu 30/4 and Fri 1/5 are days off
    # → Fri 24 (1), Tue 28 (2), Wed 29 (3), Mon 4/5 (4), Tue 5/5 (5)
    ("resolve-over-april-holidays", at(2026, 4, 23, 9, 0), [(at(2026, 4, 23, 10, 0), "forward", "operator", {})],
     "forwarded", at(2026, 4, 24, 9, 0), at(2026, 5, 5, 10, 0), at(2026, 5, 4, 17, 0), ""),
    ("resolve-over-april-holidays-late", at(2026, 4, 23, 9, 0), [(at(2026, 4, 23, 10, 0), "forward", "operator", {})],
     "forwarded", at(2026, 4, 24, 9, 0), at(2026, 5, 5, 10, 0), at(2026, 5, 5, 10, 1), "resolve"),
    # a granted extension moves the unit's deadline to 20/3 17:00
    ("extended-not-late-after-old-due", MON_9, EXTENDED, "in_progress", at(2026, 3, 10, 9, 0), at(2026, 3, 20, 17, 0),
     at(2026, 3, 17, 9, 0), ""),
    ("extended-late-after-new-due", MON_9, EXTENDED, "in_progress", at(2026, 3, 10, 9, 0), at(2026, 3, 20, 17, 0),
     at(2026, 3, 20, 17, 1), "resolve"),
    # reopened: a new forward deadline by the calendar; the old resolve deadline (16/3) is not counted
    ("reopened-old-resolve-due-not-counted", MON_9, TO_REOPENED, "reopened", at(2026, 3, 19, 10, 0),
     at(2026, 3, 16, 10, 0), at(2026, 3, 18, 12, 0), ""),
    ("reopened-late-at-new-forward-due", MON_9, TO_REOPENED, "reopened", at(2026, 3, 19, 10, 0),
     at(2026, 3, 16, 10, 0), at(2026, 3, 19, 10, 1), "forward"),
    ("reopened-friday-not-late-over-weekend", MON_9, REOPENED_FRIDAY, "reopened", at(2026, 3, 23, 16, 0),
     at(2026, 3, 16, 10, 0), at(2026, 3, 22, 12, 0), ""),
    ("reopened-friday-late-monday", MON_9, REOPENED_FRIDAY, "reopened", at(2026, 3, 23, 16, 0),
     at(2026, 3, 16, 10, 0), at(2026, 3, 23, 16, 1), "forward"),
    # forwarded again: a new resolve deadline (Thursday 19/3 09:00 + 5 → Thursday 26/3)
    ("reopened-forwarded-again", MON_9, TO_REOPENED + [(at(2026, 3, 19, 9, 0), "forward", "operator", {})],
     "forwarded", at(2026, 3, 19, 10, 0), at(2026, 3, 26, 9, 0), at(2026, 3, 20, 9, 0), ""),
    # no one has to act: never overdue, however old the deadlines
    ("resolved-never", MON_9, TO_RESOLVED, "resolved", at(2026, 3, 10, 9, 0), at(2026, 3, 16, 10, 0),
     at(2026, 6, 1, 9, 0), ""),
    ("published-never", MON_9, TO_PUBLISHED, "published", at(2026, 3, 10, 9, 0), at(2026, 3, 16, 10, 0),
     at(2026, 6, 1, 9, 0), ""),
    ("closed-never", MON_9, TO_REOPENED + [(at(2026, 3, 19, 9, 0), "close", "operator", {"reason": "Đã giải thích"})],
     "closed", at(2026, 3, 19, 10, 0), at(2026, 3, 16, 10, 0), at(2026, 6, 1, 9, 0), ""),
    ("rejected-never", MON_9, [(at(2026, 3, 9, 10, 0), "reject", "operator", {"reason_code": "duplicate"})],
     "rejected", at(2026, 3, 10, 9, 0), None, at(2026, 6, 1, 9, 0), ""),
]


def walk(clock, received_at, steps, people):
    clock.set(received_at)
    report = intake.create_report(report_data(), None, people["citizen"], new_key())
    for moment, action, who, data in steps:
        clock.set(moment)
        data = dict(data)
        if action == "resolve":
            data["photos"] = [photo("ketqua.jpg")]
        report = workflow.transition(report, action, people[who], data)
    return Report.objects.get(pk=report.pk)


def three_forms(ids, now):
    """{id: kind} by the predicate, the queryset filter and the SQL fragments."""
    reports = Report.objects.filter(pk__in=ids)
    predicate = {r.pk: policy.overdue_kind(r, now) for r in reports}
    late = set(reports.filter(policy.overdue_q(now)).values_list("pk", flat=True))
    queryset = {pk: (predicate[pk] if pk in late else "") for pk in ids}
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT r.id, {policy.overdue_sql('r', '%s')}, coalesce({policy.overdue_kind_sql('r', '%s')}, '') "
            "FROM reports_report r WHERE r.id = ANY(%s)",
            [now] * len(policy.STAGES) * 2 + [list(ids)],
        )
        rows = cur.fetchall()
    sql_flag = {pk: flag for pk, flag, _kind in rows}
    sql_kind = {pk: kind for pk, _flag, kind in rows}
    return predicate, queryset, late, sql_flag, sql_kind


@pytest.mark.parametrize(
    "received_at, steps, state, forward_due, resolve_due, now, expected",
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_overdue_case(clock, operator, officer, citizen, received_at, steps, state, forward_due, resolve_due, now,
                      expected):
    people = {"operator": operator, "officer": officer, "citizen": citizen}
    report = walk(clock, received_at, steps, people)
    assert report.state == state
    assert report.forward_due == forward_due
    assert report.resolve_due == resolve_due
    predicate, queryset, late, sql_flag, sql_kind = three_forms([report.pk], now)
    assert predicate[report.pk] == expected
    assert policy.is_overdue(report, now) is bool(expected)
    assert (report.pk in late) is bool(expected)
    assert sql_flag[report.pk] is bool(expected)
    assert sql_kind[report.pk] == expected
    # the deadline the report runs against now: the stage's
    if state in ("received", "reopened"):
        assert policy.due_of(report) == forward_due
    elif state in ("forwarded", "accepted", "in_progress"):
        assert policy.due_of(report) == resolve_due
    else:
        assert policy.due_of(report) is None


def test_the_three_forms_agree_on_a_mixed_set(clock, operator, officer, citizen):
    """The same reports asked together at one moment: one list of late reports whatever
    the form, the one written by hand."""
    people = {"operator": operator, "officer": officer, "citizen": citizen}
    wanted = {
        "received-after-forward-due": "forward",
        "forwarded-after-resolve-due": "resolve",
        "extended-not-late-after-old-due": "",  # extended to 20/3
        "reopened-late-at-new-forward-due": "forward",  # its new forward deadline was 19/3 10:00
        "resolved-never": "",
        "rejected-never": "",
    }
    now = at(2026, 3, 19, 12, 0)
    ids = {}
    for case in CASES:
        if case[0] in wanted:
            ids[walk(clock, case[1], case[2], people).pk] = wanted[case[0]]
    predicate, queryset, late, sql_flag, sql_kind = three_forms(list(ids), now)
    assert predicate == ids
    assert queryset == ids
    assert sql_kind == ids
    assert {pk for pk, flag in sql_flag.items() if flag} == {pk for pk, kind in ids.items() if kind}
    assert len(late) == 3


@pytest.mark.parametrize(
    "group, members",
    [
        ("open", {"received", "forwarded", "accepted", "in_progress", "reopened"}),
        ("closed", {"resolved", "published", "rated", "rejected", "merged", "closed"}),
        ("forward_stage", {"received", "reopened"}),
        ("resolve_stage", {"forwarded", "accepted", "in_progress"}),
        ("public", {"forwarded", "accepted", "in_progress", "resolved", "published", "rated", "reopened", "closed"}),
        ("result_public", {"published", "rated", "reopened", "closed"}),
        ("dismissed", {"rejected", "merged"}),
        # the officer's queue by default (not a filter value of the API)
        ("unit_queue", {"forwarded", "accepted", "in_progress", "resolved", "reopened"}),
    ],
)
def test_state_groups_in_every_form(group, members):
    g = policy.GROUPS.get(group) or getattr(policy, group.upper())
    assert set(g.values) == members
    for state in Report.State.values:
        assert (state in g) is (state in members)
    if group in policy.GROUPS:
        assert set(policy.expand([group])) == members
    # the SQL fragment selects exactly the members
    with connection.cursor() as cur:
        cur.execute(f"SELECT s.state FROM unnest(%s::text[]) AS s(state) WHERE {g.sql('s')}",
                    [list(Report.State.values)])
        assert {row[0] for row in cur.fetchall()} == members


@pytest.mark.parametrize("param, expected", [("forward", {"late-forward"}), ("resolve", {"late-resolve"}),
                                             ("any", {"late-forward", "late-resolve"})])
def test_admin_overdue_filter(client, clock, operator, officer, citizen, param, expected):
    from django.contrib.auth import get_user_model

    people = {"operator": operator, "officer": officer, "citizen": citizen}
    made = {
        "late-forward": walk(clock, at(2026, 3, 9, 9, 0), [], people),
        "late-resolve": walk(clock, at(2026, 3, 9, 9, 0), FORWARD_MON, people),
        "on-time": walk(clock, at(2026, 3, 9, 9, 0), TO_RESOLVED, people),
    }
    clock.set(None)  # the admin asks at the real time: every 2026-03 deadline has passed
    client.force_login(get_user_model().objects.create_superuser("qt-pol", "qt@example.org", "x-secret-123"))
    page = client.get(f"/admin/reports/report/?overdue={param}&q=PA-").content.decode()
    assert {name for name, r in made.items() if r.code in page} == expected


# --- nothing else spells a list of states ----------------------------------------------

STATE_NAMES = {"received", "forwarded", "accepted", "in_progress", "resolved", "published", "rated", "reopened",
               "rejected", "merged", "closed"}  # by hand
# Where states may be listed: the policy itself, the model's enum, migrations; and the
# generators of demo and benchmark data, which pick states for made-up reports.
SPELLS_STATES = ("reports/policy/states.py", "reports/models.py", "heatmaps/synthetic.py")
SKIP = {".venv", "node_modules", "tests", "bench", "migrations", "fixtures", "var", ".git"}


def state_lists(path):
    """Lines where a tuple/list/set of two or more states is written: members of the
    State enum (``S.RECEIVED``, ``Report.State.CLOSED``…) or their names as strings, or an
    SQL ``IN ('…', '…')`` of state names."""
    import ast
    import re

    def is_state(node):
        if isinstance(node, ast.Attribute) and node.attr.lower() in STATE_NAMES:
            return ast.unparse(node.value).split(".")[-1] in ("S", "State")
        return isinstance(node, ast.Constant) and node.value in STATE_NAMES

    names = "|".join(sorted(STATE_NAMES))
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List | ast.Set) and len(node.elts) >= 2 \
                and all(is_state(e) for e in node.elts):
            out.append(node.lineno)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and re.search(
                rf"IN\s*\(\s*'({names})'\s*,\s*'({names})'", node.value):
            out.append(node.lineno)
    return out


def test_no_state_list_is_spelled_outside_the_policy():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if SKIP & set(rel.parts[:-1]) or rel.as_posix() in SPELLS_STATES:
            continue
        found += [f"{rel.as_posix()}:{line}" for line in state_lists(path)]
    assert found == [], "state lists outside reports/policy/states.py (use a policy group)"


@pytest.mark.parametrize("source, lines", [
    ("x = qs.filter(state__in=(Report.State.RESOLVED, Report.State.REOPENED))\n", [1]),
    ("OPEN_STATES = ['received', 'forwarded']\n", [1]),
    ("sql = \"WHERE r.state IN ('received', 'reopened')\"\n", [1]),
    ("T = {(S.RECEIVED, 'forward'): 1}\nx = ('received', 'total')\n", []),
])
def test_the_state_list_scan(tmp_path, source, lines):
    f = tmp_path / "m.py"
    f.write_text(source)
    assert state_lists(f) == lines
