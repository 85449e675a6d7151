"""The ONE state machine of a report.

``TRANSITIONS`` maps (state, action) → (new state, roles allowed). Roles are checked
with the actor's jurisdiction (``access.acting_roles``): an operator acts on their
province's reports, an officer on their authority's, the reporter on their own; "admin"
may do what operators and officers do. Leaders act on nothing.

Design choices:

* An officer who thinks the report belongs to another unit **returns it to the desk**
  ("return", with a reason and optionally the suggested authority); only the desk
  **transfers** a forwarded report to another authority. One place decides routing.
* A rating of 1 or 2 is recorded ("rate": published → rated) and the system then
  reopens the report for the desk's review ("reopen": rated → reopened, actor none);
  the desk forwards it again or closes it.
* Extensions: the officer asks (request_extension: reason + new date), the desk grants
  (resolve_due becomes the requested date) or refuses; the state does not change.
* change_category / move_pin (desk) re-locate and re-route: areas, authority, rule and
  explanation are recomputed and written in the event.

Structure: ``TRANSITIONS`` (the table) and ``ACTIONS`` (action → validator, handler).
A validator turns the request's data into clean, typed ``Values`` (an Authority, a
Report to merge into, a datetime, checked photos…) before anything is locked; a
handler applies them to the locked report and fills the event (``Step``); it never
reads request data.

Every call parses the data, then locks the row (SELECT … FOR UPDATE), checks
``expected_version`` against ``row_version`` (a stale one is a ``Conflict``), the state
and the role, raises the data's ValidationError if any, applies, bumps ``row_version``,
writes one append-only ``ReportEvent`` and queues notifications, all in one transaction.
"""

import datetime as dt
import json
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from boundaries.models import Authority
from reports import live, media, notify, policy, sla
from reports.locating import apply_location, parse_point, relocate
from reports.models import Category, Comment, Media, Rating, Report, ReportEvent
from reports.policy import access

OPS = frozenset({"operator", "admin"})
OFFICER = frozenset({"officer", "admin"})
REPORTER = frozenset({"reporter"})
SYSTEM = frozenset({"system"})

S = Report.State

TRANSITIONS = {
    (S.RECEIVED, "forward"): (S.FORWARDED, OPS),
    (S.RECEIVED, "reject"): (S.REJECTED, OPS),
    (S.RECEIVED, "merge"): (S.MERGED, OPS),
    (S.RECEIVED, "change_category"): (S.RECEIVED, OPS),
    (S.RECEIVED, "move_pin"): (S.RECEIVED, OPS),
    (S.FORWARDED, "accept"): (S.ACCEPTED, OFFICER),
    (S.FORWARDED, "return"): (S.RECEIVED, OFFICER),
    (S.FORWARDED, "transfer"): (S.FORWARDED, OPS),
    (S.FORWARDED, "change_category"): (S.FORWARDED, OPS),
    (S.FORWARDED, "move_pin"): (S.FORWARDED, OPS),
    (S.ACCEPTED, "start"): (S.IN_PROGRESS, OFFICER),
    (S.ACCEPTED, "return"): (S.RECEIVED, OFFICER),
    (S.ACCEPTED, "request_extension"): (S.ACCEPTED, OFFICER),
    (S.ACCEPTED, "grant_extension"): (S.ACCEPTED, OPS),
    (S.ACCEPTED, "refuse_extension"): (S.ACCEPTED, OPS),
    (S.IN_PROGRESS, "resolve"): (S.RESOLVED, OFFICER),
    (S.IN_PROGRESS, "request_extension"): (S.IN_PROGRESS, OFFICER),
    (S.IN_PROGRESS, "grant_extension"): (S.IN_PROGRESS, OPS),
    (S.IN_PROGRESS, "refuse_extension"): (S.IN_PROGRESS, OPS),
    (S.RESOLVED, "publish"): (S.PUBLISHED, OPS),
    (S.RESOLVED, "rework"): (S.IN_PROGRESS, OPS),
    (S.PUBLISHED, "rate"): (S.RATED, REPORTER),
    (S.RATED, "reopen"): (S.REOPENED, SYSTEM),
    (S.REOPENED, "forward"): (S.FORWARDED, OPS),
    (S.REOPENED, "close"): (S.CLOSED, OPS),
    (S.REOPENED, "change_category"): (S.REOPENED, OPS),
    (S.REOPENED, "move_pin"): (S.REOPENED, OPS),
}
# The system's own steps that leave the state as it is: re-routing an open report at a
# boundary reform (reports/cutover.py) and anonymising the reporter some time after a
# report closed (reports/retention.py).
TRANSITIONS.update({(state, "cutover"): (state, SYSTEM) for state in policy.OPEN})
TRANSITIONS.update({(state, "anonymise"): (state, SYSTEM) for state in policy.CLOSED})
# The desk's review of what the public sees of a report's media, in every state (a face
# found late is blurred on a closed report too): "edit_blur" adds or removes blurred
# regions of a photo and renders its public copy again; "review_video" lets a video
# (never blurred) be shown beyond the staff. Neither changes the state.
MEDIA_ACTIONS = ("edit_blur", "review_video")
for _action in MEDIA_ACTIONS:
    TRANSITIONS.update({(state, _action): (state, OPS) for state in policy.ALL})

