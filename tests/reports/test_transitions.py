"""The state machine, every state × action × role, on real reports.

The expected table below is written by hand (as Signalen's test_workflow.py does) and
is not read from ``workflow.TRANSITIONS``; a last test checks that the two list the same
(state, action) pairs, so a new transition without a row here fails. For each state a
report is walked there through the workflow; then every action is tried as every role,
each inside a savepoint that is rolled back: allowed → the new state and exactly one
event; not allowed → InvalidTransition (the state does not allow it) or Forbidden (the
role or jurisdiction does not), and the report unchanged.
"""

import datetime as dt
import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from reports import intake, workflow
from reports.models import Category, Media, Report, ReportEvent
from tests.reports.conftest import BAI_CHAY, HONG_GAI, mp4_bytes, new_key, photo, point_in, report_data

pytestmark = pytest.mark.django_db

DESK = {"operator", "admin"}
UNIT = {"officer", "admin"}

# (state, action) → (new state, the roles that may) — by hand.
EXPECTED = {
    ("received", "forward"): ("forwarded", DESK),
    ("received", "reject"): ("rejected", DESK),
    ("received", "merge"): ("merged", DESK),
    ("received", "change_category"): ("received", DESK),
    ("received", "move_pin"): ("received", DESK),
    ("forwarded", "accept"): ("accepted", UNIT),
    ("forwarded", "return"): ("received", UNIT),
    ("forwarded", "transfer"): ("forwarded", DESK),
    ("forwarded", "change_category"): ("forwarded", DESK),
    ("forwarded", "move_pin"): ("forwarded", DESK),
    ("accepted", "start"): ("in_progress", UNIT),
    ("accepted", "return"): ("received", UNIT),
    ("accepted", "request_extension"): ("accepted", UNIT),
    ("accepted", "grant_extension"): ("accepted", DESK),
    ("accepted", "refuse_extension"): ("accepted", DESK),
    ("in_progress", "resolve"): ("resolved", UNIT),
    ("in_progress", "request_extension"): ("in_progress", UNIT),
    ("in_progress", "grant_extension"): ("in_progress", DESK),
    ("in_progress", "refuse_extension"): ("in_progress", DESK),
    ("resolved", "publish"): ("published", DESK),
    ("resolved", "rework"): ("in_progress", DESK),
    ("published", "rate"): ("rated", {"reporter"}),
    ("rated", "reopen"): ("reopened", {"system"}),
    ("reopened", "forward"): ("forwarded", DESK),
    ("reopened", "close"): ("closed", DESK),
    ("reopened", "change_category"): ("reopened", DESK),
    ("reopened", "move_pin"): ("reopened", DESK),
    # the boundary reform's cut-over moves open reports (reports/cutover.py), state kept
    ("received", "cutover"): ("received", {"system"}),
    ("forwarded", "cutover"): ("forwarded", {"system"}),
    ("accepted", "cutover"): ("accepted", {"system"}),
    ("in_progress", "cutover"): ("in_progress", {"system"}),
    ("reopened", "cutover"): ("reopened", {"system"}),
    # retention anonymises the reporter of ended reports (reports/retention.py), state kept
    ("resolved", "anonymise"): ("resolved", {"system"}),
    ("published", "anonymise"): ("published", {"system"}),
    ("rated", "anonymise"): ("rated", {"system"}),
    ("rejected", "anonymise"): ("rejected", {"system"}),
    ("merged", "anonymise"): ("merged", {"system"}),
    ("closed", "anonymise"): ("closed", {"system"}),
}
# the desk edits what is blurred on a photo and lets a video be public, in every state,
# the state kept (reports/blur.py, reports.workflow.MEDIA_ACTIONS)
for _state in ("received", "forwarded", "accepted", "in_progress", "resolved", "published", "rated", "reopened",
               "rejected", "merged", "closed"):
    EXPECTED[(_state, "edit_blur")] = (_state, DESK)
    EXPECTED[(_state, "review_video")] = (_state, DESK)

