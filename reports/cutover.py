"""The reform cut-over: open reports routed under an old boundary version move to the new one.

``run(from_version, to_version, at=None, commit=False)`` takes every OPEN report whose
``boundary_version`` is the old version, locates its POINT in the new version (never its
commune's name) on the day ``at`` or the new version's first day, and routes it again by
the rules there: boundaries.succession.reroute (lookup.locate + routing.route). With
``commit`` each move goes through the state machine (``workflow.transition(…,
"cutover", role="system")``): one event per report saying from which commune and
authority to which and why, the state and the deadlines unchanged, the old and the new
unit notified (reports/notify.py). Without ``commit`` nothing is written: the result
says what would move.

Left for the desk (listed, not moved):

* a point that no unit of the new version covers (nor lies within the snap tolerance);
* a point that the new version puts in another province (on the demo data: a 2009
  Quảng Ninh commune's coast that the 2025 layers give to Hải Phòng): the province's
  desk and staff would lose it without anyone deciding;
* a report already with a unit (forwarded, accepted, in progress) for which the new
  rules find no authority: taking it from its unit would leave nobody acting on it. A
  report still with the desk (received, reopened) moves without an authority, as intake
  would leave it; the desk forwards it by hand.

Idempotent: a moved report is on the new version, so a second run does not select it;
a report moved by someone else between the plan and the move is skipped (the handler
checks the version under the row lock).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext as _

from boundaries.models import BoundaryVersion
from boundaries.routing import load_rules
from boundaries.succession import reroute
from reports import policy, workflow
from reports.models import Report


class CutoverError(ValueError):
    """Bad arguments (unknown version, a day the new version is not valid)."""


@dataclass(frozen=True)
class Unit:
    commune: str = ""  # code
    commune_name: str = ""
    authority: str = ""  # code
    authority_name: str = ""

    def label(self):
        commune = f"{self.commune_name} ({self.commune})" if self.commune else "—"
        return f"{commune} · {self.authority_name or _('Tổ vận hành')}"


@dataclass
class Move:
    report_id: int
    code: str
    state: str
    old: Unit
    new: Unit | None = None  # None: left for the desk
    reason: str = ""  # why it is left, or why the move failed
    snapped_m: float | None = None

    @property
    def authority_changed(self) -> bool:
        return self.new is not None and self.new.authority != self.old.authority


@dataclass
class CutoverResult:
    from_version: BoundaryVersion
    to_version: BoundaryVersion
    day: dt.date
    commit: bool
    moved: list[Move] = field(default_factory=list)  # moved, or would move (dry run)
    left: list[Move] = field(default_factory=list)  # no unit in the new version: for the desk
    failed: list[Move] = field(default_factory=list)  # changed meanwhile (commit only)

    @property
    def considered(self) -> int:
        return len(self.moved) + len(self.left) + len(self.failed)

    def summary(self) -> list[tuple[Unit, Unit, int]]:
        """(old unit, new unit, number of reports), most reports first."""
        counts = Counter((m.old, m.new) for m in self.moved)
        return sorted(((o, n, c) for (o, n), c in counts.items()), key=lambda r: (-r[2], r[0].commune, r[1].commune))


def version_of(value) -> BoundaryVersion:
    if isinstance(value, BoundaryVersion):
        return value
    version = BoundaryVersion.objects.filter(code=str(value)).first()
    if version is None:
        raise CutoverError(_("Không có phiên bản địa giới “%(code)s”.") % {"code": value})
    return version


def cutover_day(to_version: BoundaryVersion, at=None) -> dt.date:
    """The day the new version is asked for: ``at`` or the new version's first day."""
    if at is None:
        day = to_version.valid_from or timezone.localdate()
    elif isinstance(at, dt.datetime):
        day = timezone.localdate(at) if timezone.is_aware(at) else at.date()
    else:
        day = at
    if (to_version.valid_from and day < to_version.valid_from) or (to_version.valid_to and day > to_version.valid_to):
        raise CutoverError(
            _("Phiên bản địa giới %(code)s không có hiệu lực vào ngày %(day)s.")
            % {"code": to_version.code, "day": day.strftime("%d/%m/%Y")}
        )
    return day


def open_reports(from_version: BoundaryVersion):
    """The open reports routed under ``from_version``, oldest first."""
    return (
        Report.objects.filter(policy.OPEN.q(), boundary_version=from_version)
        .select_related("commune", "authority", "category__parent")
        .order_by("created_at", "id")
    )


def _unit(commune, authority) -> Unit:
    return Unit(
        commune=commune.code if commune else "",
        commune_name=commune.name if commune else "",
        authority=authority.code if authority else "",
        authority_name=authority.name if authority else "",
    )


def run(from_version, to_version, at=None, commit=False, progress=None) -> CutoverResult:
    """Move (``commit``) or list (dry run) the open reports of ``from_version`` into
    ``to_version``. ``progress`` wraps the list of reports (a tqdm bar)."""
    from_version, to_version = version_of(from_version), version_of(to_version)
    if from_version.pk == to_version.pk:
        raise CutoverError(_("Phiên bản cũ và mới phải khác nhau."))
    day = cutover_day(to_version, at)
    result = CutoverResult(from_version=from_version, to_version=to_version, day=day, commit=commit)
    rules = load_rules()
    reason = _("Sắp xếp đơn vị hành chính: phiên bản địa giới %(old)s → %(new)s, vị trí phản ánh nằm ở %(commune)s.")
    reports = list(open_reports(from_version))
    for report in progress(reports) if progress else reports:
        old = _unit(report.commune, report.authority)
        move = Move(report_id=report.pk, code=report.code, state=report.state, old=old)
        located, routed = reroute(report.location, report.category.codes_for_routing(), to_version, at=day, rules=rules)
        commune = located.commune
        if commune is None:
            move.reason = located.message or _("Vị trí không thuộc đơn vị nào của phiên bản %(code)s.") % {
                "code": to_version.code
            }
            result.left.append(move)
            continue
        move.new = _unit(commune, routed.authority)
        move.snapped_m = located.snapped_m
        province = located.province
        if province is not None and report.province_code and province.code != report.province_code:
            move.reason = _(
                "Theo địa giới mới vị trí thuộc %(commune)s, %(province)s: khác tỉnh đang xử lý (mã %(old)s)."
            ) % {"commune": commune.name, "province": province.name, "old": report.province_code}
            result.left.append(move)
            continue
        if routed.authority is None and report.state in policy.RESOLVE_STAGE:
            move.reason = _(
                "Theo quy tắc mới không có cơ quan xử lý tại %(commune)s; phản ánh vẫn ở %(authority)s."
            ) % {"commune": commune.name, "authority": old.authority_name or "—"}
            result.left.append(move)
            continue
        if commit:
            data = {
                "from_version": from_version,
                "located": located,
                "routed": routed,
                "reason": reason % {"old": from_version.code, "new": to_version.code, "commune": commune.name},
            }
            try:
                workflow.transition(report, "cutover", None, data, role="system")
            except workflow.WorkflowError as exc:
                move.reason = exc.message
                result.failed.append(move)
                continue
        result.moved.append(move)
    return result
