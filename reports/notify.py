"""Notifications: the reporter at each step, followers, reminders and escalations.

The outbox pattern: ``Notification`` rows are written in the same transaction as the
event that causes them; after commit the Celery task ``reports.tasks.send_notifications``
sends them (SMS through ``geo_portal.accounts.sms.send_sms``, e-mail through Django's
mail backend). A periodic task (``CELERY_BEAT_SCHEDULE``) re-sends what is still
pending and runs ``sweep_deadlines``: reminders before the forward/resolve deadlines
and escalations after them, each at most once per report, deadline kind, due time and
recipient (``Notification.dedupe_key`` is unique).
"""

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from reports import policy, sla
from reports.models import Notification, Report, StaffRole, Subscription

log = logging.getLogger(__name__)

# A reminder goes out when the deadline is this close.
REMINDER_BEFORE = dt.timedelta(hours=settings.REPORT_REMINDER_BEFORE_HOURS)
MAX_ATTEMPTS = 5


def _local(moment):
    return moment.astimezone(sla.LOCAL_TZ).strftime("%H:%M %d/%m/%Y") if moment else ""


def reporter_contacts(report):
    """[(channel, address)] of the reporter: the e-mail given, else the account's; SMS
    only to a phone proven by a one-time code — the reporter's account phone (signing in
    by code proves it; an anonymous reporter who verifies the contact phone on the
    "sent" page signs in and so claims the report). A contact phone typed into the form
    gets nothing: anyone could type anyone's number, and the server would text it."""
    phone = ""
    email = report.contact_email
    if report.reporter_id:
        phone = report.reporter.phone or ""
        email = email or (report.reporter.email or "")
    out = []
    if phone:
        out.append((Notification.Channel.SMS, phone))
    if email:
        out.append((Notification.Channel.EMAIL, email))
    return out


def _step_text(report, ev):
    code = report.code
    state = report.get_state_display()
    texts = {
        "receive": _("Phản ánh %(code)s đã được tiếp nhận. Đơn vị dự kiến xử lý: %(authority)s. Theo dõi bằng mã "
                     "%(code)s."),
        "forward": _("Phản ánh %(code)s đã được chuyển đến %(authority)s để xử lý, hạn %(due)s."),
        "transfer": _("Phản ánh %(code)s đã được chuyển đến %(authority)s để xử lý, hạn %(due)s."),
        "reject": _("Phản ánh %(code)s không được tiếp nhận xử lý: %(reason)s."),
        "merge": _("Phản ánh %(code)s đã được gộp vào phản ánh %(into)s; bạn sẽ nhận tin về phản ánh đó."),
        "accept": _("%(authority)s đã nhận xử lý phản ánh %(code)s."),
        "start": _("%(authority)s đang xử lý phản ánh %(code)s."),
        "grant_extension": _("Hạn xử lý phản ánh %(code)s được gia hạn đến %(due)s."),
        "resolve": _("Phản ánh %(code)s đã được xử lý, kết quả sẽ được công khai sau khi Tổ vận hành kiểm tra."),
        "publish": _("Kết quả xử lý phản ánh %(code)s đã được công khai. Hãy đánh giá mức độ hài lòng của bạn."),
        "rate": _("Cảm ơn bạn đã đánh giá kết quả xử lý phản ánh %(code)s."),
        "reopen": _("Phản ánh %(code)s được mở lại để Tổ vận hành xem xét."),
        "close": _("Phản ánh %(code)s đã đóng."),
        "change_category": _("Phản ánh %(code)s được điều chỉnh lĩnh vực; đơn vị xử lý: %(authority)s."),
        "move_pin": _("Vị trí phản ánh %(code)s được điều chỉnh; đơn vị xử lý: %(authority)s."),
        "cutover": _(
            "Phản ánh %(code)s được chuyển theo địa giới hành chính mới (%(commune)s); đơn vị xử lý: %(authority)s."
        ),
    }
    template = texts.get(ev.action)
    if template is None:
        return None
    reason = Report.RejectReason(ev.reason_code).label if ev.reason_code in Report.RejectReason.values else ev.reason
    return template % {
        "code": code,
        "state": state,
        "authority": report.authority.name if report.authority_id else _("(chưa xác định)"),
        "due": _local(report.resolve_due),
        "reason": reason,
        "into": (ev.data or {}).get("into", ""),
        "commune": report.commune.name if report.commune_id else "",
    }