ACTION_LABELS = {
    "receive": gettext_lazy("Tiếp nhận"),
    "forward": gettext_lazy("Chuyển xử lý"),
    "reject": gettext_lazy("Từ chối"),
    "merge": gettext_lazy("Gộp vào phản ánh khác"),
    "change_category": gettext_lazy("Đổi lĩnh vực"),
    "move_pin": gettext_lazy("Sửa vị trí"),
    "accept": gettext_lazy("Nhận xử lý"),
    "return": gettext_lazy("Trả lại Tổ vận hành"),
    "transfer": gettext_lazy("Chuyển đơn vị khác"),
    "start": gettext_lazy("Bắt đầu xử lý"),
    "request_extension": gettext_lazy("Xin gia hạn"),
    "grant_extension": gettext_lazy("Đồng ý gia hạn"),
    "refuse_extension": gettext_lazy("Không đồng ý gia hạn"),
    "resolve": gettext_lazy("Báo cáo kết quả"),
    "publish": gettext_lazy("Công khai kết quả"),
    "rework": gettext_lazy("Yêu cầu xử lý lại"),
    "rate": gettext_lazy("Đánh giá"),
    "reopen": gettext_lazy("Mở lại để xem xét"),
    "close": gettext_lazy("Đóng"),
    "cutover": gettext_lazy("Chuyển theo địa giới hành chính mới"),
    "anonymise": gettext_lazy("Ẩn danh thông tin người phản ánh"),
    "edit_blur": gettext_lazy("Sửa vùng làm mờ ảnh"),
    "review_video": gettext_lazy("Duyệt video để công khai"),
}

# Events the public timeline does not show (internal coordination).
INTERNAL_ACTIONS = {"return", "request_extension", "refuse_extension", "rework", "anonymise", "edit_blur",
                    "review_video"}


class WorkflowError(Exception):
    def __init__(self, message, code=None):
        super().__init__(str(message))
        self.message = str(message)
        self.code = code


class Forbidden(WorkflowError, PermissionDenied):
    """The actor's role or jurisdiction does not allow this action (HTTP 403)."""


class Conflict(WorkflowError):
    """Someone changed the report since the actor saw it (HTTP 409)."""


class InvalidTransition(WorkflowError):
    """The action is not possible in the report's state (HTTP 400)."""


def _actor_authority(actor, report, role):
    if role == "officer":
        for r in access.staff_roles(actor):
            if r.role == "officer" and r.authority_id == report.authority_id:
                return r.authority
    return None


def _choose_role(roles_allowed, roles_held):
    for role in ("officer", "operator", "reporter", "admin", "system"):
        if role in roles_allowed and role in roles_held:
            return role
    return None


def allowed_actions(report, user) -> list[str]:
    """The actions this user may take on this report now (for the UI's buttons)."""
    held = access.acting_roles(user, report)
    actions = []
    for (state, action), (_to, roles) in TRANSITIONS.items():
        if state == report.state and roles & held and "system" not in roles:
            if action in ("grant_extension", "refuse_extension") and not report.extension_requested_until:
                continue
            if action == "rate" and Rating.objects.filter(report=report).exists():
                continue
            # Nothing to blur or to review: no button (the API's allowed_actions too).
            if action == "edit_blur" and not report.media.filter(kind=Media.Kind.PHOTO).exists():
                continue
            if action == "review_video" and not report.media.filter(kind=Media.Kind.VIDEO, reviewed=False).exists():
                continue
            actions.append(action)
    return actions


def _field_error(field, message):
    return ValidationError({field: [message]})


def not_text_error(value):
    """The field's message when a JSON true/false stands where text belongs (str() would
    store "True"), else None. Intake, the workflow's text fields and comments ask it."""
    return _("Phải là chữ, không phải true/false.") if isinstance(value, bool) else None


# --- 1. the request's data → clean, typed values (before the row is locked) -----------


