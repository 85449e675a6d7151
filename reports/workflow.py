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

Every call locks the row (SELECT … FOR UPDATE), checks ``expected_version`` against
``row_version`` (a stale one is a ``Conflict``), applies, bumps ``row_version``, writes
one append-only ``ReportEvent`` and queues notifications, all in one transaction.
"""

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from boundaries import jurisdictions
from reports import policy, sla
from reports.models import Category, Comment, Rating, Report, ReportEvent
from reports.policy import access

OPS = frozenset({"operator", "admin"})
OFFICER = frozenset({"officer", "admin"})
REPORTER = frozenset({"reporter"})
SYSTEM = frozenset({"system"})

TRANSITIONS = {
    ("received", "forward"): ("forwarded", OPS),
    ("received", "reject"): ("rejected", OPS),
    ("received", "merge"): ("merged", OPS),
    ("received", "change_category"): ("received", OPS),
    ("received", "move_pin"): ("received", OPS),
    ("forwarded", "accept"): ("accepted", OFFICER),
    ("forwarded", "return"): ("received", OFFICER),
    ("forwarded", "transfer"): ("forwarded", OPS),
    ("forwarded", "change_category"): ("forwarded", OPS),
    ("forwarded", "move_pin"): ("forwarded", OPS),
    ("accepted", "start"): ("in_progress", OFFICER),
    ("accepted", "return"): ("received", OFFICER),
    ("accepted", "request_extension"): ("accepted", OFFICER),
    ("accepted", "grant_extension"): ("accepted", OPS),
    ("accepted", "refuse_extension"): ("accepted", OPS),
    ("in_progress", "resolve"): ("resolved", OFFICER),
    ("in_progress", "request_extension"): ("in_progress", OFFICER),
    ("in_progress", "grant_extension"): ("in_progress", OPS),
    ("in_progress", "refuse_extension"): ("in_progress", OPS),
    ("resolved", "publish"): ("published", OPS),
    ("resolved", "rework"): ("in_progress", OPS),
    ("published", "rate"): ("rated", REPORTER),
    ("rated", "reopen"): ("reopened", SYSTEM),
    ("reopened", "forward"): ("forwarded", OPS),
    ("reopened", "close"): ("closed", OPS),
    ("reopened", "change_category"): ("reopened", OPS),
    ("reopened", "move_pin"): ("reopened", OPS),
}
# The system's own steps that leave the state as it is: re-routing an open report at a
# boundary reform (reports/cutover.py) and anonymising the reporter some time after a
# report closed (reports/retention.py).
TRANSITIONS.update({(state, "cutover"): (state, SYSTEM) for state in policy.OPEN})
TRANSITIONS.update({(state, "anonymise"): (state, SYSTEM) for state in policy.CLOSED})

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
}

# Events the public timeline does not show (internal coordination).
INTERNAL_ACTIONS = {"return", "request_extension", "refuse_extension", "rework", "anonymise"}


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
            actions.append(action)
    return actions


def _field_error(field, message):
    return ValidationError({field: [message]})


def _parse_when(value, field):
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time(17, 0))
    else:
        text = str(value or "").strip()
        moment = parse_datetime(text)
        if moment is None:
            day = parse_date(text)
            moment = dt.datetime.combine(day, dt.time(17, 0)) if day else None
    if moment is None:
        raise _field_error(field, _("Ngày không hợp lệ (dạng YYYY-MM-DD)."))
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=sla.LOCAL_TZ)
    return moment


def _authority_by_code(code, field="authority"):
    from boundaries.models import Authority

    code = str(code or "").strip()
    if not code:
        raise _field_error(field, _("Hãy chọn cơ quan xử lý."))
    authority = Authority.objects.filter(code=code, active=True).first()
    if authority is None:
        raise _field_error(field, _("Không có cơ quan với mã %(code)s.") % {"code": code})
    return authority


def reroute(report, point=None, category=None, at=None):
    """Locate and route the report again (pin moved or category changed). Returns a dict
    of what changed, for the event. Raises ValidationError when the pin is outside."""
    from boundaries.lookup import locate
    from reports.intake import route_areas

    point = point or report.location
    category = category or report.category
    located = locate(point, at=at or timezone.now())
    if located.commune is None and located.reason:
        raise _field_error("location", located.message or _("Vị trí nằm ngoài mọi đơn vị hành chính."))
    routed = route_areas(located.areas, category)
    before = {
        "commune": report.commune.code if report.commune_id else "",
        "authority": report.authority.code if report.authority_id else "",
    }
    report.location = point
    report.category = category
    apply_location(report, located, routed)
    after = {
        "commune": report.commune.code if report.commune_id else "",
        "authority": report.authority.code if report.authority_id else "",
    }
    return {"before": before, "after": after, "explanation": report.routing_explanation}


def apply_location(report, located, routed):
    """Copy a LocateResult and RouteResult onto the report (intake and re-routing)."""
    report.commune = located.area_of_type("commune")
    report.district = located.area_of_type("district")
    province = located.area_of_type("province")
    if province is not None:
        report.province_code = province.code
    elif routed.authority is not None and routed.authority.province_code:
        report.province_code = routed.authority.province_code
    report.jurisdiction = jurisdictions.for_province_code(report.province_code)
    report.boundary_version = located.version
    report.snapped_m = located.snapped_m
    report.authority = routed.authority
    report.routing_rule = routed.rule
    report.routing_explanation = routed.explanation or ""


def _unit(report):
    """Where a report is routed, for the cut-over event."""
    return {
        "version": report.boundary_version.code if report.boundary_version_id else "",
        "commune": report.commune.code if report.commune_id else "",
        "commune_name": report.commune.name if report.commune_id else "",
        "authority": report.authority.code if report.authority_id else "",
        "authority_name": report.authority.name if report.authority_id else "",
    }


def _apply_cutover(report, data, event):
    """Re-route an open report in the new boundary version. ``data`` holds validated
    values from reports/cutover.py: ``from_version`` (BoundaryVersion), ``located``
    (LocateResult in the new version) and ``routed`` (RouteResult there). State and
    deadlines stay as they are."""
    if not all(data.get(k) is not None for k in ("from_version", "located", "routed")):
        raise _field_error("from_version", _("Chỉ lệnh chuyển đổi địa giới (cutover) thực hiện được thao tác này."))
    if report.boundary_version_id != data["from_version"].id:
        raise InvalidTransition(
            _("Phản ánh %(code)s không còn thuộc phiên bản địa giới %(version)s.")
            % {"code": report.code, "version": data["from_version"].code},
            code="already_moved",
        )
    before = _unit(report)
    apply_location(report, data["located"], data["routed"])
    after = _unit(report)
    event["authority"] = report.authority
    event["reason"] = str(data.get("reason") or "")
    event["data"] = {
        "from": before,
        "to": after,
        "from_version": before["version"],
        "to_version": after["version"],
        "snapped_m": report.snapped_m,
        "explanation": report.routing_explanation,
    }


def _apply_anonymise(report, data, event):
    """Clear the reporter's personal data on a closed report (reports/retention.py
    decided it is due: ``closed_at``, ``retention_days``). The account itself is kept;
    the report no longer points to it."""
    cleared = [f for f in ("contact_name", "contact_phone", "contact_email") if getattr(report, f)]
    if report.reporter_id:
        cleared.append("reporter")
    if not cleared:
        raise InvalidTransition(_("Phản ánh %(code)s không còn dữ liệu cá nhân.") % {"code": report.code}, code="nothing")
    report.contact_name = report.contact_phone = report.contact_email = ""
    report.reporter = None
    event["data"] = {
        "cleared": cleared,
        "closed_at": data["closed_at"].isoformat() if data.get("closed_at") else None,
        "retention_days": data.get("retention_days"),
    }


def _apply(report, action, to_state, actor, data, now, event):
    """Apply one action's effects to the locked report; fills event fields."""
    if action == "cutover":
        _apply_cutover(report, data, event)
    elif action == "anonymise":
        _apply_anonymise(report, data, event)
    elif action == "forward":
        if data.get("authority"):
            authority = _authority_by_code(data["authority"])
            access.check_assignable(actor, report, authority)
            report.authority = authority
        if report.authority_id is None:
            raise _field_error("authority", _("Phản ánh chưa có cơ quan xử lý: hãy chọn cơ quan trước khi chuyển."))
        report.forwarded_at = now
        report.resolve_due = sla.resolve_due(report.category, now, report.jurisdiction)
        report.extension_requested_until = None
        event["authority"] = report.authority
        event["data"] = {"authority": report.authority.code, "resolve_due": report.resolve_due.isoformat()}
    elif action == "reject":
        code = str(data.get("reason_code") or "")
        if code not in Report.RejectReason.values:
            raise _field_error("reason_code", _("Hãy chọn lý do từ chối."))
        report.reject_reason = code
        report.closed_at = now
        event["reason_code"] = code
    elif action == "merge":
        target_code = str(data.get("into") or data.get("target") or "").strip()
        target = Report.objects.filter(code=target_code).first()
        if target is None:
            raise _field_error("into", _("Không tìm thấy phản ánh %(code)s để gộp vào.") % {"code": target_code})
        if target.pk == report.pk or target.state in ("merged", "rejected"):
            raise _field_error("into", _("Không thể gộp vào phản ánh này."))
        access.check_mergeable(actor, report, target)
        report.merged_into = target
        report.closed_at = now
        if report.reporter_id:
            from reports import notify

            notify.follow(target, report.reporter_id)
        event["data"] = {"into": target.code}
    elif action in ("change_category", "move_pin"):
        category, point = report.category, report.location
        if action == "change_category":
            code = str(data.get("category") or "").strip()
            category = Category.objects.filter(code=code, active=True).first()
            if category is None:
                raise _field_error("category", _("Lĩnh vực không hợp lệ."))
        else:
            from reports.intake import parse_point

            point = parse_point(data)
        event["data"] = reroute(report, point=point, category=category)
        event["data"]["category"] = report.category.code
        if action == "move_pin":
            event["data"]["lon"], event["data"]["lat"] = point.x, point.y
        if report.state == "received" or report.state == "reopened":
            pass  # the desk forwards to the new authority next
    elif action == "accept":
        report.accepted_at = now
    elif action == "return":
        reason = str(data.get("reason") or "").strip()
        if not reason:
            raise _field_error("reason", _("Hãy nêu lý do trả lại (ví dụ: không đúng đơn vị)."))
        event["reason"] = reason
        if data.get("suggested_authority"):
            event["data"] = {"suggested_authority": str(data["suggested_authority"])[:80]}
        event["authority"] = report.authority
        report.forwarded_at = None
        report.accepted_at = None
        report.resolve_due = None
        report.forward_due = sla.forward_due(report.category, now, report.jurisdiction)
    elif action == "transfer":
        authority = _authority_by_code(data.get("authority"))
        access.check_assignable(actor, report, authority)
        if authority.pk == report.authority_id:
            raise _field_error("authority", _("Phản ánh đã ở đơn vị này."))
        event["data"] = {"from": report.authority.code if report.authority_id else "", "to": authority.code}
        report.authority = authority
        report.forwarded_at = now
        report.resolve_due = sla.resolve_due(report.category, now, report.jurisdiction)
        event["authority"] = authority
    elif action == "request_extension":
        reason = str(data.get("reason") or "").strip()
        if not reason:
            raise _field_error("reason", _("Hãy nêu lý do xin gia hạn."))
        until = _parse_when(data.get("until"), "until")
        if report.resolve_due and until <= report.resolve_due:
            raise _field_error("until", _("Ngày gia hạn phải sau hạn xử lý hiện tại."))
        report.extension_requested_until = until
        report.extension_reason = reason
        event["reason"] = reason
        event["data"] = {"until": until.isoformat()}
    elif action in ("grant_extension", "refuse_extension"):
        if not report.extension_requested_until:
            raise InvalidTransition(_("Không có yêu cầu gia hạn nào đang chờ."), code="no_extension")
        event["data"] = {"until": report.extension_requested_until.isoformat()}
        if action == "grant_extension":
            event["data"]["previous_due"] = report.resolve_due.isoformat() if report.resolve_due else None
            report.resolve_due = report.extension_requested_until
        event["reason"] = str(data.get("reason") or "").strip()
        report.extension_requested_until = None
    elif action == "resolve":
        text = str(data.get("result_text") or data.get("text") or "").strip()
        if not text:
            raise _field_error("result_text", _("Hãy mô tả kết quả xử lý."))
        if len(text) > 5000:
            raise _field_error("result_text", _("Kết quả xử lý dài quá 5000 ký tự."))
        checked = data.get("_checked_photos") or []
        has_photo = report.media.filter(stage="result").exists()
        if not checked and not has_photo:
            raise _field_error("photos", _("Hãy gửi kèm ít nhất một ảnh kết quả."))
        if checked:
            from reports import media

            media.store(report, checked, actor, stage="result")
        report.result_text = text
        report.resolved_at = now
        report.extension_requested_until = None
    elif action == "publish":
        report.published_at = now
    elif action == "rework":
        reason = str(data.get("reason") or "").strip()
        if not reason:
            raise _field_error("reason", _("Hãy nêu yêu cầu xử lý lại."))
        event["reason"] = reason
        report.resolved_at = None
    elif action == "rate":
        try:
            level = int(data.get("level"))
        except (TypeError, ValueError):
            level = 0
        if level not in Rating.Level.values:
            raise _field_error("level", _("Hãy chọn mức đánh giá từ 1 đến 5."))
        reason = str(data.get("reason") or "").strip()
        if len(reason) > 1000:
            raise _field_error("reason", _("Lý do dài quá 1000 ký tự."))
        if Rating.objects.filter(report=report).exists():
            raise InvalidTransition(_("Phản ánh này đã được đánh giá."), code="already_rated")
        Rating.objects.create(report=report, user=actor, level=level, reason=reason)
        report.rating_level = level
        event["data"] = {"level": level}
        event["reason"] = reason
    elif action == "reopen":
        report.forward_due = sla.forward_due(report.category, now, report.jurisdiction)
        report.closed_at = None
        event["reason"] = str(data.get("reason") or "")
    elif action == "close":
        report.closed_at = now
        event["reason"] = str(data.get("reason") or "").strip()


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


