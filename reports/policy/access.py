"""Who sees and who acts on which report: the permission service every view asks.

Roles: "admin" (superuser or StaffRole admin: everything), "operator" (the desk of a
province: its reports), "officer" (member of an authority: that authority's reports),
"leader" (a province: reads, never acts), "citizen" (signed in: their own reports plus
the public ones), "public" (anonymous: the public ones).

Like Signalen's permission service (``signals/apps/services/domain/permissions``), one
definition of a user's jurisdiction is offered in every form a caller needs:

* a predicate on one report: ``can_view_report``, ``can_view_private``, ``can_act``;
* a queryset filter: ``scope_q`` / ``visible_reports`` (what a user may see),
  ``queue_reports`` (what a user works on), ``nearby_q``;
* an SQL fragment with its parameters for the hand-written SQL of the heatmaps:
  ``report_scope(user).sql(alias)``;
* checks that raise ``PermissionDenied`` (403) or a field ``ValidationError`` (400):
  ``require_province``, ``require_authority``, ``check_assignable``, ``check_mergeable``.

What a user may see ("the scope"):

* admin: every report;
* operator, leader: the reports of their province(s), plus the public states;
* officer: the reports of their authority, plus the public states;
* citizen: their own reports, plus the public states;
* anonymous: the public states (``policy.PUBLIC``) only.

A report not in the public states (received, rejected, merged) is never found by its
code alone: the reporter signed in, the staff of its unit or province, and the holder
of the receipt token (``Report.receipt_token``, in the receipt link) reach it.

What the public may ask for: the public data of any province or authority (the map,
the statistics, the exports answer with public states there). Counts (statistics, the
ranking, choropleths, grid bins) count every report and name none. Staff-only screens
(the IOC wall, its state and live stream, the overdue layer) answer 403 for a province
the user does not serve.
"""

import secrets

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _

from reports.policy import states

ROLE_PRIORITY = ("admin", "operator", "officer", "leader")
STAFF_ROLES = frozenset(ROLE_PRIORITY)


def new_receipt_token() -> str:
    """The unguessable part of a reporter's receipt link (~128 bits)."""
    return secrets.token_urlsafe(16)


def _signed_in(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False)


def staff_roles(user):
    """The user's StaffRole rows (cached on the user object for the request)."""
    if not _signed_in(user):
        return []
    cached = getattr(user, "_staff_roles_cache", None)
    if cached is None:
        cached = list(user.staff_roles.select_related("authority"))
        user._staff_roles_cache = cached
    return cached


def role_of(user) -> str:
    """The user's main role: admin > operator > officer > leader > citizen; "public" when anonymous."""
    if not _signed_in(user):
        return "public"
    if user.is_superuser:
        return "admin"
    roles = {r.role for r in staff_roles(user)}
    for role in ROLE_PRIORITY:
        if role in roles:
            return role
    return "citizen"


def roles_of(user) -> set:
    if not _signed_in(user):
        return set()
    roles = {r.role for r in staff_roles(user)}
    if user.is_superuser:
        roles.add("admin")
    return roles


def is_admin(user) -> bool:
    return "admin" in roles_of(user)


def authority_ids(user) -> set:
    return {r.authority_id for r in staff_roles(user) if r.role == "officer" and r.authority_id}


def authority_codes(user) -> set:
    return {r.authority.code for r in staff_roles(user) if r.role == "officer" and r.authority_id}


def province_codes(user, roles=("operator", "leader")) -> set:
    return {r.province_code for r in staff_roles(user) if r.role in roles and r.province_code}


def served_provinces(user) -> set:
    """Every province the user works in: the desk's and leaders' provinces and the
    provinces of an officer's authorities."""
    out = province_codes(user)
    for r in staff_roles(user):
        if r.role == "officer" and r.authority_id:
            out.add(r.authority.province_code or r.province_code)
    return {p for p in out if p}


def is_staff_member(user) -> bool:
    return bool(roles_of(user))


# --- the scope: what a user may see ----------------------------------------------------


def scope_q(user, prefix="", own=True) -> Q:
    """Queryset filter: the reports the user may see (``prefix`` for a related report,
    e.g. "report__"). ``own=False`` leaves out a citizen's own unpublished reports."""
    roles = roles_of(user)
    if "admin" in roles:
        return Q()
    q = states.PUBLIC.q(prefix)
    provinces = province_codes(user)
    if provinces:
        q |= Q(**{f"{prefix}province_code__in": sorted(provinces)})
    authorities = authority_ids(user)
    if authorities:
        q |= Q(**{f"{prefix}authority_id__in": sorted(authorities)})
    if own and _signed_in(user):
        q |= Q(**{f"{prefix}reporter_id": user.pk})
    return q