@dataclass(frozen=True)
class Values:
    """What an action needs, parsed and checked. Each validator fills its own fields."""

    authority: Authority | None = None  # forward (optional), transfer
    reason: str = ""  # return, request_extension, rework (required); others optional
    reason_code: str = ""  # reject
    suggested_authority: str = ""  # return
    target: Report | None = None  # merge
    category: Category | None = None  # change_category
    point: Point | None = None  # move_pin
    until: dt.datetime | None = None  # request_extension
    text: str = ""  # resolve
    photos: tuple = ()  # resolve: checked, re-encoded uploads
    level: int | None = None  # rate
    # The system's steps pass objects its services computed, not request data:
    from_version: object = None  # cutover: the BoundaryVersion the report must still be in
    located: object = None  # cutover: LocateResult in the new version
    routed: object = None  # cutover: RouteResult there
    closed_at: dt.datetime | None = None  # anonymise: when the report closed
    retention_days: int | None = None  # anonymise
    media: object = None  # edit_blur, review_video: the Media row
    regions: tuple = ()  # edit_blur: every region to blur from now on (reports.blur)


def _text(data, *keys):
    for key in keys:
        value = data.get(key)
        if message := not_text_error(value):
            raise _field_error(key, message)
        if value:
            return str(value).strip()
    return ""


def _required_text(data, field, message, *, max_len=None, too_long=None, keys=()):
    text = _text(data, field, *keys)
    if not text:
        raise _field_error(field, message)
    if max_len and len(text) > max_len:
        raise _field_error(field, too_long)
    return text


def _parse_when(value, field):
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time(17, 0))
    else:
        text = str(value or "").strip()
        try:  # well-formed but impossible ("2026-02-30", an offset of 25 h) is a ValueError
            # A bare day means the end of that working day (17:00), as a date does;
            # parse_datetime would read it as midnight.
            day = parse_date(text)
            moment = dt.datetime.combine(day, dt.time(17, 0)) if day else parse_datetime(text)
        except ValueError:
            moment = None
    if moment is None:
        raise _field_error(field, _("Ngày không hợp lệ (dạng YYYY-MM-DD)."))
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=sla.LOCAL_TZ)
    try:  # a time in UTC past year 9999 (9999-12-31T23:59-12:00) cannot be stored
        moment.astimezone(dt.UTC)
    except OverflowError:
        raise _field_error(field, _("Ngày không hợp lệ (dạng YYYY-MM-DD).")) from None
    return moment


def _authority_by_code(code, field="authority"):
    code = str(code or "").strip()
    if not code:
        raise _field_error(field, _("Hãy chọn cơ quan xử lý."))
    authority = Authority.objects.filter(code=code, active=True).first()
    if authority is None:
        raise _field_error(field, _("Không có cơ quan với mã %(code)s.") % {"code": code})
    return authority


def _v_none(data, photos):
    return Values()


def _v_optional_reason(data, photos):
    return Values(reason=_text(data, "reason"))


def _v_forward(data, photos):
    return Values(authority=_authority_by_code(data["authority"]) if data.get("authority") else None)


def _v_transfer(data, photos):
    return Values(authority=_authority_by_code(data.get("authority")))


def _v_reject(data, photos):
    code = str(data.get("reason_code") or "")
    if code not in Report.RejectReason.values:
        raise _field_error("reason_code", _("Hãy chọn lý do từ chối."))
    return Values(reason_code=code)


def _v_merge(data, photos):
    code = _text(data, "into", "target")
    target = Report.objects.filter(code=code).first() if code else None
    if target is None:
        raise _field_error("into", _("Không tìm thấy phản ánh %(code)s để gộp vào.") % {"code": code})
    return Values(target=target)


def _v_change_category(data, photos):
    category = Category.objects.filter(code=_text(data, "category"), active=True).first()
    if category is None:
        raise _field_error("category", _("Lĩnh vực không hợp lệ."))
    return Values(category=category)


def _v_move_pin(data, photos):
    return Values(point=parse_point(data))


def _v_return(data, photos):
    reason = _required_text(data, "reason", _("Hãy nêu lý do trả lại (ví dụ: không đúng đơn vị)."))
    return Values(reason=reason, suggested_authority=_text(data, "suggested_authority")[:80])


def _v_request_extension(data, photos):
    reason = _required_text(data, "reason", _("Hãy nêu lý do xin gia hạn."))
    return Values(reason=reason, until=_parse_when(data.get("until"), "until"))


def _v_resolve(data, photos):
    text = _required_text(data, "result_text", _("Hãy mô tả kết quả xử lý."), keys=("text",), max_len=5000,
                          too_long=_("Kết quả xử lý dài quá 5000 ký tự."))
    checked = media.check_uploads(photos, [], max_photos=media.max_photos()) if photos else []
    return Values(text=text, photos=tuple(checked))


def _v_rework(data, photos):
    return Values(reason=_required_text(data, "reason", _("Hãy nêu yêu cầu xử lý lại.")))


