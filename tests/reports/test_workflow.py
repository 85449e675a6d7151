"""The state machine: the full path, reopening, illegal moves, roles and jurisdiction,
concurrency, extensions, re-routing, comments."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from reports import intake, sla, workflow
from reports.models import Notification, Rating, Report, ReportEvent
from reports.policy import access as permissions
from tests.reports.conftest import BAI_CHAY, HONG_GAI, in_thread, new_key, photo, point_in, report_data, run_in_threads

pytestmark = pytest.mark.django_db


@pytest.fixture
def report(citizen):
    return intake.create_report(report_data(), None, citizen, new_key())


def to_in_progress(report, operator, officer):
    report = workflow.transition(report, "forward", operator)
    report = workflow.transition(report, "accept", officer)
    return workflow.transition(report, "start", officer)


def test_full_path_received_to_rated(report, operator, officer, citizen):
    assert report.authority.code == "ubnd-06673"
    assert workflow.allowed_actions(report, operator) == ["forward", "reject", "merge", "change_category", "move_pin"]
    report = workflow.transition(report, "forward", operator, expected_version=0)
    assert report.state == "forwarded" and report.forwarded_at and report.resolve_due
    assert report.resolve_due == sla.add_working_days(report.forwarded_at, 5)
    assert "accept" in workflow.allowed_actions(report, officer)
    report = workflow.transition(report, "accept", officer)
    report = workflow.transition(report, "start", officer)
    report = workflow.transition(report, "resolve", officer, {"result_text": "Đã thay bóng đèn.",
                                                              "photos": [photo("ketqua.jpg")]})
    assert report.state == "resolved" and report.media.filter(stage="result").count() == 1
    report = workflow.transition(report, "publish", operator)
    report = workflow.transition(report, "rate", citizen, {"level": 5, "reason": "Nhanh"})
    assert report.state == "rated" and report.rating_level == 5
    assert Rating.objects.get(report=report).level == 5
    events = list(report.events.values_list("action", "from_state", "to_state"))
    assert events == [
        ("receive", "", "received"),
        ("forward", "received", "forwarded"),
        ("accept", "forwarded", "accepted"),
        ("start", "accepted", "in_progress"),
        ("resolve", "in_progress", "resolved"),
        ("publish", "resolved", "published"),
        ("rate", "published", "rated"),
    ]
    assert report.row_version == 6
    accept = report.events.get(action="accept")
    assert accept.actor == officer and accept.actor_role == "officer" and accept.authority.code == "ubnd-06673"
    # The reporter was told at each public step (SMS to the account's phone, proven by
    # the sign-in; the contact phone typed into the form is not verified).
    texts = list(Notification.objects.filter(report=report, to=citizen.phone).values_list("body", flat=True))
    assert len(texts) == 7 and report.code in texts[0]


def test_rating_of_two_reopens_for_the_desk(report, operator, officer, citizen):
    report = to_in_progress(report, operator, officer)
    report = workflow.transition(report, "resolve", officer, {"result_text": "Xong", "photos": [photo()]})
    report = workflow.transition(report, "publish", operator)
    report = workflow.transition(report, "rate", citizen, {"level": 2, "reason": "Đèn lại hỏng sau hai ngày"})
    assert report.state == "reopened" and report.rating_level == 2
    last = report.events.order_by("-id").first()
    assert (last.action, last.from_state, last.to_state, last.actor) == ("reopen", "rated", "reopened", None)
    assert report.forward_due > timezone.now()
    assert set(workflow.allowed_actions(report, operator)) >= {"forward", "close"}
    report = workflow.transition(report, "forward", operator)
    assert report.state == "forwarded"
    # One rating per report.
    with pytest.raises(workflow.InvalidTransition):
        workflow.transition(report, "rate", citizen, {"level": 5})


def test_illegal_transitions_rejected(report, operator, officer, citizen):
    with pytest.raises(workflow.InvalidTransition):
        workflow.transition(report, "resolve", officer, {"result_text": "x"})
    with pytest.raises(workflow.InvalidTransition):
        workflow.transition(report, "publish", operator)
    with pytest.raises(workflow.InvalidTransition):
        workflow.transition(report, "fly", operator)
    report.refresh_from_db()
    assert report.state == "received" and report.row_version == 0 and report.events.count() == 1


def test_roles_and_jurisdiction(report, operator, officer, other_officer, leader, citizen):
    # Only the desk forwards; an officer of another commune can do nothing with it.
    with pytest.raises(workflow.Forbidden):
        workflow.transition(report, "forward", officer)
    report = workflow.transition(report, "forward", operator)
    with pytest.raises(workflow.Forbidden) as exc:
        workflow.transition(report, "accept", other_officer)
    assert "không thuộc" in exc.value.message
    with pytest.raises(workflow.Forbidden):
        workflow.transition(report, "accept", leader)
    with pytest.raises(workflow.Forbidden):
        workflow.transition(report, "accept", citizen)
    assert permissions.can_act(officer, report) and not permissions.can_act(other_officer, report)
    assert not permissions.can_act(leader, report)
    assert permissions.can_view_private(leader, report) and not permissions.can_view_private(other_officer, report)
    with pytest.raises(permissions.PermissionDenied):
        permissions.require_view_private(other_officer, report)
    assert workflow.allowed_actions(report, other_officer) == [] and workflow.allowed_actions(report, leader) == []
    assert report in permissions.queue_reports(officer) and report not in permissions.queue_reports(other_officer)
    assert report in permissions.queue_reports(operator) and report in permissions.queue_reports(leader)
    assert permissions.role_of(officer) == "officer" and permissions.role_of(citizen) == "citizen"


def test_reject_needs_a_coded_reason(report, operator):
    with pytest.raises(ValidationError) as exc:
        workflow.transition(report, "reject", operator, {"reason_code": "boring"})
    assert "reason_code" in exc.value.message_dict
    report = workflow.transition(report, "reject", operator, {"reason_code": "duplicate", "reason": "Đã có PA khác"})
    assert report.state == "rejected" and report.reject_reason == "duplicate"
    assert report.events.last().reason_code == "duplicate"


def test_merge_into_another_report_subscribes_the_reporter(report, operator, citizen):
    other = intake.create_report(report_data(), None, None, new_key())
    report = workflow.transition(report, "merge", operator, {"into": other.code})
    assert report.state == "merged" and report.merged_into == other
    assert other.subscriptions.filter(user=citizen).exists()


def test_stale_version_is_a_conflict_and_nothing_is_lost(report, operator, officer, head):
    report = to_in_progress(report, operator, officer)
    seen = report.row_version
    workflow.transition(report, "resolve", officer, {"result_text": "Cán bộ 1 đã xử lý", "photos": [photo()]},
                        expected_version=seen)
    with pytest.raises(workflow.Conflict) as exc:
        workflow.transition(report, "resolve", head, {"result_text": "Cán bộ 2", "photos": [photo()]},
                            expected_version=seen)
    assert report.code in exc.value.message and "tải lại" in exc.value.message
    report.refresh_from_db()
    assert report.result_text == "Cán bộ 1 đã xử lý" and report.events.filter(action="resolve").count() == 1


def test_two_officers_resolving_at_once_on_two_connections(operator, officer, head):
    """Two real connections race to resolve the same report: one wins, the other gets a
    Conflict; the winner's result is kept. (Committed data is cleaned up.)"""

    def make():
        r = intake.create_report(report_data(), None, None, new_key())
        return to_in_progress(r, operator, officer)

    report = in_thread(make)
    assert isinstance(report, Report), report
    try:
        version = report.row_version
        results = run_in_threads(
            lambda: workflow.transition(report.pk, "resolve", officer, {"result_text": "A", "photos": [photo()]},
                                        expected_version=version),
            lambda: workflow.transition(report.pk, "resolve", head, {"result_text": "B", "photos": [photo()]},
                                        expected_version=version),
        )
        winners = [r for r in results if isinstance(r, Report)]
        conflicts = [r for r in results if isinstance(r, workflow.Conflict)]
        assert len(winners) == 1 and len(conflicts) == 1, results
        fresh = Report.objects.get(pk=report.pk)
        assert fresh.state == "resolved" and fresh.result_text == winners[0].result_text
        assert ReportEvent.objects.filter(report=fresh, action="resolve").count() == 1
        assert fresh.media.filter(stage="result").count() == 1
    finally:
        in_thread(lambda: Report.objects.filter(pk=report.pk).delete())