def _queue(rows):
    """Create Notification rows; dispatch them after the transaction commits."""
    created = []
    for row in rows:
        if row.dedupe_key:
            if Notification.objects.filter(dedupe_key=row.dedupe_key).exists():
                continue
            try:
                with transaction.atomic():
                    row.save()
            except Exception:  # a concurrent sweep created it: once is enough
                continue
        else:
            row.save()
        created.append(row.pk)
    if created:
        transaction.on_commit(lambda: dispatch(created))
    return created


def dispatch(ids):
    """Hand the notifications to the worker (or send them here, NOTIFY_DISPATCH="sync")."""
    mode = settings.NOTIFY_DISPATCH
    if mode == "none":
        return
    if mode == "sync":
        send_pending(ids)
        return
    try:
        from reports.tasks import send_notifications

        send_notifications.delay(list(ids))
    except Exception as exc:  # broker down: the periodic task sends them later
        log.warning("could not queue notifications %s: %s", ids, exc)


# Other interfaces react to report events without reports knowing them: an app appends
# a callable here in its AppConfig.ready (agencies: outbound webhooks). Each is called
# inside the event's transaction, so what it queues (outbox rows) commits with the event.
EVENT_HOOKS = []  # fn(report, ev)
COMMENT_HOOKS = []  # fn(report, comment)


def on_event(report, ev):
    """Called by workflow.record_event for every event, inside its transaction."""
    for hook in EVENT_HOOKS:
        hook(report, ev)
    if not ev.is_public:
        return []
    contacts = reporter_contacts(report)
    if not contacts and ev.action == "receive":
        return []  # an anonymous report without contact: nobody to tell yet
    text = _step_text(report, ev)
    if not text:
        return []
    rows = []
    subject = _("Phản ánh %(code)s: %(state)s") % {"code": report.code, "state": report.get_state_display()}
    for channel, to in contacts:
        rows.append(Notification(channel=channel, to=to, subject=subject, body=text, report=report, kind="step"))
    if ev.action != "receive":
        for sub in report.subscriptions.select_related("user"):
            if sub.user_id == report.reporter_id:
                continue
            if sub.user.phone:
                rows.append(Notification(channel="sms", to=sub.user.phone, subject=subject, body=text, report=report,
                                         kind="follow"))
            elif sub.user.email:
                rows.append(Notification(channel="email", to=sub.user.email, subject=subject, body=text, report=report,
                                         kind="follow"))
    if ev.action == "cutover":
        rows += _cutover_rows(report, ev)
    if ev.action in ("forward", "transfer") and report.authority_id and report.authority.email:
        rows.append(Notification(
            channel="email", to=report.authority.email, subject=subject, report=report, kind="assigned",
            body=_("Đơn vị nhận phản ánh mới %(code)s, hạn xử lý %(due)s.") % {"code": report.code,
                                                                               "due": _local(report.resolve_due)},
        ))
    return _queue(rows)