def _v_rate(data, photos):
    try:
        level = int(data.get("level"))
    except (TypeError, ValueError):
        level = 0
    if level not in Rating.Level.values:
        raise _field_error("level", _("Hãy chọn mức đánh giá từ 1 đến 5."))
    reason = _text(data, "reason")
    if len(reason) > 1000:
        raise _field_error("reason", _("Lý do dài quá 1000 ký tự."))
    return Values(level=level, reason=reason)


def _v_cutover(data, photos):
    """reports/cutover.py's values: the old version, the new location and routing."""
    if any(data.get(k) is None for k in ("from_version", "located", "routed")):
        raise _field_error("from_version", _("Chỉ lệnh chuyển đổi địa giới (cutover) thực hiện được thao tác này."))
    return Values(from_version=data["from_version"], located=data["located"], routed=data["routed"],
                  reason=_text(data, "reason"))


def _v_anonymise(data, photos):
    """reports/retention.py's values: when the report closed and the retention period."""
    return Values(closed_at=data.get("closed_at"), retention_days=data.get("retention_days"))


def _media_of(data, kind):
    try:
        pk = int(str(data.get("media") or "").strip())
    except ValueError:
        pk = None
    m = Media.objects.filter(pk=pk, kind=kind).first() if pk and pk < 2**63 else None
    if m is None:
        raise _field_error("media", _("Không tìm thấy ảnh hoặc video này.") if kind == "photo"
                           else _("Không tìm thấy video này."))
    return m


MAX_BLUR_REGIONS = 100


def _v_edit_blur(data, photos):
    """``media`` (a photo's id) and ``regions``: a JSON list of {x, y, w, h} relative to
    the photo (0..1), each with an optional ``kind`` — the whole list to blur from now on."""
    from reports import blur

    m = _media_of(data, "photo")
    raw = data.get("regions")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw or "[]")
        except ValueError:
            raw = None
    bad = _field_error("regions", _("Danh sách vùng làm mờ không hợp lệ: mỗi vùng cần x, y, rộng, cao từ 0 đến 1."))
    if not isinstance(raw, list):
        raise bad
    if len(raw) > MAX_BLUR_REGIONS:
        raise _field_error("regions", _("Tối đa %(n)d vùng làm mờ trên một ảnh.") % {"n": MAX_BLUR_REGIONS})
    regions = []
    for item in raw:
        if not isinstance(item, dict):
            raise bad
        try:
            x, y, w, h = (float(item[k]) for k in ("x", "y", "w", "h"))
        except (KeyError, TypeError, ValueError):
            raise bad from None
        if not all(0 <= v <= 1 for v in (x, y, w, h)) or w < 0.001 or h < 0.001 or x + w > 1.0001 \
                or y + h > 1.0001:
            raise bad
        kind = item.get("kind") if item.get("kind") in blur.KINDS else "manual"
        regions.append(blur.region(x, y, w, h, kind, "desk"))
    return Values(media=m, regions=tuple(regions))


def _v_review_video(data, photos):
    return Values(media=_media_of(data, "video"))


# --- 2. one handler per action: the effects on the locked report ----------------------
#
# A handler gets the locked report, the clean Values and the Step (actor, now, and the
# event being written); it checks what depends on the report's current row and sets
# fields. It never reads request data.


@dataclass
class Step:
    actor: object
    now: dt.datetime
    authority: Authority | None = None  # the event's authority
    reason_code: str = ""
    reason: str = ""
    data: dict = field(default_factory=dict)


def _h_forward(report, v, step):
    if v.authority is not None:
        access.check_assignable(step.actor, report, v.authority)
        report.authority = v.authority
    if report.authority_id is None:
        raise _field_error("authority", _("Phản ánh chưa có cơ quan xử lý: hãy chọn cơ quan trước khi chuyển."))
    report.forwarded_at = step.now
    report.resolve_due = sla.resolve_due(report.category, step.now, report.jurisdiction)
    report.extension_requested_until = None
    step.authority = report.authority
    step.data = {"authority": report.authority.code, "resolve_due": report.resolve_due.isoformat()}


def _h_reject(report, v, step):
    report.reject_reason = v.reason_code
    report.closed_at = step.now
    step.reason_code = v.reason_code


def _h_merge(report, v, step):
    if v.target.pk == report.pk or v.target.state in policy.DISMISSED:
        raise _field_error("into", _("Không thể gộp vào phản ánh này."))
    access.check_mergeable(step.actor, report, v.target)
    report.merged_into = v.target
    report.closed_at = step.now
    if report.reporter_id:
        notify.follow(v.target, report.reporter_id)
    step.data = {"into": v.target.code}


def _h_change_category(report, v, step):
    step.data = relocate(report, category=v.category)
    step.data["category"] = report.category.code


