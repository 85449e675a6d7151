"""Notifications: reporter at each step, reminders before deadlines, escalations after
them (unit head and desk), once each; the Celery tasks, also through a real worker."""

import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings as dj_settings
from django.core import mail
from django.db import connection
from django.utils import timezone

from geo_portal.accounts.sms import read_outbox
from reports import intake, notify, tasks, workflow
from reports.models import Notification, Report
from tests.reports.conftest import in_thread, new_key, report_data

pytestmark = pytest.mark.django_db


def test_reporter_notified_by_sms_and_email(citizen, operator):
    report = intake.create_report(report_data(contact_email="dan@example.org"), None, citizen, new_key())
    rows = Notification.objects.filter(report=report, kind="step")
    # SMS to the account's phone (proven by the sign-in), not to the typed contact phone.
    assert {(n.channel, n.to) for n in rows} == {("sms", citizen.phone), ("email", "dan@example.org")}
    workflow.transition(report, "forward", operator)
    # NOTIFY_DISPATCH="sync" in tests sends after commit; send what the test transaction holds.
    assert notify.send_pending() >= 4
    sms = [m for m in read_outbox() if m["to"] == citizen.phone]
    assert any(report.code in m["text"] and "tiếp nhận" in m["text"] for m in sms)
    assert any("chuyển đến" in m["text"] for m in sms)
    assert any(report.code in m.subject for m in mail.outbox)
    assert not Notification.objects.filter(report=report, sent_at__isnull=True).exists()


def test_internal_events_do_not_notify_the_reporter(citizen, operator, officer):
    report = intake.create_report(report_data(), None, citizen, new_key())
    report = workflow.transition(report, "forward", operator)
    before = Notification.objects.filter(report=report).count()
    workflow.transition(report, "return", officer, {"reason": "Sai đơn vị"})
    assert Notification.objects.filter(report=report).count() == before


def test_reminder_sweep_reminds_then_escalates_once(citizen, operator, officer, head):
    report = intake.create_report(report_data(), None, None, new_key())
    now = timezone.now()
    # The desk's forward deadline is 2 hours away: a reminder to the desk.
    Report.objects.filter(pk=report.pk).update(forward_due=now + dt.timedelta(hours=2))
    assert notify.sweep_deadlines(now) >= 1
    reminders = Notification.objects.filter(report=report, kind="reminder")
    assert ("sms", operator.phone) in {(n.channel, n.to) for n in reminders}
    assert all("Nhắc việc" in n.body and report.code in n.body for n in reminders)
    # Running the sweep again sends nothing new.
    assert notify.sweep_deadlines(now) == 0
    assert notify.sweep_deadlines(now + dt.timedelta(minutes=30)) == 0

    # Forwarded; the unit's deadline passes: escalation to the unit's head and the desk.
    report = workflow.transition(report, "forward", operator)
    Report.objects.filter(pk=report.pk).update(resolve_due=now - dt.timedelta(hours=1))
    created = notify.sweep_deadlines(now)
    esc = Notification.objects.filter(report=report, kind="escalation")
    assert created == esc.count() > 0
    targets = {n.to for n in esc}
    assert head.phone in targets and operator.phone in targets and officer.phone not in targets
    assert all("QUÁ HẠN" in n.body for n in esc)
    assert notify.sweep_deadlines(now + dt.timedelta(hours=1)) == 0
    # The worker's task sends them: the head's SMS is in the outbox.
    tasks.deadline_sweep()
    assert any(m["to"] == head.phone and report.code in m["text"] for m in read_outbox())


def test_head_phone_of_authority_when_no_head_account(operator):
    report = intake.create_report(report_data(commune="06685"), None, None, new_key())
    report = workflow.transition(report, "forward", operator)
    assert report.authority.head_phone
    Report.objects.filter(pk=report.pk).update(resolve_due=timezone.now() - dt.timedelta(hours=1))
    notify.sweep_deadlines()
    assert Notification.objects.filter(report=report, kind="escalation", to=report.authority.head_phone).exists()


def test_failed_send_is_retried_later(citizen, settings):
    report = intake.create_report(report_data(), None, citizen, new_key())
    settings.SMS_BACKEND = "geo_portal.accounts.sms.HttpSmsBackend"
    settings.SMS_GATEWAY_URL = ""
    notify.send_pending()
    n = Notification.objects.get(report=report, channel="sms")
    assert n.sent_at is None and n.attempts == 1 and n.error
    settings.SMS_BACKEND = "geo_portal.accounts.sms.ConsoleSmsBackend"
    notify.send_pending()
    n.refresh_from_db()
    assert n.sent_at is not None


def test_beat_schedule_has_the_sweep():
    tasks_scheduled = {entry["task"] for entry in dj_settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"reports.deadline_sweep", "reports.send_notifications"} <= tasks_scheduled


def test_real_worker_sends_queued_notification(tmp_path):
    """A real Celery worker (Redis broker, its own queue) sends a committed notification."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    outbox = tmp_path / "worker-sms"
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        SMS_OUTBOX_DIR=str(outbox),
        SMS_BACKEND="geo_portal.accounts.sms.ConsoleSmsBackend",
        # the broker keys are prefixed per database: the worker reads where this process writes
        CELERY_KEY_PREFIX=dj_settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"],
    )
    base = Path(dj_settings.BASE_DIR)
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "geo_portal", "worker", "-Q", queue, "--pool", "solo",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "warning"],
        cwd=base, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    note = in_thread(lambda: Notification.objects.create(channel="sms", to="+84911112222", body="Kiểm thử hàng đợi",
                                                         kind="step"))
    try:
        tasks.send_notifications.apply_async(args=[[note.pk]], queue=queue)
        deadline = time.monotonic() + 45
        sent = None
        while time.monotonic() < deadline:
            sent = in_thread(lambda: Notification.objects.filter(pk=note.pk).values_list("sent_at", flat=True).first())
            if sent:
                break
            time.sleep(0.5)
        assert sent, "the worker did not send the notification"
        lines = (outbox / "outbox.jsonl").read_text(encoding="utf-8")
        assert "+84911112222" in lines and "Kiểm thử hàng đợi" in lines
    finally:
        worker.terminate()
        worker.wait(timeout=20)
        in_thread(lambda: Notification.objects.filter(pk=note.pk).delete())
