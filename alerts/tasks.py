"""Celery tasks: ``alerts.scan`` (every minute: queue and send) and ``alerts.digest``
(every morning: yesterday's digests). Both are idempotent (unique sent-log, row locks)."""

from celery import shared_task

from alerts import delivery, matching

SAFE_REDELIVERY = {"acks_late": True, "reject_on_worker_lost": True}


@shared_task(name="alerts.scan", ignore_result=True, **SAFE_REDELIVERY)
def scan():
    queued = matching.scan()
    delivery.send_pending()
    return len(queued)


@shared_task(name="alerts.digest", ignore_result=True, **SAFE_REDELIVERY)
def digest():
    return delivery.send_digests()