def _h_move_pin(report, v, step):
    step.data = relocate(report, point=v.point)
    step.data["category"] = report.category.code
    step.data["lon"], step.data["lat"] = v.point.x, v.point.y


def _h_accept(report, v, step):
    report.accepted_at = step.now


def _h_return(report, v, step):
    step.reason = v.reason
    if v.suggested_authority:
        step.data = {"suggested_authority": v.suggested_authority}
    step.authority = report.authority
    report.forwarded_at = None
    report.accepted_at = None
    report.resolve_due = None
    report.forward_due = sla.forward_due(report.category, step.now, report.jurisdiction)


def _h_transfer(report, v, step):
    access.check_assignable(step.actor, report, v.authority)
    if v.authority.pk == report.authority_id:
        raise _field_error("authority", _("Phản ánh đã ở đơn vị này."))
    step.data = {"from": report.authority.code if report.authority_id else "", "to": v.authority.code}
    report.authority = v.authority
    report.forwarded_at = step.now
    report.resolve_due = sla.resolve_due(report.category, step.now, report.jurisdiction)
    step.authority = v.authority


def _h_request_extension(report, v, step):
    if report.resolve_due and v.until <= report.resolve_due:
        raise _field_error("until", _("Ngày gia hạn phải sau hạn xử lý hiện tại."))
    # At most a set number of working days past the current deadline (or today).
    limit_days = settings.MAX_EXTENSION_WORKING_DAYS
    latest = sla.add_working_days(max(report.resolve_due or step.now, step.now), limit_days, report.jurisdiction)
    if v.until > latest:
        raise _field_error("until", _("Chỉ được gia hạn tối đa %(n)d ngày làm việc (đến %(day)s).") % {
            "n": limit_days, "day": latest.astimezone(sla.LOCAL_TZ).strftime("%d/%m/%Y %H:%M")})
    report.extension_requested_until = v.until
    report.extension_reason = v.reason
    step.reason = v.reason
    step.data = {"until": v.until.isoformat()}


def _pending_extension(report, step, reason):
    if not report.extension_requested_until:
        raise InvalidTransition(_("Không có yêu cầu gia hạn nào đang chờ."), code="no_extension")
    step.data = {"until": report.extension_requested_until.isoformat()}
    step.reason = reason


def _h_grant_extension(report, v, step):
    _pending_extension(report, step, v.reason)
    step.data["previous_due"] = report.resolve_due.isoformat() if report.resolve_due else None
    report.resolve_due = report.extension_requested_until
    report.extension_requested_until = None


def _h_refuse_extension(report, v, step):
    _pending_extension(report, step, v.reason)
    report.extension_requested_until = None


def _h_resolve(report, v, step):
    if not v.photos and not report.media.filter(stage="result").exists():
        raise _field_error("photos", _("Hãy gửi kèm ít nhất một ảnh kết quả."))
    if v.photos:
        media.store(report, list(v.photos), step.actor, stage="result")
    report.result_text = v.text
    report.resolved_at = step.now
    report.extension_requested_until = None


def _h_publish(report, v, step):
    report.published_at = step.now


def _h_rework(report, v, step):
    step.reason = v.reason
    report.resolved_at = None


def _h_rate(report, v, step):
    if Rating.objects.filter(report=report).exists():
        raise InvalidTransition(_("Phản ánh này đã được đánh giá."), code="already_rated")
    Rating.objects.create(report=report, user=step.actor, level=v.level, reason=v.reason)
    report.rating_level = v.level
    step.data = {"level": v.level}
    step.reason = v.reason


def _h_reopen(report, v, step):
    report.forward_due = sla.forward_due(report.category, step.now, report.jurisdiction)
    report.closed_at = None
    step.reason = v.reason


def _h_close(report, v, step):
    report.closed_at = step.now
    step.reason = v.reason


def _unit(report):
    """Where a report is routed, for the cut-over event."""
    return {
        "version": report.boundary_version.code if report.boundary_version_id else "",
        "commune": report.commune.code if report.commune_id else "",
        "commune_name": report.commune.name if report.commune_id else "",
        "authority": report.authority.code if report.authority_id else "",
        "authority_name": report.authority.name if report.authority_id else "",
    }


def _h_cutover(report, v, step):
    """Re-route an open report in the new boundary version; state and deadlines stay."""
    if report.boundary_version_id != v.from_version.id:
        raise InvalidTransition(
            _("Phản ánh %(code)s không còn thuộc phiên bản địa giới %(version)s.")
            % {"code": report.code, "version": v.from_version.code},
            code="already_moved",
        )
    before = _unit(report)
    apply_location(report, v.located, v.routed)
    after = _unit(report)
    step.authority = report.authority
    step.reason = v.reason
    step.data = {
        "from": before,
        "to": after,
        "from_version": before["version"],
        "to_version": after["version"],
        "snapped_m": report.snapped_m,
        "explanation": report.routing_explanation,
    }


