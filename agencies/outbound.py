"""Outbound webhooks: report events → outbox rows → signed POSTs with retries.

``on_report_event`` / ``on_comment`` are hooked into reports.notify (see apps.py): in the
event's own transaction they write one ``WebhookMessage`` and one ``WebhookDelivery``
per endpoint that should hear of it; after commit each delivery goes to the Celery task
``agencies.deliver_webhook``. An attempt that fails is tried again on the Standard
Webhooks schedule (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), each delay
stretched by up to 10 % jitter and never shorter than the receiver's Retry-After; a 410
disables the endpoint; after the last try the delivery is dead (the admin's dead-letter
list, with a replay action).
"""

import http.client
import json
import logging
import random
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from agencies import network, signing
from agencies.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage
from reports import policy

log = logging.getLogger(__name__)

SCHEDULE = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
JITTER = 0.1
MAX_RETRY_AFTER = 10 * 3600
AGENT_PREFIX = "agency-bot:"  # username of an authority's system actor (inbound updates)

FORWARD_ACTIONS = {"forward", "transfer"}


def schedule():
    """Seconds before attempt 1, 2, …; settings.GEO_PORTAL_WEBHOOK_SCHEDULE shortens it (tests)."""
    return tuple(settings.GEO_PORTAL_WEBHOOK_SCHEDULE or SCHEDULE)


def event_type(ev):
    if ev.action == "receive" or not ev.is_public:
        return None
    if ev.action in FORWARD_ACTIONS:
        return "report.forwarded"
    if ev.to_state in policy.CLOSED and ev.from_state not in policy.CLOSED:
        return "report.closed"
    return "report.updated"


def endpoints_for(report, authority=None):
    """The active endpoints of the report's authority (or of ``authority``), and of its
    parent authority when that endpoint asked for its units' reports."""
    authority = authority or (report.authority if report.authority_id else None)
    if authority is None:
        return []
    q = Q(authority_id=authority.pk)
    if authority.parent_id:
        q |= Q(authority_id=authority.parent_id, include_children=True)
    return list(WebhookEndpoint.objects.filter(q, active=True).select_related("authority"))


def _iso(moment):
    return moment.isoformat() if moment else None


def report_data(report):
    """What an agency's system receives about a report: the case itself, never the
    reporter's name, phone or e-mail (officers read those in the portal)."""
    from django.urls import reverse

    base = settings.GEO_PORTAL_BASE_URL.rstrip("/")
    return {
        "code": report.code,
        "url": base + reverse("report-public", args=[report.code]),
        "state": report.state,
        "state_label": str(report.get_state_display()),
        "category": {"code": report.category.code, "name": report.category.name} if report.category_id else None,
        "title": report.title,
        "description": report.description,
        "address": report.address,
        "location": ({"type": "Point", "coordinates": [report.location.x, report.location.y]}
                     if report.location else None),
        "commune": {"code": report.commune.code, "name": report.commune.name} if report.commune_id else None,
        "authority": {"code": report.authority.code, "name": report.authority.name} if report.authority_id else None,
        "created_at": _iso(report.created_at),
        "forwarded_at": _iso(report.forwarded_at),
        "resolve_due": _iso(report.resolve_due),
        "resolved_at": _iso(report.resolved_at),
        "result_text": report.result_text if report.state in policy.RESULT_PUBLIC else "",
        "row_version": report.row_version,
    }


def _is_own_echo(endpoint, actor):
    """The agency's own inbound update is not sent back to it."""
    return actor is not None and getattr(actor, "username", "") == AGENT_PREFIX + endpoint.authority.code


def enqueue(report, type_, extra, actor=None, endpoints=None):
    endpoints = endpoints_for(report) if endpoints is None else endpoints
    endpoints = [e for e in endpoints if not _is_own_echo(e, actor)]
    if not endpoints:
        return []
    now = timezone.now()
    msg = WebhookMessage.objects.create(type=type_, report=report, created_at=now,
                                        payload={"type": type_, "timestamp": now.isoformat(),
                                                 "data": {"report": report_data(report), **extra}})
    deliveries = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(message=msg, endpoint=e, next_attempt_at=now, created_at=now) for e in endpoints])
    ids = [d.pk for d in deliveries]
    transaction.on_commit(lambda: dispatch(ids))
    return ids


def on_report_event(report, ev):
    type_ = event_type(ev)
    if type_ is None:
        return []
    extra = {"event": {"id": ev.pk, "action": ev.action, "from_state": ev.from_state, "to_state": ev.to_state,
                       "at": _iso(ev.created_at),
                       "reason": ev.reason if ev.action in ("reject", "close", "reopen") else ""}}
    ids = enqueue(report, type_, extra, actor=ev.actor)
    if ev.action == "transfer":
        ids += _tell_previous_authority(report, ev, extra)
    return ids


def _tell_previous_authority(report, ev, extra):
    """The unit a report was transferred away from is told too (report.updated, the
    report now naming its new authority), so its own system can close the case — except
    endpoints that also hear of the new authority's reports (a shared parent)."""
    from boundaries.models import Authority

    previous = Authority.objects.filter(code=(ev.data or {}).get("from") or "").first()
    if previous is None:
        return []
    current = {e.pk for e in endpoints_for(report)}
    endpoints = [e for e in endpoints_for(report, previous) if e.pk not in current]
    return enqueue(report, "report.updated", extra, actor=ev.actor, endpoints=endpoints) if endpoints else []


def on_comment(report, comment):
    if comment.is_hidden:
        return []
    from reports.policy import access

    extra = {"comment": {"id": comment.pk, "text": comment.text, "author": str(access.comment_author_label(comment)),
                         "official": comment.authority_id is not None, "at": _iso(comment.created_at)}}
    return enqueue(report, "report.commented", extra, actor=comment.author)