class Scope:
    """The same scope as an SQL fragment for hand-written SQL.

    ``sql(alias)`` → (fragment, params) on the columns state, province_code,
    authority_id and (unless ``own`` is off) reporter_id of the table aliased ``alias``.
    """

    def __init__(self, everything=False, provinces=(), authorities=(), reporter_id=None):
        self.everything = everything
        self.provinces = sorted(provinces)
        self.authorities = sorted(authorities)
        self.reporter_id = reporter_id

    def sql(self, alias="r"):
        if self.everything:
            return "TRUE", []
        col = (lambda c: f"{alias}.{c}") if alias else (lambda c: c)
        parts, params = [states.PUBLIC.sql(alias)], []
        if self.provinces:
            parts.append(f"{col('province_code')} = ANY(%s::text[])")
            params.append(self.provinces)
        if self.authorities:
            parts.append(f"{col('authority_id')} = ANY(%s::bigint[])")
            params.append(self.authorities)
        if self.reporter_id is not None:
            parts.append(f"{col('reporter_id')} = %s")
            params.append(self.reporter_id)
        return "(" + " OR ".join(parts) + ")", params

    @property
    def is_public_only(self):
        return not (self.everything or self.provinces or self.authorities or self.reporter_id is not None)

    def __repr__(self):
        return f"Scope(everything={self.everything}, provinces={self.provinces}, authorities={self.authorities})"


def report_scope(user, own=True) -> Scope:
    """``scope_q`` as an SQL ``Scope`` (``own=False`` for tables without reporter_id,
    such as the point-tile projection)."""
    if is_admin(user):
        return Scope(everything=True)
    return Scope(
        provinces=province_codes(user),
        authorities=authority_ids(user),
        reporter_id=user.pk if own and _signed_in(user) else None,
    )


def public_reports():
    from reports.models import Report

    return Report.objects.filter(states.PUBLIC.q())


def visible_reports(user):
    """Every report the user may see: their jurisdiction's, their own, the public ones."""
    from reports.models import Report

    return Report.objects.filter(scope_q(user))


def queue_reports(user):
    """The reports a user works with (the staff queue, the desk, "scope=queue" of the
    API): an officer's authority, the desk's or leader's province, a citizen's own."""
    from reports.models import Report

    roles = roles_of(user)
    if "admin" in roles:
        return Report.objects.all()
    if roles:
        q = Q(pk__in=[])
        provinces = province_codes(user)
        if provinces:
            q |= Q(province_code__in=provinces)
        authorities = authority_ids(user)
        if authorities:
            q |= Q(authority_id__in=authorities)
        return Report.objects.filter(q)
    if _signed_in(user):
        return Report.objects.filter(reporter=user)
    return Report.objects.none()


def nearby_q(user) -> Q:
    """Nearby open reports ("same problem? follow it"): the public states to everyone;
    an unchecked one ("received") only to the staff who may see it (its province's desk
    and leaders, its unit, admins) — never to citizens, its reporter included."""
    return states.OPEN.q() & scope_q(user, own=False)


# --- one report ------------------------------------------------------------------------


def can_view_private(user, report) -> bool:
    """May the user read the non-public parts (internal events, contact, queue data)?"""
    roles = roles_of(user)
    if "admin" in roles:
        return True
    if report.province_code and report.province_code in province_codes(user):
        return True
    return bool(report.authority_id and report.authority_id in authority_ids(user))


def is_reporter(user, report) -> bool:
    return _signed_in(user) and report.reporter_id is not None and report.reporter_id == user.pk


def holds_token(report, token) -> bool:
    """Does ``token`` (from the receipt link's ?t= or the X-Receipt-Token header: any
    text a caller sends) open this report? Compared as bytes: compare_digest refuses
    text with non-ASCII characters (a 500 before)."""
    if not token or not report.receipt_token:
        return False
    return secrets.compare_digest(str(token).encode("utf-8", "surrogatepass"), report.receipt_token.encode())


def receipt_token_of(request) -> str:
    """The receipt token a request carries: the reporter's link's ?t=…, or the
    X-Receipt-Token header (apps)."""
    request = getattr(request, "_request", request)  # a DRF Request wraps Django's
    return request.GET.get("t") or request.headers.get("X-Receipt-Token") or ""


def can_view_public(report) -> bool:
    """May anybody read the report's public page by its code?"""
    return report.state in states.PUBLIC


def can_view_report(user, report, token=None) -> bool:
    """The public page: public states to anyone; otherwise its reporter, its staff, the
    holder of its receipt token."""
    return (can_view_public(report) or can_view_private(user, report) or is_reporter(user, report)
            or holds_token(report, token))


def require_view_private(user, report):
    if not can_view_private(user, report):
        raise PermissionDenied(_("Bạn không có quyền xem phản ánh này: phản ánh thuộc đơn vị khác."))


def acting_roles(user, report) -> set:
    """The roles in which the user may act on this report (jurisdiction included)."""
    roles = set()
    user_roles = roles_of(user)
    if "admin" in user_roles:
        roles |= {"admin", "operator", "officer"}
    if report.province_code and report.province_code in province_codes(user, roles=("operator",)):
        roles.add("operator")
    if report.authority_id and report.authority_id in authority_ids(user):
        roles.add("officer")
    if is_reporter(user, report):
        roles.add("reporter")
    return roles


def can_act(user, report) -> bool:
    """May the user change anything on this report as staff? Leaders never may."""
    return bool(acting_roles(user, report) - {"reporter"})


