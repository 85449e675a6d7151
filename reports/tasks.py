"""Celery tasks of reports: sending queued notifications and the deadline sweep.

The beat schedule (settings.CELERY_BEAT_SCHEDULE) runs ``deadline_sweep`` every
10 minutes and ``send_notifications`` every minute (a safety net for messages whose
after-commit dispatch was lost).

Both are idempotent (a message is marked sent under its row lock; reminders carry a
unique dedupe key), so they are acknowledged late: a worker killed mid-task leaves the
task in the queue for another worker instead of losing it.
"""

from celery import shared_task

from reports import notify

SAFE_REDELIVERY = {"acks_late": True, "reject_on_worker_lost": True}


@shared_task(name="reports.send_notifications", ignore_result=True, **SAFE_REDELIVERY)
def send_notifications(ids=None):
    return notify.send_pending(ids)


@shared_task(name="reports.deadline_sweep", ignore_result=True, **SAFE_REDELIVERY)
def deadline_sweep():
    created = notify.sweep_deadlines()
    notify.send_pending()
    return created
