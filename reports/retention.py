"""Reporter data retention: the reporter's personal data goes some time after a report closed.

``settings.REPORTER_RETENTION_DAYS`` (default 365, env GEO_PORTAL_REPORTER_RETENTION_DAYS)
days after a report closed, its reporter's name, phone and e-mail are cleared and the
report no longer points to the reporter's account (the account itself stays: it may
have other reports). What goes with them, since it names the same person for this
report: the addresses of the notifications sent to the reporter about it (unsent ones
are dropped), the account on its rating (the level stays), on the reporter's comments
and photos (their text and pictures stay public as they were), and the reporter's own
subscription to it. The append-only events keep their actor (the "receive" and "rate"
steps of an account): the trail is never rewritten.

"Closed" is ``policy.CLOSED`` (nobody has to act any more). The moment it closed is
the time of the report's last state change in its event trail (the last event whose
``from_state`` differs from its ``to_state``): the rejection, merge or close, or the
resolve, publish or rating that put it where it is. A later step that does not change
the state (this one, for instance) does not move it; a reopened report that closes
again starts counting again.

Each report is anonymised through the state machine (``workflow.transition(…,
"anonymise", role="system")``): an internal event records which fields were cleared
(never their values), the state stays, the public trail stays as it was. Idempotent: a
report with nothing left to clear is not selected again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from reports import policy, workflow
from reports.models import Comment, Media, Notification, Rating, Report, ReportEvent, Subscription


@dataclass
class Due:
    report_id: int
    code: str
    state: str
    closed_at: dt.datetime


@dataclass
class RetentionResult:
    days: int
    cutoff: dt.datetime
    commit: bool
    due: list[Due] = field(default_factory=list)  # anonymised, or would be (dry run)
    failed: list[tuple[Due, str]] = field(default_factory=list)


def has_personal_data_q() -> Q:
    return Q(reporter__isnull=False) | ~Q(contact_name="") | ~Q(contact_phone="") | ~Q(contact_email="")


def closed_moment():
    """Subquery: when the report last changed state (see the module docstring)."""
    return Subquery(
        ReportEvent.objects.filter(report=OuterRef("pk"))
        .exclude(from_state=F("to_state"))
        .order_by("-created_at", "-id")
        .values("created_at")[:1]
    )


def due_reports(now=None, days=None):
    """Closed reports that still hold personal data and closed at least ``days`` ago."""
    now = now or timezone.now()
    days = settings.REPORTER_RETENTION_DAYS if days is None else days
    cutoff = now - dt.timedelta(days=days)
    return (
        Report.objects.filter(policy.CLOSED.q())
        .filter(has_personal_data_q())
        .annotate(closed_moment=closed_moment())
        .filter(closed_moment__lte=cutoff)
        .order_by("closed_moment", "id")
    ), cutoff


def anonymise_one(report, closed_at, days):
    """Clear one report's reporter data, in one transaction."""
    with transaction.atomic():
        # The contact given with the report and the account's: either may have been used.
        addresses = {report.contact_phone, report.contact_email}
        if report.reporter_id:
            addresses |= {report.reporter.phone or "", report.reporter.email or ""}
        addresses = [a for a in addresses if a]
        reporter_id = report.reporter_id
        workflow.transition(report, "anonymise", None, {"closed_at": closed_at, "retention_days": days}, role="system")
        if reporter_id:
            Rating.objects.filter(report=report, user_id=reporter_id).update(user=None)
            Comment.objects.filter(report=report, author_id=reporter_id).update(author=None)
            Media.objects.filter(report=report, uploaded_by_id=reporter_id).update(uploaded_by=None)
            Subscription.objects.filter(report=report, user_id=reporter_id).delete()
        if addresses:
            mine = Notification.objects.filter(report=report, to__in=addresses)
            mine.filter(sent_at__isnull=True).delete()
            mine.update(to="")


def run(now=None, days=None, commit=False) -> RetentionResult:
    """Anonymise (``commit``) or list (dry run) the reports whose reporter data is due."""
    days = settings.REPORTER_RETENTION_DAYS if days is None else int(days)
    qs, cutoff = due_reports(now, days)
    result = RetentionResult(days=days, cutoff=cutoff, commit=commit)
    for report in qs.select_related("reporter"):
        item = Due(report_id=report.pk, code=report.code, state=report.state, closed_at=report.closed_moment)
        if commit:
            try:
                anonymise_one(report, report.closed_moment, days)
            except workflow.WorkflowError as exc:  # changed meanwhile (reopened, already done)
                result.failed.append((item, exc.message))
                continue
        result.due.append(item)
    return result
