"""The policy: one home for the rules every screen applies.

* ``states`` — the states and their groups (open, closed, public, result-public, the
  two deadline stages), each as predicate, queryset filter and SQL fragment;
* ``deadlines`` — what "overdue" means, in the same three forms;
* ``access`` — who may see and do what (roles, jurisdiction, scoping of querysets and
  SQL), the permission service every view asks.

Callers write ``from reports import policy`` and use ``policy.OPEN.q()``,
``policy.overdue_sql("r")``, ``policy.access.visible_reports(user)``…
"""

from reports.policy import access, deadlines, states  # noqa: F401
from reports.policy.deadlines import (  # noqa: F401
    STAGES,
    due_of,
    due_passed_sql,
    due_sql,
    is_overdue,
    overdue_by_stage_sql,
    overdue_kind,
    overdue_kind_sql,
    overdue_q,
    overdue_sql,
)
from reports.policy.states import (  # noqa: F401
    ALL,
    CLOSED,
    DISMISSED,
    FORWARD_STAGE,
    GROUPS,
    OPEN,
    PUBLIC,
    RESOLVE_STAGE,
    RESULT_PUBLIC,
    UNIT_QUEUE,
    State,
    StateGroup,
    expand,
)