STATES = ["received", "forwarded", "accepted", "in_progress", "resolved", "published", "rated", "reopened",
          "rejected", "merged", "closed"]
ACTIONS = ["receive", "forward", "reject", "merge", "change_category", "move_pin", "accept", "return", "transfer",
           "start", "request_extension", "grant_extension", "refuse_extension", "resolve", "publish", "rework",
           "rate", "reopen", "close", "cutover", "anonymise", "edit_blur", "review_video",
           # not actions of the workflow at all
           "delete", "approve", "FORWARD"]
# Who tries, and the table's role each of them holds on a Bãi Cháy report of Quảng Ninh
# filed by the citizen (none: they may do nothing).
ROLES = {
    "operator": "operator",  # the Quảng Ninh desk
    "officer": "officer",  # UBND Phường Bãi Cháy
    "other_officer": None,  # UBND Phường Hồng Gai: another unit
    "leader": None,  # reads, never acts
    "admin": "admin",
    "reporter": "reporter",
    "other_citizen": None,
    "anonymous": None,
    "system": "system",
}

# How the report is walked to each state: (action, who, data).
PATHS = {
    "received": [],
    "forwarded": [("forward", "operator", {})],
    "accepted": [("forward", "operator", {}), ("accept", "officer", {})],
    "in_progress": [("forward", "operator", {}), ("accept", "officer", {}), ("start", "officer", {})],
}
PATHS["resolved"] = PATHS["in_progress"] + [("resolve", "officer", {"result_text": "Đã sửa."})]
PATHS["published"] = PATHS["resolved"] + [("publish", "operator", {})]
PATHS["rated"] = PATHS["published"] + [("rate", "reporter", {"level": 4})]
PATHS["reopened"] = PATHS["published"] + [("rate", "reporter", {"level": 1})]  # a low rating reopens
PATHS["closed"] = PATHS["reopened"] + [("close", "operator", {"reason": "Đã giải thích."})]
PATHS["rejected"] = [("reject", "operator", {"reason_code": "duplicate"})]
PATHS["merged"] = [("merge", "operator", {"into": None})]


@pytest.fixture
def people(operator, officer, other_officer, leader, citizen):
    User = get_user_model()
    admin = User.objects.create(username="admin-test", is_superuser=True, is_staff=True)
    other = User.objects.create(username="+84910000099", phone="+84910000099")
    return {"operator": operator, "officer": officer, "other_officer": other_officer, "leader": leader,
            "admin": admin, "reporter": citizen, "other_citizen": other, "anonymous": AnonymousUser(), "system": None}


def data_for(action, report, target, other_category):
    lon, lat = point_in(HONG_GAI)
    if action == "cutover":
        # what reports/cutover.py hands over: the report located and routed again (here
        # in its own version: a move to the same unit is still one event)
        from boundaries.succession import reroute

        located, routed = reroute(report.location, report.category.codes_for_routing(), report.boundary_version)
        return {"from_version": report.boundary_version, "located": located, "routed": routed, "reason": "Thử."}
    return {
        "reject": {"reason_code": "duplicate"},
        "merge": {"into": target.code},
        "change_category": {"category": other_category},
        "move_pin": {"lon": str(lon), "lat": str(lat)},
        "return": {"reason": "Không đúng đơn vị."},
        "transfer": {"authority": "ubnd-06685"},
        "request_extension": {"reason": "Chờ vật tư.",
                              "until": ((report.resolve_due or dt.datetime.now(dt.UTC))
                                        + dt.timedelta(days=10)).isoformat()},
        "resolve": {"result_text": "Đã sửa xong.", "photos": [photo("ketqua.jpg")]},
        "rework": {"reason": "Chưa đạt."},
        "rate": {"level": 4},
        "reopen": {"reason": "Xem lại."},
        "close": {"reason": "Đã giải thích."},
        "anonymise": {"closed_at": report.closed_at, "retention_days": 365},
        "edit_blur": {"media": str(report.media.filter(kind="photo", stage="report").first().pk),
                      "regions": json.dumps([{"x": 0.1, "y": 0.2, "w": 0.3, "h": 0.3}])},
        "review_video": {"media": str(report.media.filter(kind="video").first().pk)},
    }.get(action, {})