def test_resolve_needs_text_and_photo(report, operator, officer):
    report = to_in_progress(report, operator, officer)
    with pytest.raises(ValidationError) as exc:
        workflow.transition(report, "resolve", officer, {"result_text": "Xong"})
    assert "photos" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        workflow.transition(report, "resolve", officer, {"photos": [photo()]})
    assert "result_text" in exc.value.message_dict


def test_extension_requested_then_granted_moves_the_deadline(report, operator, officer):
    report = to_in_progress(report, operator, officer)
    old_due = report.resolve_due
    until = (old_due + timezone.timedelta(days=7)).astimezone(sla.LOCAL_TZ).date().isoformat()
    with pytest.raises(ValidationError):
        workflow.transition(report, "request_extension", officer, {"until": until})  # no reason
    report = workflow.transition(report, "request_extension", officer, {"reason": "Chờ thay cột", "until": until})
    assert "grant_extension" in workflow.allowed_actions(report, operator)
    report = workflow.transition(report, "grant_extension", operator)
    assert report.resolve_due > old_due and report.resolve_due.astimezone(sla.LOCAL_TZ).date().isoformat() == until
    # a bare day means the end of that working day, 17:00 in Vietnam
    assert report.resolve_due.astimezone(sla.LOCAL_TZ).strftime("%H:%M") == "17:00"
    assert report.state == "in_progress" and report.extension_requested_until is None
    with pytest.raises(workflow.InvalidTransition):
        workflow.transition(report, "refuse_extension", operator)


