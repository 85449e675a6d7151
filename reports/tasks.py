"""Celery tasks of reports: sending queued notifications and the deadline sweep.

The beat schedule (settings.CELERY_BEAT_SCHEDULE) runs ``deadline_sweep`` every
10 minutes, ``send_notifications`` every minute (a safety net for messages whose
after-commit dispatch was lost) and ``anonymise_reporters`` every night.

The sending tasks are idempotent (a message is marked sent under its row lock;
reminders carry a unique dedupe key), so they are acknowledged late: a worker killed
mid-task leaves the task in the queue for another worker instead of losing it.
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


@shared_task(name="reports.anonymise_reporters", ignore_result=True)
def anonymise_reporters():
    """Nightly: clear reporter data past settings.REPORTER_RETENTION_DAYS."""
    from reports import retention

    return len(retention.run(commit=True).due)
