"""The report's states and their groups, defined once.

Every caller asks a group in the form it needs:

* ``OPEN.contains(report)`` / ``"received" in OPEN`` — a Python predicate;
* ``OPEN.q()`` / ``OPEN.q("report__")`` — a queryset filter;
* ``OPEN.sql("r")`` — an SQL fragment for hand-written SQL (``r.state IN ('received', …)``;
  the values are this module's constants, never user input, so they are inlined);
* ``OPEN.values`` — the tuple of state codes (for ``= ANY(%s)`` parameters and choices).

Nothing else in the project spells a list of states.
"""

from django.db.models import Q

from reports.models import Report

State = Report.State


class StateGroup:
    """A named set of states, offered as predicate, queryset filter and SQL fragment."""

    def __init__(self, name, states):
        self.name = name
        self.values = tuple(State(s).value for s in states)

    def __contains__(self, state):
        return getattr(state, "state", state) in self.values

    def contains(self, report_or_state) -> bool:
        return report_or_state in self

    def __iter__(self):
        return iter(self.values)

    def __len__(self):
        return len(self.values)

    def __add__(self, other):
        return StateGroup(f"{self.name}+{other.name}",
                          self.values + tuple(s for s in other.values if s not in self.values))

    def q(self, prefix="") -> Q:
        return Q(**{f"{prefix}state__in": self.values})

    def sql(self, alias="") -> str:
        column = f"{alias}.state" if alias else "state"
        return f"{column} IN ({', '.join(repr(s) for s in self.values)})"

    def __repr__(self):
        return f"StateGroup({self.name!r}, {self.values!r})"


ALL = StateGroup("all", State.values)

# Someone still has to act: the desk (received, reopened) or the unit (forwarded,
# accepted, in progress).
OPEN = StateGroup("open", [State.RECEIVED, State.FORWARDED, State.ACCEPTED, State.IN_PROGRESS, State.REOPENED])
# Nobody has to act any more (the unit's result may still wait for the desk to publish
# it: "resolved" is not open, the unit's deadline is met).
CLOSED = StateGroup("closed", [s for s in State.values if s not in OPEN.values])

# The two deadline stages: the desk forwards within the forward deadline, the unit
# resolves within the resolve deadline (policy.deadlines).
FORWARD_STAGE = StateGroup("forward_stage", [State.RECEIVED, State.REOPENED])
RESOLVE_STAGE = StateGroup("resolve_stage", [State.FORWARDED, State.ACCEPTED, State.IN_PROGRESS])

# What the public map, list and feeds show: everything the desk has let through. A
# report the desk has not checked yet ("received") is shown to its reporter and staff
# only; rejected and merged reports are never listed.
PUBLIC = StateGroup(
    "public",
    [State.FORWARDED, State.ACCEPTED, State.IN_PROGRESS, State.RESOLVED, State.PUBLISHED, State.RATED,
     State.REOPENED, State.CLOSED],
)
# The result text and photos are public once the desk has published them.
RESULT_PUBLIC = StateGroup("result_public", [State.PUBLISHED, State.RATED, State.REOPENED, State.CLOSED])
# Ended without a result.
DISMISSED = StateGroup("dismissed", [State.REJECTED, State.MERGED])
# What an officer's queue shows unless a state is asked for: the unit's stage, plus its
# results waiting for the desk (resolved) and its reports reopened after a low rating.
UNIT_QUEUE = StateGroup("unit_queue", [*RESOLVE_STAGE.values, State.RESOLVED, State.REOPENED])

GROUPS = {g.name: g for g in (OPEN, CLOSED, FORWARD_STAGE, RESOLVE_STAGE, PUBLIC, RESULT_PUBLIC, DISMISSED)}


def expand(codes):
    """State codes from a filter value that may name groups ("open", "closed")."""
    out = []
    for code in codes:
        out += list(GROUPS[code].values) if code in GROUPS else [code]
    return sorted(set(out))
