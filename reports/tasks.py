"""Celery tasks of reports: sending queued notifications and the deadline sweep.

The beat schedule (settings.CELERY_BEAT_SCHEDULE) runs ``deadline_sweep`` every
10 minutes and ``send_notifications`` every minute (a safety net for messages whose
after-commit dispatch was lost).
"""

from celery import shared_task

from reports import notify


@shared_task(name="reports.send_notifications", ignore_result=True)
def send_notifications(ids=None):
    return notify.send_pending(ids)


@shared_task(name="reports.deadline_sweep", ignore_result=True)
def deadline_sweep():
    created = notify.sweep_deadlines()
    notify.send_pending()
    return created