def _h_anonymise(report, v, step):
    """Clear the reporter's personal data on a closed report (reports/retention.py
    decided it is due). The account itself is kept; the report no longer points to it."""
    cleared = [f for f in ("contact_name", "contact_phone", "contact_email") if getattr(report, f)]
    if report.reporter_id:
        cleared.append("reporter")
    if not cleared:
        raise InvalidTransition(_("Phản ánh %(code)s không còn dữ liệu cá nhân.") % {"code": report.code},
                                code="nothing")
    report.contact_name = report.contact_phone = report.contact_email = ""
    report.reporter = None
    step.data = {
        "cleared": cleared,
        "closed_at": v.closed_at.isoformat() if v.closed_at else None,
        "retention_days": v.retention_days,
    }


def _region_key(r):
    return tuple(round(float(r[k]), 3) for k in ("x", "y", "w", "h"))


def _h_edit_blur(report, v, step):
    """Blur exactly ``v.regions`` on the photo's public copy and thumbnail (rendered
    again from the original); the event names the regions added and removed."""
    m = v.media
    if m.report_id != report.pk:
        raise _field_error("media", _("Ảnh này không thuộc phản ánh %(code)s.") % {"code": report.code})
    if not m.original:
        raise _field_error("media", _("Ảnh này không còn bản gốc để làm mờ lại."))
    before = {_region_key(r): r for r in m.blur_regions or []}
    regions = []
    for r in v.regions:
        # a region the desk kept as it was keeps its detector, kind and score
        regions.append(before.get(_region_key(r), r))
    after = {_region_key(r) for r in regions}
    added = [r for r in regions if _region_key(r) not in before]
    removed = [r for k, r in before.items() if k not in after]
    old_files = media.rerender(m, regions)
    m.reviewed = True
    m.save(update_fields=["file", "thumbnail", "size", "blur_regions", "reviewed"])
    transaction.on_commit(lambda: _delete_stored(old_files))
    step.data = {"media": m.pk, "added": added, "removed": removed, "regions": len(regions)}


def _delete_stored(names):
    from django.core.files.storage import default_storage

    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            pass


def _h_review_video(report, v, step):
    m = v.media
    if m.report_id != report.pk:
        raise _field_error("media", _("Video này không thuộc phản ánh %(code)s.") % {"code": report.code})
    if m.reviewed:
        raise InvalidTransition(_("Video này đã được duyệt."), code="already_reviewed")
    m.reviewed = True
    m.save(update_fields=["reviewed"])
    step.data = {"media": m.pk}


# action → (validator of the request's data, handler of the locked report)
ACTIONS = {
    "forward": (_v_forward, _h_forward),
    "reject": (_v_reject, _h_reject),
    "merge": (_v_merge, _h_merge),
    "change_category": (_v_change_category, _h_change_category),
    "move_pin": (_v_move_pin, _h_move_pin),
    "accept": (_v_none, _h_accept),
    "return": (_v_return, _h_return),
    "transfer": (_v_transfer, _h_transfer),
    "start": (_v_none, lambda report, v, step: None),
    "request_extension": (_v_request_extension, _h_request_extension),
    "grant_extension": (_v_optional_reason, _h_grant_extension),
    "refuse_extension": (_v_optional_reason, _h_refuse_extension),
    "resolve": (_v_resolve, _h_resolve),
    "publish": (_v_none, _h_publish),
    "rework": (_v_rework, _h_rework),
    "rate": (_v_rate, _h_rate),
    "reopen": (_v_optional_reason, _h_reopen),
    "close": (_v_optional_reason, _h_close),
    "cutover": (_v_cutover, _h_cutover),
    "anonymise": (_v_anonymise, _h_anonymise),
    "edit_blur": (_v_edit_blur, _h_edit_blur),
    "review_video": (_v_review_video, _h_review_video),
}


def _check_version(report, expected_version):
    if expected_version is None or expected_version == "":
        return
    try:
        expected = int(expected_version)
    except (TypeError, ValueError):
        raise _field_error("row_version", _("Phiên bản không hợp lệ.")) from None
    if expected != report.row_version:
        raise Conflict(
            _(
                "Phản ánh %(code)s vừa được người khác cập nhật (trạng thái hiện tại: %(state)s). "
                "Hãy tải lại trang để xem thay đổi trước khi thao tác tiếp."
            )
            % {"code": report.code, "state": report.get_state_display()},
            code="stale",
        )


