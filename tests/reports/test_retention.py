"""Reporter data retention (reports/retention.py, manage.py anonymise_reporters, the
nightly task): reports closed at various ages × retention periods, hand-made trails."""

import datetime as dt
import io

import pytest
from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.management import call_command
from django.utils import timezone

from reports import retention, tasks
from reports.models import Category, Comment, Notification, Rating, Report, ReportEvent, Subscription
from tests.reports.conftest import BAI_CHAY, point_in, user

DAY = dt.timedelta(days=1)
PHONE, EMAIL, NAME = "0912000222", "nguoidan@example.org", "Trần Thị B"

# state, days since the report's last state change, retention days, anonymised?
CASES = [
    ("closed", 400, 365, True),
    ("closed", 300, 365, False),
    ("rejected", 366, 365, True),
    ("merged", 364, 365, False),
    ("published", 365.5, 365, True),
    ("published", 364.5, 365, False),
    ("rated", 31, 30, True),
    ("rated", 29, 30, False),
    ("resolved", 10, 7, True),
    ("in_progress", 900, 365, False),  # open: someone still acts on it
    ("received", 900, 30, False),
]
# The step that put a report in its state (from_state), for the hand-made trail.
PREVIOUS = {"closed": "reopened", "rejected": "received", "merged": "received", "published": "resolved",
            "rated": "published", "resolved": "in_progress", "in_progress": "accepted", "received": ""}
ACTION = {"closed": "close", "rejected": "reject", "merged": "merge", "published": "publish", "rated": "rate",
          "resolved": "resolve", "in_progress": "start", "received": "receive"}

_seq = iter(range(1, 10_000))


def make_report(state, age_days, now, reporter=None):
    """A report whose last state change was ``age_days`` ago, with the reporter's contact
    and, before that, a trail starting 30 days earlier."""
    lon, lat = point_in(BAI_CHAY)
    closed = now - dt.timedelta(days=age_days)
    received = closed - 30 * DAY
    r = Report.objects.create(
        code=f"PA-2025-R{next(_seq):05d}", description="Rác thải tồn đọng nhiều ngày",
        category=Category.objects.get(code="moi-truong-rac-thai"), location=Point(lon, lat, srid=4326),
        province_code="22", state=state, created_at=received, contact_name=NAME, contact_phone=PHONE,
        contact_email=EMAIL, reporter=reporter,
        closed_at=closed if state in ("closed", "rejected", "merged") else None,
        published_at=closed if state == "published" else None,
    )
    ReportEvent.objects.create(report=r, action="receive", to_state="received", actor_role="reporter",
                               created_at=received)
    if state != "received":
        ReportEvent.objects.create(report=r, action=ACTION[state], from_state=PREVIOUS[state], to_state=state,
                                   actor_role="operator", created_at=closed)
    return r


@pytest.mark.parametrize("state, age, days, expected", CASES, ids=[f"{c[0]}-{c[1]}d-{c[2]}" for c in CASES])
def test_reporter_data_is_cleared_only_when_due(db, state, age, days, expected):
    now = timezone.now()
    report = make_report(state, age, now)
    version = report.row_version
    result = retention.run(now=now, days=days, commit=True)
    report.refresh_from_db()
    assert (report.code in [d.code for d in result.due]) is expected
    personal = (report.contact_name, report.contact_phone, report.contact_email)
    events = list(ReportEvent.objects.filter(report=report, action="anonymise"))
    assert report.state == state
    if expected:
        assert personal == ("", "", "")
        assert len(events) == 1
        ev = events[0]
        assert (ev.from_state, ev.to_state, ev.actor_role, ev.is_public) == (state, state, "system", False)
        assert ev.data["cleared"] == ["contact_name", "contact_phone", "contact_email"]
        assert ev.data["retention_days"] == days
        assert report.row_version == version + 1
    else:
        assert personal == (NAME, PHONE, EMAIL)
        assert events == []


