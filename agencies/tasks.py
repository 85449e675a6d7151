"""Celery tasks of agencies: one delivery attempt (and its retries), the periodic safety net."""

import time

from celery import shared_task
from django.utils import timezone

from agencies import outbound
from agencies.models import WebhookDelivery


@shared_task(name="agencies.deliver_webhook", bind=True, ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def deliver_webhook(self, delivery_id):
    """Try one delivery once; a failure schedules the next try (countdown). Run eagerly
    (GEO_PORTAL_WEBHOOK_DISPATCH="sync", the tests) the task waits out each delay here,
    so the shortened schedule and Retry-After are really kept."""
    if self.request.is_eager:
        due = WebhookDelivery.objects.filter(pk=delivery_id).values_list("next_attempt_at", flat=True).first()
        if due is not None and due > timezone.now():
            time.sleep((due - timezone.now()).total_seconds())
    delay = outbound.attempt(delivery_id)
    if delay is None:
        return
    if self.request.is_eager:
        deliver_webhook.apply((delivery_id,))
    else:
        # retry() sends the task again to the queue it came from, after the delay.
        raise self.retry(countdown=delay, max_retries=None)


@shared_task(name="agencies.send_due_webhooks", ignore_result=True)
def send_due_webhooks():
    """Every minute: deliveries whose time has come and whose task was lost (broker
    down at commit, worker restarted)."""
    ids = outbound.due_ids()
    for pk in ids:
        outbound.attempt(pk)  # a failure's next try is due later: this sweep picks it up then
    return len(ids)
