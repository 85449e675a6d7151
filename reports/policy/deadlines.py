"""What "overdue" means, defined once.

A report runs against one deadline at a time:

* forward stage (received, reopened): the desk must forward by ``forward_due``;
* resolve stage (forwarded, accepted, in progress): the unit must resolve by
  ``resolve_due`` (moved by a granted extension).

A report is overdue when it is in a stage and that stage's deadline has passed. A
reopened report gets a new forward deadline by the same working-day calendar
(``reports.sla``), so an old resolve deadline never makes it overdue.

The rule is offered as a Python predicate (``overdue_kind``, ``is_overdue``), a
queryset filter (``overdue_q``) and an SQL fragment (``overdue_sql``) built from the
same two (stage, deadline column) pairs.
"""

from django.db.models import Q
from django.utils import timezone

from reports.policy.states import FORWARD_STAGE, RESOLVE_STAGE

# (kind, the states of the stage, the deadline column) — the one definition.
STAGES = (
    ("forward", FORWARD_STAGE, "forward_due"),
    ("resolve", RESOLVE_STAGE, "resolve_due"),
)


def overdue_kind(report, now=None) -> str:
    """"forward", "resolve", or "" when the report is not overdue (or not open)."""
    now = now or timezone.now()
    for kind, stage, column in STAGES:
        due = getattr(report, column)
        if report.state in stage and due is not None and due < now:
            return kind
    return ""


def is_overdue(report, now=None) -> bool:
    return bool(overdue_kind(report, now))


def due_of(report):
    """The deadline the report runs against now (None when it runs against none)."""
    for _kind, stage, column in STAGES:
        if report.state in stage:
            return getattr(report, column)
    return None


def overdue_q(now=None, prefix="") -> Q:
    """Queryset filter: overdue reports (``prefix`` for a related report, e.g. "report__")."""
    now = now or timezone.now()
    q = Q()
    for _kind, stage, column in STAGES:
        q |= stage.q(prefix) & Q(**{f"{prefix}{column}__lt": now})
    return q


def overdue_sql(alias="r", now="now()") -> str:
    """SQL fragment: overdue reports of the table aliased ``alias``; ``now`` is an SQL
    expression (``now()``, or a placeholder such as ``%(now)s`` the caller binds)."""
    return "(" + " OR ".join(overdue_by_stage_sql(alias, now)) + ")"


def overdue_by_stage_sql(alias="r", now="now()") -> list[str]:
    """The parts of ``overdue_sql``, one per stage (disjoint: a report is in one stage).
    A count of each part alone is a range of the stage's partial deadline index
    (heatmaps migration 0008); the OR of them made the planner read every open report
    of the country through the state index (the IOC wall at 10 M reports: 145 ms)."""
    col = (lambda c: f"{alias}.{c}") if alias else (lambda c: c)
    return [f"({stage.sql(alias)} AND {col(column)} < {now})" for _kind, stage, column in STAGES]


def due_sql(alias="r") -> str:
    """SQL expression: the deadline the report runs against now (NULL when none), as
    ``due_of``."""
    col = (lambda c: f"{alias}.{c}") if alias else (lambda c: c)
    whens = " ".join(f"WHEN {stage.sql(alias)} THEN {col(column)}" for _kind, stage, column in STAGES)
    return f"(CASE {whens} END)"


def due_passed_sql(alias="r", since="%(since)s", until="%(until)s") -> str:
    """SQL fragment: reports whose running deadline fell in [since, until) — the ones
    that became overdue in that interval (the roll-up refresh re-counts them): not
    overdue at ``since``, overdue at ``until``, as ``overdue_sql`` says (due < now)."""
    col = (lambda c: f"{alias}.{c}") if alias else (lambda c: c)
    parts = [f"({stage.sql(alias)} AND {col(column)} >= {since} AND {col(column)} < {until})"
             for _kind, stage, column in STAGES]
    return "(" + " OR ".join(parts) + ")"


def overdue_kind_sql(alias="r", now="now()") -> str:
    """SQL expression: 'forward', 'resolve' or NULL, as ``overdue_kind``."""
    col = (lambda c: f"{alias}.{c}") if alias else (lambda c: c)
    whens = " ".join(
        f"WHEN {stage.sql(alias)} AND {col(column)} < {now} THEN '{kind}'" for kind, stage, column in STAGES
    )
    return f"(CASE {whens} END)"