def _split_data(data):
    """(single values as a dict, uploaded photos as a list) from a QueryDict or a dict."""
    if hasattr(data, "getlist"):  # a QueryDict / MultiValueDict
        photos = data.getlist("photos")
        data = data.dict()
        data.pop("photos", None)
    else:
        data = dict(data or {})
        photos = data.pop("photos", None) or []
    if not isinstance(photos, list | tuple):
        photos = [photos]
    return data, [p for p in photos if p]


def _validate(action, data):
    """(Values, None) or (None, the ValidationError): parsed before the row is locked; the
    error is raised after the state and role checks so that those answer first."""
    entry = ACTIONS.get(action)
    if entry is None:
        return Values(), None
    raw, photos = _split_data(data)
    try:
        return entry[0](raw, photos), None
    except ValidationError as exc:
        return None, exc


def _check_allowed(report, action, actor, role):
    """(new state, acting role) or InvalidTransition / Forbidden."""
    entry = TRANSITIONS.get((report.state, action))
    if entry is None:
        if action not in ACTIONS:
            raise InvalidTransition(_("Thao tác không tồn tại: %(action)s.") % {"action": action}, code="unknown")
        raise InvalidTransition(
            _("Không thể “%(action)s” khi phản ánh đang ở trạng thái “%(state)s”.")
            % {"action": ACTION_LABELS.get(action, action), "state": report.get_state_display()},
            code="state",
        )
    to_state, roles_allowed = entry
    held = {"system"} if role == "system" else access.acting_roles(actor, report)
    acting = _choose_role(roles_allowed, held)
    if acting is None:
        if action == "rate":
            msg = _("Chỉ người gửi phản ánh mới được đánh giá kết quả.")
        elif access.roles_of(actor) & {"officer", "operator"}:
            msg = _("Phản ánh này không thuộc đơn vị hoặc địa bàn của bạn.")
        else:
            msg = _("Bạn không có quyền thực hiện thao tác này.")
        raise Forbidden(msg, code="forbidden")
    return to_state, acting


def transition(report, action, actor, data=None, expected_version=None, *, role=None):
    """Apply ``action`` to ``report`` as ``actor``. Returns the updated report.

    The request's ``data`` is parsed into clean Values once, before the row is locked
    (uploads are checked and re-encoded then: a slow photo never holds the report);
    then the row is locked and checked (version, state, role), and the action's handler
    applies the Values.

    Raises Conflict (stale expected_version), InvalidTransition (not allowed in this
    state), Forbidden (role or jurisdiction), ValidationError (bad data), in that order."""
    values, invalid = _validate(action, data)
    pk = report.pk if isinstance(report, Report) else report
    with transaction.atomic():
        report = Report.objects.select_for_update(of=("self",)).select_related("category__parent").get(pk=pk)
        _check_version(report, expected_version)
        to_state, acting = _check_allowed(report, action, actor, role)
        if invalid is not None:
            raise invalid
        now = timezone.now()
        from_state = report.state
        step = Step(actor=actor, now=now, authority=_actor_authority(actor, report, acting))
        ACTIONS[action][1](report, values, step)
        report.state = to_state
        report.row_version += 1
        report.save()
        ev = record_event(report, action, from_state, to_state, actor if role != "system" else None, acting,
                          now=now, authority=step.authority, reason_code=step.reason_code, reason=step.reason,
                          data=step.data)
        if action == "rate" and report.rating_level is not None and report.rating_level <= 2:
            # A low rating reopens the report for the desk's review.
            reason = _("Người dân không hài lòng với kết quả (mức %(level)s).") % {"level": report.rating_level}
            return transition(report, "reopen", None, {"reason": reason}, role="system")
    report._last_event = ev
    return report


def record_event(report, action, from_state, to_state, actor, role, *, now=None, authority=None, reason_code="",
                 reason="", data=None, is_public=None):
    """Write the append-only event and queue the notifications it causes."""
    ev = ReportEvent.objects.create(
        report=report,
        action=action,
        from_state=from_state or "",
        to_state=to_state,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_role=role or "",
        authority=authority,
        reason_code=reason_code or "",
        reason=reason or "",
        data=data or {},
        is_public=(action not in INTERNAL_ACTIONS) if is_public is None else is_public,
        created_at=now or timezone.now(),
    )
    notify.on_event(report, ev)
    live.publish(report, action)
    return ev


def _received_values(report, actor):
    role = access.role_of(actor) if actor is not None else "public"
    return {
        "role": "reporter" if role in ("citizen", "public") else role,
        "data": {
            "commune": report.commune.code if report.commune_id else "",
            "authority": report.authority.code if report.authority_id else "",
        },
    }


_INSERT_SQL = {}