def test_dry_run_lists_and_changes_nothing(db):
    now = timezone.now()
    due = make_report("closed", 400, now)
    make_report("closed", 10, now)
    out = io.StringIO()
    call_command("anonymise_reporters", "--days", "365", stdout=out)
    assert due.code in out.getvalue() and "Chạy thử" in out.getvalue()
    due.refresh_from_db()
    assert due.contact_phone == PHONE
    assert not ReportEvent.objects.filter(action="anonymise").exists()


def test_account_link_rating_subscription_and_sent_addresses_go_but_the_account_stays(db):
    citizen = user("+84910000001")
    now = timezone.now()
    report = make_report("rated", 400, now, reporter=citizen)
    Rating.objects.create(report=report, user=citizen, level=4)
    Subscription.objects.create(report=report, user=citizen)
    comment = Comment.objects.create(report=report, author=citizen, text="Cảm ơn đơn vị đã xử lý")
    sent = Notification.objects.create(channel="sms", to=PHONE, body="Phản ánh đã đóng", report=report, kind="step",
                                       sent_at=now - 400 * DAY)
    pending = Notification.objects.create(channel="sms", to=citizen.phone, body="…", report=report, kind="step")
    call_command("anonymise_reporters", "--commit", stdout=io.StringIO())
    report.refresh_from_db()
    sent.refresh_from_db()
    assert report.reporter_id is None
    assert ReportEvent.objects.get(report=report, action="anonymise").data["cleared"][-1] == "reporter"
    assert Rating.objects.get(report=report).user_id is None and Rating.objects.get(report=report).level == 4
    assert not Subscription.objects.filter(report=report).exists()
    comment.refresh_from_db()
    assert comment.author_id is None and comment.text == "Cảm ơn đơn vị đã xử lý"
    assert sent.to == "" and not Notification.objects.filter(pk=pending.pk).exists()
    citizen.refresh_from_db()
    assert citizen.is_active and citizen.phone == "+84910000001"


def test_second_run_does_nothing(db):
    now = timezone.now()
    make_report("closed", 400, now)
    assert len(retention.run(now=now, days=365, commit=True).due) == 1
    assert len(retention.run(now=now, days=365, commit=True).due) == 0
    assert ReportEvent.objects.filter(action="anonymise").count() == 1


def test_a_reopened_report_counts_from_its_last_close(db):
    now = timezone.now()
    report = make_report("closed", 400, now)
    ReportEvent.objects.create(report=report, action="reopen", from_state="closed", to_state="reopened",
                               actor_role="system", created_at=now - 20 * DAY)
    ReportEvent.objects.create(report=report, action="close", from_state="reopened", to_state="closed",
                               actor_role="operator", created_at=now - 10 * DAY)
    assert retention.run(now=now, days=365, commit=True).due == []


def test_public_page_keeps_the_trail(db, client):
    now = timezone.now()
    report = make_report("published", 400, now)
    before = client.get(f"/phan-anh/{report.code}/")
    retention.run(now=now, days=365, commit=True)
    after = client.get(f"/phan-anh/{report.code}/")
    assert after.status_code == before.status_code == 200
    page = after.content.decode()
    assert "Công khai kết quả" in page and "Tiếp nhận" in page
    assert "Ẩn danh" not in page  # an internal step


def test_the_nightly_task_uses_the_setting(db, settings):
    now = timezone.now()
    settings.REPORTER_RETENTION_DAYS = 100
    old = make_report("closed", 150, now)
    young = make_report("closed", 50, now)
    assert tasks.anonymise_reporters() == 1
    old.refresh_from_db()
    young.refresh_from_db()
    assert (old.contact_phone, young.contact_phone) == ("", PHONE)


def test_retention_is_declared_with_a_default_of_a_year_and_scheduled_daily():
    assert settings.REPORTER_RETENTION_DAYS == 365
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "reports.anonymise_reporters")
    assert entry["schedule"].hour == {2}