def can_view_media(user, media, token=None) -> bool:
    """May the user (or the holder of the report's receipt ``token``) fetch this stored
    photo/video (its public copy)? Those of a report they may read (its result photos
    once the result is public); a video only once the desk has reviewed it (videos are
    not blurred); anything else only to its staff."""
    report = media.report
    if can_view_private(user, report):
        return True
    if media.stage == "result" and report.state not in states.RESULT_PUBLIC:
        return False
    if media.kind == "video" and not media.reviewed:
        return False
    return can_view_public(report) or is_reporter(user, report) or holds_token(report, token)


def media_query(user, report, token) -> str:
    """What the URLs of a report's media need for this viewer: "?t=<token>" when only the
    receipt token opens the report (its reporter, not signed in, before it is public),
    else nothing (a public copy's URL is the same for everyone)."""
    if (can_view_public(report) or can_view_private(user, report) or is_reporter(user, report)
            or not holds_token(report, token)):
        return ""
    from django.utils.http import urlencode

    return "?" + urlencode({"t": token})


def visible_media(user, report):
    """The photos and videos of a report (one the user may read) that can_view_media lets
    this user fetch, as a queryset: the same rule, for the report's API answer."""
    items = report.media.all()
    if can_view_private(user, report):
        return items
    if report.state not in states.RESULT_PUBLIC:
        items = items.exclude(stage="result")
    return items.exclude(kind="video", reviewed=False)


def can_view_original(user, media) -> bool:
    """The unblurred original of a photo: the report's staff only (never its reporter
    or the public, whatever the state)."""
    return can_view_private(user, media.report)


def can_view_unlisted_media(user) -> bool:
    """Files under MEDIA_ROOT that belong to no report's public copy (originals,
    leftovers): staff only."""
    return bool(getattr(user, "is_superuser", False) or is_staff_member(user))

# --- asking for a province or an authority ---------------------------------------------


def serves_province(user, code) -> bool:
    return is_admin(user) or code in served_provinces(user)


def require_province(user, code):
    """A staff user asking for a province they do not serve: 403 with a clear message.
    No province (None, "") asks for the user's own jurisdiction and always passes."""
    if code and not serves_province(user, code):
        raise PermissionDenied(
            _("Bạn không phụ trách tỉnh/thành phố mã %(code)s: chỉ xem được dữ liệu của địa bàn được phân công.")
            % {"code": code}
        )


def require_authority(user, code):
    """A staff user asking for an authority they do not serve (officers: their own;
    the desk and leaders: the authorities of their province): 403."""
    if not code or is_admin(user):
        return
    if code in authority_codes(user):
        return
    from boundaries.models import Authority

    province = Authority.objects.filter(code=code).values_list("province_code", flat=True).first()
    if province and province in province_codes(user):
        return
    raise PermissionDenied(
        _("Bạn không phụ trách cơ quan mã %(code)s: chỉ xem được dữ liệu của đơn vị được phân công.") % {"code": code}
    )


def default_province(user, fallback="22"):
    """The province a staff screen opens on: the user's own (the first of several)."""
    served = sorted(served_provinces(user))
    return served[0] if served else fallback


def can_see_wall(user) -> bool:
    """The operations-centre screens (the wall, its state, stream and overdue layer) are
    for staff of any role."""
    return role_of(user) in STAFF_ROLES


def wall_province(user, requested=None):
    """The province a staff screen shows: the one asked for, else the user's own (None
    for an admin with no province); PermissionDenied for one the user does not serve."""
    province = requested or default_province(user, fallback="")
    require_province(user, province)
    return province or None


# --- the desk acts within its province ---------------------------------------------------


def check_assignable(actor, report, authority, field="authority"):
    """The desk forwards and transfers only to an authority of the report's province
    (admins anywhere). A field error (400) otherwise; nothing is changed."""
    if is_admin(actor) or authority is None:
        return
    if not authority.province_code or authority.province_code != report.province_code:
        raise ValidationError({field: [
            _("Không thể chuyển cho %(name)s: cơ quan này không thuộc tỉnh/thành phố của phản ánh.")
            % {"name": authority.name}
        ]})


def check_mergeable(actor, report, target, field="into"):
    """A report is merged only into a report of the same province (admins anywhere). A
    target the actor may not see is answered as one that does not exist (the workflow's
    own message), so that the refusal does not tell that an unpublished code exists."""
    if is_admin(actor):
        return
    if not can_view_report(actor, target):
        raise ValidationError({field: [_("Không tìm thấy phản ánh %(code)s để gộp vào.") % {"code": target.code}]})
    if target.province_code != report.province_code:
        raise ValidationError({field: [
            _("Không thể gộp vào %(code)s: phản ánh đó thuộc tỉnh/thành phố khác.") % {"code": target.code}
        ]})


# --- comments ----------------------------------------------------------------------------


def comment_author_label(comment) -> str:
    """How a comment's author is shown: an official as their authority; a citizen as
    "Người dân" unless they chose to show their name on this comment."""
    if comment.authority_id:
        return comment.authority.name
    if getattr(comment, "show_name", False) and comment.author_id and comment.author.display_name:
        return comment.author.display_name
    return _("Người dân")