def _insert_sql():
    """INSERT … report … ON CONFLICT (idempotency_scope, idempotency_key) DO NOTHING, and its "receive"
    event, in ONE statement; the public code is numbered by the sequence inside it.
    Built once per process from the model's fields."""
    if "sql" not in _INSERT_SQL:
        qn = connection.ops.quote_name
        fields = [f for f in Report._meta.concrete_fields if not f.primary_key]
        placeholders = []
        for f in fields:
            if f.name == "code":
                placeholders.append("'PA-' || %s || '-' || lpad(nextval('reports_report_code_seq')::text, 6, '0')")
            elif f.name == "location":
                placeholders.append("ST_GeomFromEWKB(%s)")
            else:
                placeholders.append("%s")
        ev_cols = ["report_id", "action", "from_state", "to_state", "actor_id", "actor_role", "authority_id",
                   "reason_code", "reason", "data", "is_public", "created_at"]
        _INSERT_SQL["fields"] = fields
        _INSERT_SQL["sql"] = (
            f"WITH r AS (INSERT INTO {qn(Report._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
            f"VALUES ({', '.join(placeholders)}) "
            f"ON CONFLICT ({qn('idempotency_scope')}, {qn('idempotency_key')}) DO NOTHING "
            f"RETURNING id, code, province_code, authority_id), "
            f"e AS (INSERT INTO {qn(ReportEvent._meta.db_table)} ({', '.join(qn(c) for c in ev_cols)}) "
            f"SELECT r.id, 'receive', '', '{S.RECEIVED.value}', %s, %s, NULL, '', '', %s::jsonb, true, %s "
            f"FROM r RETURNING id), "
            # the wall's live streams hear of it on commit (reports.live)
            f"n AS ({live.insert_notify_sql('r')}) "
            f"SELECT r.id, r.code, (SELECT id FROM e), (SELECT count(*) FROM n) FROM r"
        )
    return _INSERT_SQL["sql"], _INSERT_SQL["fields"]


def insert_received(report, actor):
    """Save a new report and its "receive" event in one statement (the intake's hot
    path: one round trip instead of four). Returns the event, or None when a report with
    the same idempotency key exists already in the caller's scope (nothing is written then)."""
    sql, fields = _insert_sql()
    now = timezone.now()
    report.updated_at = now
    year = report.created_at.astimezone(sla.LOCAL_TZ).year
    params = []
    for f in fields:
        if f.name == "code":
            params.append(str(year))
        elif f.name == "location":
            params.append(bytes(report.location.ewkb))
        else:
            params.append(f.get_db_prep_save(getattr(report, f.attname), connection))
    v = _received_values(report, actor)
    actor_id = actor.pk if getattr(actor, "pk", None) else None
    params += [actor_id, v["role"], json.dumps(v["data"]), report.created_at]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
    if row is None:
        return None
    report.pk, report.code = row[0], row[1]
    report._state.adding = False
    report._state.db = "default"
    ev = ReportEvent(
        pk=row[2], report=report, action="receive", from_state="", to_state=S.RECEIVED,
        actor_id=actor_id, actor_role=v["role"], reason_code="", reason="", data=v["data"],
        is_public=True, created_at=report.created_at,
    )
    ev._state.adding = False
    notify.on_event(report, ev)
    return ev


def add_comment(report, user, text, show_name=False):
    """A comment on the public timeline. An official's comment is posted as their
    authority (the officer's unit, or the desk of the province for an operator)."""
    if message := not_text_error(text):
        raise _field_error("text", message)
    text = str(text or "").strip()
    if not text:
        raise _field_error("text", _("Hãy nhập nội dung bình luận."))
    if len(text) > 2000:
        raise _field_error("text", _("Bình luận dài quá 2000 ký tự."))
    if user is None or not getattr(user, "is_authenticated", False):
        raise Forbidden(_("Hãy đăng nhập để bình luận."), code="login")
    if access.role_of(user) == "leader" and not access.acting_roles(user, report) - {"reporter"}:
        raise Forbidden(_("Lãnh đạo chỉ xem, không bình luận."), code="forbidden")
    authority = None
    held = access.acting_roles(user, report)
    if "officer" in held and report.authority_id in access.authority_ids(user):
        authority = report.authority
    elif "operator" in held:
        authority = Authority.objects.filter(kind="desk", province_code=report.province_code).first()
    elif access.is_staff_member(user) and not held:
        raise Forbidden(_("Phản ánh này không thuộc đơn vị hoặc địa bàn của bạn."), code="forbidden")
    with transaction.atomic():  # the comment and what it queues (outbox rows) together
        comment = Comment.objects.create(report=report, author=user, authority=authority, text=text,
                                         show_name=bool(show_name) and authority is None)
        notify.on_comment(report, comment)
    return comment
