"""A queued message is sent once: by the task run twice, by runs at the same time, and
after a worker died in the middle of a batch (issue 8, item 5)."""

import collections
import uuid

import pytest

from geo_portal.accounts.sms import ConsoleSmsBackend, read_outbox
from reports import notify, tasks
from reports.models import Notification
from tests.reports.conftest import in_thread, run_in_threads

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    """What a SIGKILL looks like from inside: nothing after it runs (not an Exception)."""


class DiesOnThirdSms(ConsoleSmsBackend):
    calls = 0

    def send(self, to, text):
        DiesOnThirdSms.calls += 1
        if DiesOnThirdSms.calls == 3:
            raise WorkerKilled
        super().send(to, text)


@pytest.fixture
def committed_messages():
    """Messages committed to the database (the concurrent runs use their own
    connections), removed afterwards."""
    tag = uuid.uuid4().hex[:8]
    made = []

    def make(n):
        rows = in_thread(lambda: [
            Notification.objects.create(channel="sms", to=f"+849{i:08d}", body=f"{tag} tin {i}", kind="step").pk
            for i in range(n)
        ])
        made.extend(rows)
        return tag, rows

    yield make
    in_thread(lambda: Notification.objects.filter(pk__in=made).delete())


def sent_counts(tag):
    """How many times each message reached the SMS outbox (counted from the outbox)."""
    return collections.Counter(m["text"] for m in read_outbox() if m["text"].startswith(tag))


def test_the_send_task_run_twice_sends_each_message_once(committed_messages):
    tag, ids = committed_messages(12)
    first = tasks.send_notifications.apply(args=[ids]).get()
    second = tasks.send_notifications.apply(args=[ids]).get()
    assert (first, second) == (12, 0)
    counts = sent_counts(tag)
    assert len(counts) == 12 and set(counts.values()) == {1}


@pytest.mark.parametrize("runs", [2, 4])
def test_concurrent_runs_send_each_message_once(committed_messages, runs):
    tag, ids = committed_messages(60)
    results = run_in_threads(*[lambda: notify.send_pending(ids) for _ in range(runs)])
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 60
    counts = sent_counts(tag)
    assert len(counts) == 60 and set(counts.values()) == {1}
    unsent = in_thread(lambda: Notification.objects.filter(pk__in=ids, sent_at__isnull=True).count())
    assert unsent == 0


def test_a_worker_killed_mid_batch_resends_nothing_it_had_sent(committed_messages, settings):
    tag, ids = committed_messages(6)
    settings.SMS_BACKEND = f"{__name__}.DiesOnThirdSms"
    DiesOnThirdSms.calls = 0
    assert isinstance(in_thread(lambda: notify.send_pending(ids)), WorkerKilled)
    assert len(sent_counts(tag)) == 2
    # The next run (the redelivered task, or the periodic safety net) sends the rest.
    settings.SMS_BACKEND = "geo_portal.accounts.sms.ConsoleSmsBackend"
    assert in_thread(lambda: notify.send_pending(ids)) == 4
    counts = sent_counts(tag)
    assert len(counts) == 6 and set(counts.values()) == {1}


def test_the_sending_tasks_are_acknowledged_late():
    for task in (tasks.send_notifications, tasks.deadline_sweep):
        assert task.acks_late is True and task.reject_on_worker_lost is True