def run(pk, action, actor, data, who):
    return workflow.transition(pk, action, actor, data, role="system" if who == "system" else None)


def snapshot(pk):
    r = Report.objects.get(pk=pk)
    return (r.state, r.row_version, r.authority_id, r.category_id, r.resolve_due, r.forward_due, r.contact_phone,
            r.reporter_id,
            tuple(Media.objects.filter(report_id=pk).order_by("id").values_list("reviewed", "file", "blur_regions")),
            ReportEvent.objects.filter(report_id=pk).count())


@pytest.mark.parametrize("state", STATES)
def test_every_action_as_every_role(state, people):
    # a photo (whose blur the desk edits) and a video (that the desk reviews)
    files = {"photos": [photo("anh.jpg")],
             "video": [SimpleUploadedFile("clip.mp4", mp4_bytes(), content_type="video/mp4")]}
    report = intake.create_report(report_data(BAI_CHAY), files, people["reporter"], new_key())
    target = intake.create_report(report_data(BAI_CHAY), None, people["reporter"], new_key())
    for action, who, data in PATHS[state]:
        data = dict(data)
        if action == "merge":
            data["into"] = target.code
        if action == "resolve":
            data["photos"] = [photo("ketqua.jpg")]
        report = workflow.transition(report.pk, action, people[who], data)
    assert report.state == state
    if state in ("accepted", "in_progress"):
        # a pending request, so that the desk has something to grant or refuse
        Report.objects.filter(pk=report.pk).update(extension_requested_until=report.resolve_due + dt.timedelta(days=3))
    report = Report.objects.get(pk=report.pk)
    other_category = Category.objects.filter(parent__isnull=False, active=True).exclude(pk=report.category_id) \
        .order_by("code").values_list("code", flat=True).first()

    outcomes, wrong = {}, []
    for action in ACTIONS:
        for who, held in ROLES.items():
            expected = EXPECTED.get((state, action))
            before = snapshot(report.pk)
            sid = transaction.savepoint()
            try:
                result = run(report.pk, action, people[who], data_for(action, report, target, other_category), who)
                got = ("ok", result.state)
            except workflow.Forbidden:
                got = ("forbidden", None)
            except workflow.InvalidTransition:
                got = ("invalid", None)
            except ValidationError as exc:
                got = ("bad data", str(exc))
            after = snapshot(report.pk)
            last = ReportEvent.objects.filter(report_id=report.pk).order_by("-id").first()
            transaction.savepoint_rollback(sid)

            if expected is None:
                want = ("invalid", None)
            elif held in expected[1]:
                want = ("ok", expected[0])
            else:
                want = ("forbidden", None)
            outcomes[(action, who)] = got
            if got != want:
                wrong.append((action, who, want, got))
            elif got[0] == "ok":
                # one new event, saying what happened
                if (after[-1] != before[-1] + 1
                        or (last.action, last.from_state, last.to_state) != (action, state, got[1])):
                    wrong.append((action, who, "one event", after[-1] - before[-1], last.action))
            elif after != before:
                wrong.append((action, who, "changed although refused", before, after))
    assert wrong == []
    # what the table promises is reachable at all in this state
    allowed = {a for (s, a) in EXPECTED if s == state}
    assert {a for (a, _who), got in outcomes.items() if got[0] == "ok"} == allowed


def test_the_hand_table_lists_every_transition_of_the_workflow():
    assert set(EXPECTED) == set(workflow.TRANSITIONS)
    assert {s for s, _a in EXPECTED} | {to for to, _r in EXPECTED.values()} | {"rejected", "merged", "closed"} \
        == set(STATES) == set(Report.State.values)