def test_officer_returns_wrong_unit_and_desk_transfers(report, operator, officer):
    report = workflow.transition(report, "forward", operator)
    report = workflow.transition(report, "return", officer, {"reason": "Thuộc Điện lực",
                                                             "suggested_authority": "dien-luc-22"})
    assert report.state == "received" and report.resolve_due is None
    assert not report.events.get(action="return").is_public
    report = workflow.transition(report, "forward", operator, {"authority": "dien-luc-22"})
    assert report.authority.code == "dien-luc-22"
    report = workflow.transition(report, "transfer", operator, {"authority": "ubnd-06673"})
    assert report.state == "forwarded" and report.authority.code == "ubnd-06673"


def test_change_category_and_move_pin_reroute(report, operator):
    report = workflow.transition(report, "change_category", operator, {"category": "dien-mat-dien"})
    assert report.category.code == "dien-mat-dien" and report.authority.code == "dien-luc-22"
    assert report.events.last().data["after"]["authority"] == "dien-luc-22"
    report = workflow.transition(report, "change_category", operator, {"category": "do-thi-chieu-sang"})
    lon, lat = point_in(HONG_GAI)
    report = workflow.transition(report, "move_pin", operator, {"lat": lat, "lon": lon})
    assert report.commune.code == HONG_GAI and report.authority.code == "ubnd-06685"
    with pytest.raises(ValidationError) as exc:
        workflow.transition(report, "move_pin", operator, {"lat": 48.85, "lon": 2.35})
    assert "location" in exc.value.message_dict
    report.refresh_from_db()
    assert report.commune.code == HONG_GAI