def transition(report, action, actor, data=None, expected_version=None, *, role=None):
    """Apply ``action`` to ``report`` as ``actor``. Returns the updated report.

    Raises Conflict (stale expected_version), Forbidden (role or jurisdiction),
    InvalidTransition (not allowed in this state), ValidationError (bad data)."""
    if hasattr(data, "getlist"):  # a QueryDict / MultiValueDict: single values, photos as a list
        photos = data.getlist("photos")
        data = data.dict()
        data.pop("photos", None)
    else:
        data = dict(data or {})
        photos = data.pop("photos", None) or []
    photos = [p for p in photos if p]
    pk = report.pk if isinstance(report, Report) else report
    if photos:
        # Uploads are checked and re-encoded before the row is locked: a slow photo
        # never holds the report.
        from reports import media

        data["_checked_photos"] = media.check_uploads(photos, [], max_photos=media.max_photos())
    with transaction.atomic():
        report = Report.objects.select_for_update(of=("self",)).select_related("category__parent").get(pk=pk)
        _check_version(report, expected_version)
        entry = TRANSITIONS.get((report.state, action))
        if entry is None:
            known = any(a == action for (_s, a) in TRANSITIONS) or action == "receive"
            if not known:
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
        now = timezone.now()
        from_state = report.state
        event = {"authority": _actor_authority(actor, report, acting), "reason_code": "", "reason": "", "data": {}}
        _apply(report, action, to_state, actor, data, now, event)
        report.state = to_state
        report.row_version += 1
        report.save()
        ev = record_event(report, action, from_state, to_state, actor if role != "system" else None, acting, now=now, **event)
        if action == "rate" and report.rating_level is not None and report.rating_level <= 2:
            # A low rating reopens the report for the desk's review.
            report = transition(
                report, "reopen", None, {"reason": _("Người dân không hài lòng với kết quả (mức %(level)s).") % {"level": report.rating_level}},
                role="system",
            )
            return report
    report._last_event = ev
    return report