# --- sending -----------------------------------------------------------------------------


def dispatch(ids):
    """Hand deliveries to the worker; GEO_PORTAL_WEBHOOK_DISPATCH="sync" runs the task
    here, eagerly (retries included: it sleeps the shortened schedule); "none" leaves
    them to the periodic task."""
    mode = settings.GEO_PORTAL_WEBHOOK_DISPATCH
    if mode == "none":
        return
    from agencies.tasks import deliver_webhook

    for pk in ids:
        try:
            if mode == "sync":
                deliver_webhook.apply((pk,))
            else:
                deliver_webhook.delay(pk)
        except Exception as exc:  # broker down: the periodic task sends it later
            log.warning("could not queue webhook delivery %s: %s", pk, exc)


def retry_delay(attempts_done, retry_after=None):
    """Seconds before the next attempt after ``attempts_done`` failed ones, or None
    when the schedule is used up."""
    steps = schedule()
    if attempts_done >= len(steps):
        return None
    delay = steps[attempts_done] * (1 + random.uniform(0, JITTER))
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def _retry_after(headers):
    value = (headers or {}).get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
        except (TypeError, ValueError):
            return None


def body_of(message):
    return json.dumps(message.payload, ensure_ascii=False, separators=(",", ":")).encode()


def headers_for(endpoint, message, body, timestamp=None):
    ts = int(time.time() if timestamp is None else timestamp)
    return {
        "content-type": "application/json",
        "user-agent": "geo_portal-webhooks/1",
        "webhook-id": message.pk,
        "webhook-timestamp": str(ts),
        "webhook-signature": signing.signature_header(endpoint.signing_secrets(), message.pk, ts, body),
    }


def disable_endpoint(endpoint, reason):
    endpoint.active = False
    endpoint.disabled_reason = reason[:300]
    endpoint.disabled_at = timezone.now()
    endpoint.save(update_fields=["active", "disabled_reason", "disabled_at"])
    WebhookDelivery.objects.filter(endpoint=endpoint, status=WebhookDelivery.Status.PENDING).update(
        status=WebhookDelivery.Status.DISABLED)


def attempt(delivery_id):
    """One attempt of one due, pending delivery. Returns the seconds to wait before the
    next attempt, or None (delivered, dead, disabled, not due, taken by another worker)."""
    with transaction.atomic():
        d = (WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
             .select_related("message", "endpoint__authority").filter(pk=delivery_id).first())
        if d is None or d.status != WebhookDelivery.Status.PENDING or d.next_attempt_at > timezone.now():
            return None
        endpoint = d.endpoint
        if not endpoint.active:
            d.status = WebhookDelivery.Status.DISABLED
            d.save(update_fields=["status"])
            return None
        body = body_of(d.message)
        started = time.monotonic()
        code, error, headers = None, "", {}
        try:
            resp = network.post(endpoint.url, body, headers_for(endpoint, d.message, body))
            code, headers = resp.status, resp.headers
            if not 200 <= code < 300:
                error = resp.body[:500].decode("utf-8", "replace")
        except ValidationError as exc:  # the address became private: refused, retried later
            error = "; ".join(exc.messages)
        except (OSError, http.client.HTTPException) as exc:  # refused, timed out, TLS, a garbled answer
            error = f"{type(exc).__name__}: {exc}"
        d.attempts += 1
        d.last_status_code = code
        d.last_error = error
        WebhookAttempt.objects.create(delivery=d, status_code=code, error=error[:2000],
                                      duration_ms=int((time.monotonic() - started) * 1000))
        delay = None
        if code is not None and 200 <= code < 300:
            d.status = WebhookDelivery.Status.DELIVERED
            d.delivered_at = timezone.now()
        elif code == 410:
            d.status = WebhookDelivery.Status.DISABLED
            disable_endpoint(endpoint, _("Điểm nhận trả lời 410 Gone lúc %(at)s.") % {"at": timezone.now().isoformat()})
        else:
            delay = retry_delay(d.attempts, _retry_after(headers))
            if delay is None:
                d.status = WebhookDelivery.Status.DEAD
            else:
                d.next_attempt_at = timezone.now() + timezone.timedelta(seconds=delay)
        d.save()
        return delay


def replay(deliveries):
    """Send again (the admin's action): back to pending, a fresh schedule."""
    ids = []
    for d in deliveries:
        d.status = WebhookDelivery.Status.PENDING
        d.attempts = 0
        d.next_attempt_at = timezone.now()
        d.save(update_fields=["status", "attempts", "next_attempt_at"])
        ids.append(d.pk)
    transaction.on_commit(lambda: dispatch(ids))
    return ids


def due_ids(limit=500):
    return list(WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING,
                                               next_attempt_at__lte=timezone.now(),
                                               endpoint__active=True)
                .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])


def forwarding_status(report):
    """"sent" when every endpoint that was sent the report's latest forwarding accepted
    it; "failed" when one gave up (dead or disabled); "pending" meanwhile; None when no
    agency system was to receive it."""
    msg = WebhookMessage.objects.filter(report=report, type="report.forwarded").order_by("-created_at").first()
    if msg is None:
        return None
    statuses = set(msg.deliveries.values_list("status", flat=True))
    if not statuses:
        return None
    if statuses == {WebhookDelivery.Status.DELIVERED}:
        return "sent"
    if statuses & {WebhookDelivery.Status.DEAD, WebhookDelivery.Status.DISABLED}:
        return "failed"
    return "pending"
