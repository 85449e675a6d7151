"""Sending the queued items: one message per item, or one digest a day.

Each item is claimed under its row lock (SELECT … FOR UPDATE SKIP LOCKED), sent and
marked in its own transaction, as reports.notify does: two workers never send the same
item. Messages name the report's code, category, commune and public page — never the
reporter. Every e-mail carries the one-click unsubscribe link in its text and in the
List-Unsubscribe / List-Unsubscribe-Post headers (RFC 8058).
"""

import datetime as dt
import json
import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from alerts import subscriptions
from alerts.models import AlertSent, AreaAlert
from reports import sla

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


def report_url(report):
    return subscriptions.base_url() + reverse("report-public", args=[report.code])


def item_line(item):
    r = item.report
    values = {"code": r.code, "category": r.category.local_name, "place": r.commune.name if r.commune_id else "",
              "url": report_url(r)}
    if item.kind == AlertSent.Kind.RESOLVED:
        return _("Đã xử lý: %(code)s — %(category)s — %(place)s\n%(url)s") % values
    return _("Phản ánh mới: %(code)s — %(category)s — %(place)s\n%(url)s") % values


def _email(sub, subject, lines):
    url = subscriptions.unsubscribe_url(sub)
    body = "\n\n".join(lines) + "\n\n-- \n" + _(
        "Bạn nhận thư này vì đã đăng ký nhận tin về %(place)s. Hủy đăng ký (một lần bấm): %(url)s"
    ) % {"place": subscriptions.describe_place(sub), "url": url}
    EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [sub.email], headers={
        "List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }).send()


def _push(sub, title, text, url):
    from py_vapid import Vapid
    from pywebpush import WebPushException, webpush

    private_key = settings.WEBPUSH_VAPID_PRIVATE_KEY
    if not private_key:
        raise RuntimeError("WEBPUSH_VAPID_PRIVATE_KEY is not set")
    if private_key.lstrip().startswith("-----BEGIN"):  # PEM; pywebpush itself reads base64url DER
        private_key = Vapid.from_pem(private_key.encode())
    try:
        webpush(sub.push_subscription, json.dumps({"title": title, "body": text, "url": url}),
                vapid_private_key=private_key, vapid_claims={"sub": settings.WEBPUSH_VAPID_SUBJECT}, timeout=10)
    except WebPushException as exc:
        if getattr(exc.response, "status_code", None) in (404, 410):
            # The browser withdrew the subscription: the push service will never take it again.
            AreaAlert.objects.filter(pk=sub.pk).update(unsubscribed_at=timezone.now())
        raise


def send_item(item):
    sub = item.subscription
    with translation.override(sub.language):
        line = item_line(item)
        subject = _("Phản ánh %(code)s tại khu vực bạn theo dõi") % {"code": item.report.code}
        if sub.channel == AreaAlert.Channel.EMAIL:
            _email(sub, subject, [line])
        elif sub.channel == AreaAlert.Channel.SMS:
            from geo_portal.accounts.sms import send_sms

            send_sms(sub.user.phone, line)
        else:
            _push(sub, subject, line.split("\n")[0], report_url(item.report))


def _claim(qs):
    return (qs.select_for_update(skip_locked=True, of=("self",))
            .select_related("subscription__user", "subscription__area", "report__category", "report__commune")
            .order_by("id").first())


def send_pending(ids=None, limit=500):
    """Send the queued items of immediate subscriptions; returns how many were sent."""
    sent, tried = 0, []
    for _step in range(limit):
        with transaction.atomic():
            qs = AlertSent.objects.filter(sent_at__isnull=True, attempts__lt=MAX_ATTEMPTS,
                                          subscription__digest=False).exclude(pk__in=tried)
            if ids is not None:
                qs = qs.filter(pk__in=list(ids))
            item = _claim(qs)
            if item is None:
                break
            tried.append(item.pk)
            item.attempts += 1
            if not item.subscription.active:
                item.error = "unsubscribed"
                item.attempts = MAX_ATTEMPTS
            else:
                try:
                    send_item(item)
                except Exception as exc:
                    item.error = str(exc)[:1000]
                    log.warning("alert item %s failed: %s", item.pk, exc)
                else:
                    item.sent_at, item.error = timezone.now(), ""
                    sent += 1
            item.save(update_fields=["attempts", "sent_at", "error"])
    return sent


def send_digests(until=None):
    """One message per digest subscription with every item queued before `until`
    (default: today's local midnight, so a run at 07:00 sends yesterday); returns the
    number of digests sent."""
    if until is None:
        local = timezone.now().astimezone(sla.LOCAL_TZ)
        until = local.replace(hour=0, minute=0, second=0, microsecond=0)
    sent = 0
    sub_ids = (AlertSent.objects.filter(sent_at__isnull=True, attempts__lt=MAX_ATTEMPTS, subscription__digest=True,
                                        created_at__lt=until)
               .values_list("subscription_id", flat=True).distinct())
    for sub_id in list(sub_ids):
        with transaction.atomic():
            items = list(AlertSent.objects.filter(subscription_id=sub_id, sent_at__isnull=True,
                                                  attempts__lt=MAX_ATTEMPTS, created_at__lt=until)
                         .select_for_update(skip_locked=True, of=("self",))
                         .select_related("subscription__user", "subscription__area", "report__category",
                                         "report__commune").order_by("created_at", "id"))
            if not items:
                continue
            sub = items[0].subscription
            now = timezone.now()
            try:
                if sub.active:
                    _send_digest(sub, items, until)
            except Exception as exc:
                log.warning("digest of alert %s failed: %s", sub_id, exc)
                AlertSent.objects.filter(pk__in=[i.pk for i in items]).update(error=str(exc)[:1000])
                continue
            AlertSent.objects.filter(pk__in=[i.pk for i in items]).update(sent_at=now, attempts=1, error="")
            sent += 1 if sub.active else 0
    return sent


def _send_digest(sub, items, until):
    day = (until - dt.timedelta(hours=1)).astimezone(sla.LOCAL_TZ).strftime("%d/%m/%Y")
    with translation.override(sub.language):
        subject = _("Tổng hợp phản ánh ngày %(day)s: %(n)d tin") % {"day": day, "n": len(items)}
        lines = [item_line(i) for i in items]
        if sub.channel == AreaAlert.Channel.EMAIL:
            _email(sub, subject, lines)
        elif sub.channel == AreaAlert.Channel.SMS:
            from geo_portal.accounts.sms import send_sms

            send_sms(sub.user.phone, subject + ": " + ", ".join(i.report.code for i in items))
        else:
            _push(sub, subject, ", ".join(i.report.code for i in items), subscriptions.base_url() + "/phan-anh/")