def _cutover_rows(report, ev):
    """The unit that had the report and the unit that has it now (the province's desk
    stands for "no unit"), once each, after a cut-over moved it."""
    from boundaries.models import Authority

    data = ev.data or {}
    before, after = data.get("from") or {}, data.get("to") or {}
    old = Authority.objects.filter(code=before.get("authority")).first() if before.get("authority") else None
    new = report.authority if report.authority_id else None
    values = {
        "code": report.code,
        "old_commune": before.get("commune_name") or "?",
        "new_commune": after.get("commune_name") or "?",
        "old": old.name if old else _("Tổ vận hành"),
        "new": new.name if new else _("Tổ vận hành"),
        "due": _local(policy.due_of(report)),  # the running deadline (a reopened report: forward_due)
    }
    subject = _("Phản ánh %(code)s: chuyển theo địa giới mới") % values
    if (old.pk if old else None) == (new.pk if new else None):
        recipients = [(unit_contacts(new) if new else desk_contacts(report.province_code),
                       _("Phản ánh %(code)s nay thuộc %(new_commune)s (địa giới mới, trước là %(old_commune)s); "
                         "đơn vị xử lý không đổi: %(new)s, hạn %(due)s.") % values)]
    else:
        recipients = [
            (unit_contacts(old) if old else desk_contacts(report.province_code),
             _("Phản ánh %(code)s (%(old_commune)s) được chuyển sang %(new)s theo địa giới mới (%(new_commune)s); "
               "đơn vị không còn xử lý phản ánh này.") % values),
            (unit_contacts(new) if new else desk_contacts(report.province_code),
             _("Đơn vị nhận phản ánh %(code)s (%(new_commune)s) từ %(old)s theo địa giới mới, hạn %(due)s.") % values),
        ]
    rows = []
    for contacts, body in recipients:
        for ch, to in _dedupe(contacts):
            rows.append(Notification(
                channel=ch, to=to, subject=subject[:200], body=body, report=report, kind="cutover",
                dedupe_key=f"cutover:{ev.pk}:{ch}:{to}"[:200],
            ))
    return rows


def on_comment(report, comment):
    """Called by workflow.add_comment for every comment, inside its transaction."""
    for hook in COMMENT_HOOKS:
        hook(report, comment)
    if comment.authority_id is not None:
        on_official_comment(report, comment)


def on_official_comment(report, comment):
    text = _("%(authority)s đã trả lời phản ánh %(code)s.") % {"authority": comment.authority.name, "code": report.code}
    rows = [
        Notification(channel=channel, to=to, subject=text, body=text, report=report, kind="reply")
        for channel, to in reporter_contacts(report)
    ]
    return _queue(rows)


# --- sending ---------------------------------------------------------------------


def send_one(n):
    if n.channel == Notification.Channel.SMS:
        from geo_portal.accounts.sms import send_sms

        send_sms(n.to, n.body)
    else:
        send_mail(n.subject or n.body[:60], n.body, settings.DEFAULT_FROM_EMAIL, [n.to])


def send_pending(ids=None, limit=500):
    """Send unsent notifications (these ids, or any); returns how many were sent.

    Each message is claimed, sent and marked sent in its own short transaction, its row
    locked meanwhile (SELECT ... FOR UPDATE SKIP LOCKED): two runs at once (a redelivered
    task, the periodic safety net, a second worker) never send the same message, and a
    worker killed mid-batch leaves every message it had sent marked as sent; only the
    one in flight can go out again (its mark was not committed).
    """
    sent = 0
    tried = []  # a failed message waits for the next run, not the next loop
    for _step in range(limit):
        with transaction.atomic():
            qs = Notification.objects.filter(sent_at__isnull=True, attempts__lt=MAX_ATTEMPTS).exclude(pk__in=tried)
            if ids is not None:
                qs = qs.filter(pk__in=list(ids))
            n = qs.order_by("id").select_for_update(skip_locked=True).first()
            if n is None:
                break
            tried.append(n.pk)
            n.attempts += 1
            try:
                send_one(n)
            except Exception as exc:
                n.error = str(exc)[:1000]
                log.warning("notification %s to %s failed: %s", n.pk, n.to, exc)
            else:
                n.sent_at = timezone.now()
                n.error = ""
                sent += 1
            n.save(update_fields=["attempts", "sent_at", "error"])
    return sent