def test_officials_comment_as_their_authority(report, operator, officer, other_officer, citizen):
    report = workflow.transition(report, "forward", operator)
    c = workflow.add_comment(report, officer, "Chúng tôi đã ghi nhận, sẽ xử lý trong tuần.")
    assert c.authority.code == "ubnd-06673"
    c2 = workflow.add_comment(report, citizen, "Cảm ơn!")
    assert c2.authority is None
    with pytest.raises(workflow.Forbidden):
        workflow.add_comment(report, other_officer, "Không phải việc của tôi")
    with pytest.raises(ValidationError):
        workflow.add_comment(report, citizen, "")
    assert Notification.objects.filter(report=report, kind="reply").exists()


def test_deadline_set_on_receipt(report):
    assert report.forward_due == sla.add_working_days(report.created_at, 1)
    assert report.commune.code == BAI_CHAY


def test_transition_takes_a_querydict_as_forms_send_it(report, operator):
    from django.http import QueryDict

    data = QueryDict("reason_code=duplicate&reason=Tr%C3%B9ng+PA+kh%C3%A1c")
    report = workflow.transition(report, "reject", operator, data)
    ev = report.events.last()
    assert (report.reject_reason, ev.reason_code) == ("duplicate", "duplicate")


def test_the_event_trail_cannot_be_rewritten(report, operator):
    report = workflow.transition(report, "forward", operator)
    event = report.events.get(action="forward")
    event.reason = "sửa lại lịch sử"
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()
    assert report.events.get(action="forward").reason == ""


# Bad data for each action that takes data, sent by a role allowed to act: a field error
# on that field, nothing written. (state reached first, action, data, field)
BAD_DATA = [
    ("received", "forward", {"authority": "khong-co"}, "authority"),
    ("received", "reject", {"reason_code": "vi-khong-thich"}, "reason_code"),
    ("received", "merge", {"into": "PA-1900-000000"}, "into"),
    ("received", "change_category", {"category": "khong-co"}, "category"),
    ("received", "move_pin", {"lat": "abc", "lon": "107"}, "lat"),
    ("received", "move_pin", {"lat": "10", "lon": "200"}, "lon"),
    ("forwarded", "transfer", {}, "authority"),
    ("forwarded", "return", {"reason": "   "}, "reason"),
    ("accepted", "request_extension", {"reason": "Cần thêm vật tư", "until": "ngày mai"}, "until"),
    ("accepted", "request_extension", {"until": "2030-01-01"}, "reason"),
    ("in_progress", "resolve", {"result_text": ""}, "result_text"),
    ("in_progress", "resolve", {"result_text": "x" * 5001}, "result_text"),
    ("resolved", "rework", {}, "reason"),
]


@pytest.mark.parametrize("state,action,data,field", BAD_DATA, ids=[f"{a}-{f}" for _s, a, _d, f in BAD_DATA])
def test_bad_data_is_a_field_error_and_changes_nothing(report, operator, officer, state, action, data, field):
    steps = {"forwarded": ["forward"], "accepted": ["forward", "accept"], "in_progress": ["forward", "accept", "start"],
             "resolved": ["forward", "accept", "start", "resolve"]}
    for step in steps.get(state, []):
        actor = operator if step == "forward" else officer
        extra = {"result_text": "Đã sửa.", "photos": [photo()]} if step == "resolve" else None
        report = workflow.transition(report, step, actor, extra)
    assert report.state == state
    actor = officer if action in ("return", "request_extension", "resolve") else operator
    events_before = report.events.count()
    with pytest.raises(ValidationError) as exc:
        workflow.transition(report, action, actor, data)
    assert field in exc.value.message_dict
    fresh = Report.objects.get(pk=report.pk)
    assert fresh.state == state and fresh.row_version == report.row_version
    assert fresh.events.count() == events_before


def test_forbidden_answers_before_bad_data(report, citizen, other_officer):
    # Someone who may not act learns that, not what their data lacked.
    with pytest.raises(workflow.Forbidden):
        workflow.transition(report, "reject", citizen, {"reason_code": "sai"})
    with pytest.raises(workflow.InvalidTransition):
        workflow.transition(report, "transfer", other_officer, {})