def record_event(report, action, from_state, to_state, actor, role, *, now=None, authority=None, reason_code="", reason="", data=None, is_public=None):
    """Write the append-only event and queue the notifications it causes."""
    from reports import notify

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
    return ev


def _received_values(report, actor):
    role = access.role_of(actor) if actor is not None else "public"
    return {
        "role": "reporter" if role in ("citizen", "public") else role,
        "data": {"commune": report.commune.code if report.commune_id else "", "authority": report.authority.code if report.authority_id else ""},
    }


def record_received(report, actor):
    """The first event of a saved new report."""
    v = _received_values(report, actor)
    return record_event(report, "receive", "", "received", actor, v["role"], now=report.created_at, data=v["data"])


_INSERT_SQL = {}


def _insert_sql():
    """INSERT … report … ON CONFLICT (idempotency_scope, idempotency_key) DO NOTHING, and its "receive"
    event, in ONE statement; the public code is numbered by the sequence inside it.
    Built once per process from the model's fields."""
    if "sql" not in _INSERT_SQL:
        from django.db import connection

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
            f"VALUES ({', '.join(placeholders)}) ON CONFLICT ({qn('idempotency_scope')}, {qn('idempotency_key')}) DO NOTHING "
            f"RETURNING id, code), "
            f"e AS (INSERT INTO {qn(ReportEvent._meta.db_table)} ({', '.join(qn(c) for c in ev_cols)}) "
            f"SELECT r.id, 'receive', '', 'received', %s, %s, NULL, '', '', %s::jsonb, true, %s FROM r RETURNING id) "
            f"SELECT r.id, r.code, (SELECT id FROM e) FROM r"
        )
    return _INSERT_SQL["sql"], _INSERT_SQL["fields"]


def insert_received(report, actor):
    """Save a new report and its "receive" event in one statement (the intake's hot
    path: one round trip instead of four). Returns the event, or None when a report with
    the same idempotency key exists already in the caller's scope (nothing is written then)."""
    import json

    from django.db import connection

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
        pk=row[2], report=report, action="receive", from_state="", to_state="received",
        actor_id=actor_id, actor_role=v["role"], reason_code="", reason="", data=v["data"],
        is_public=True, created_at=report.created_at,
    )
    ev._state.adding = False
    from reports import notify

    notify.on_event(report, ev)
    return ev


def add_comment(report, user, text, show_name=False):
    """A comment on the public timeline. An official's comment is posted as their
    authority (the officer's unit, or the desk of the province for an operator)."""
    from boundaries.models import Authority

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
    from reports import notify

    with transaction.atomic():  # the comment and what it queues (outbox rows) together
        comment = Comment.objects.create(report=report, author=user, authority=authority, text=text,
                                         show_name=bool(show_name) and authority is None)
        notify.on_comment(report, comment)
    return comment