# --- reminders and escalations --------------------------------------------------------


def _user_contacts(users):
    out = []
    for u in users:
        if u.phone:
            out.append(("sms", u.phone))
        if u.email:
            out.append(("email", u.email))
    return out


def desk_contacts(province_code):
    from boundaries.models import Authority

    roles = StaffRole.objects.filter(role="operator", province_code=province_code).select_related("user")
    out = _user_contacts(r.user for r in roles)
    for desk in Authority.objects.filter(kind="desk", province_code=province_code, active=True):
        if desk.email:
            out.append(("email", desk.email))
        if desk.phone:
            out.append(("sms", desk.phone))
    return out


def unit_contacts(authority):
    if authority is None:
        return []
    roles = StaffRole.objects.filter(role="officer", authority=authority).select_related("user")
    out = _user_contacts(r.user for r in roles)
    if authority.email:
        out.append(("email", authority.email))
    return out


def head_contacts(authority):
    if authority is None:
        return []
    heads = StaffRole.objects.filter(authority=authority, is_head=True).select_related("user")
    out = _user_contacts(r.user for r in heads)
    if not any(ch == "sms" for ch, _to in out) and authority.head_phone:
        out.append(("sms", authority.head_phone))
    return out


def _dedupe(rows):
    seen, out = set(), []
    for ch, to in rows:
        if (ch, to) not in seen:
            seen.add((ch, to))
            out.append((ch, to))
    return out


def sweep_deadlines(now=None):
    """Queue reminders (deadline within REMINDER_BEFORE) and escalations (deadline
    passed). Idempotent: returns the number of new notifications."""
    now = now or timezone.now()
    soon = now + REMINDER_BEFORE
    created = 0
    # The reports whose running deadline falls before ``soon``: "overdue as of soon".
    qs = Report.objects.filter(policy.overdue_q(soon)).select_related("authority").order_by("id")
    for report in qs.iterator(chunk_size=500):
        deadline_kind, due = policy.overdue_kind(report, soon), policy.due_of(report)
        overdue = policy.is_overdue(report, now)
        kind = "escalation" if overdue else "reminder"
        vars_ = {"code": report.code, "due": _local(due),
                 "authority": report.authority.name if report.authority_id else "?"}
        if deadline_kind == "forward":
            recipients = desk_contacts(report.province_code)
            if overdue:
                text = _("QUÁ HẠN: phản ánh %(code)s chưa được chuyển xử lý, hạn chuyển là %(due)s.") % vars_
            else:
                text = _("Nhắc việc: phản ánh %(code)s cần được chuyển xử lý trước %(due)s.") % vars_
        else:
            if overdue:
                recipients = head_contacts(report.authority) + desk_contacts(report.province_code)
                text = _("QUÁ HẠN: phản ánh %(code)s giao %(authority)s chưa xử lý xong, hạn là %(due)s.") % vars_
            else:
                recipients = unit_contacts(report.authority)
                text = _("Nhắc việc: phản ánh %(code)s cần xử lý xong trước %(due)s.") % vars_
        rows = [
            Notification(
                channel=ch, to=to, subject=text[:200], body=text, report=report, kind=kind,
                dedupe_key=f"{kind}:{deadline_kind}:{report.pk}:{due.isoformat()}:{ch}:{to}"[:200],
            )
            for ch, to in _dedupe(recipients)
        ]
        with transaction.atomic():
            created += len(_queue(rows))
    return created


def follow(report, user_id) -> bool:
    """``user_id`` is notified of ``report``'s steps from now on ("same problem? follow
    it instead"; the reporter of a report merged into it). True when newly following."""
    _sub, created = Subscription.objects.get_or_create(report=report, user_id=user_id)
    return created


def unfollow(report, user_id):
    Subscription.objects.filter(report=report, user_id=user_id).delete()
