"""Who sees and who acts on which report.

Roles: "admin" (superuser or StaffRole admin: everything), "operator" (the desk of a
province: its reports), "officer" (member of an authority: that authority's reports),
"leader" (a province: reads, never acts), "citizen" (signed in: their own reports plus
the public ones), "public" (anonymous: the public ones).
"""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from reports.policy import states

ROLE_PRIORITY = ("admin", "operator", "officer", "leader")

# Kept as names for the callers not yet moved to ``reports.policy.states``.
PUBLIC_STATES = states.PUBLIC.values
PUBLIC_DETAIL_STATES = states.ALL.values
RESULT_PUBLIC_STATES = states.RESULT_PUBLIC.values


def staff_roles(user):
    """The user's StaffRole rows (cached on the user object for the request)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    cached = getattr(user, "_staff_roles_cache", None)
    if cached is None:
        cached = list(user.staff_roles.select_related("authority"))
        user._staff_roles_cache = cached
    return cached


def role_of(user) -> str:
    """The user's main role: admin > operator > officer > leader > citizen; "public" when anonymous."""
    if user is None or not getattr(user, "is_authenticated", False):
        return "public"
    if user.is_superuser:
        return "admin"
    roles = {r.role for r in staff_roles(user)}
    for role in ROLE_PRIORITY:
        if role in roles:
            return role
    return "citizen"


def roles_of(user) -> set:
    if user is None or not getattr(user, "is_authenticated", False):
        return set()
    roles = {r.role for r in staff_roles(user)}
    if user.is_superuser:
        roles.add("admin")
    return roles


def authority_ids(user) -> set:
    return {r.authority_id for r in staff_roles(user) if r.role == "officer" and r.authority_id}


def province_codes(user, roles=("operator", "leader")) -> set:
    return {r.province_code for r in staff_roles(user) if r.role in roles and r.province_code}


def is_staff_member(user) -> bool:
    return bool(roles_of(user))


def public_reports():
    from reports.models import Report

    return Report.objects.filter(state__in=PUBLIC_STATES)


def visible_reports(user):
    """The reports a user works with or may read in full (the staff queue, "my reports")."""
    from django.db.models import Q

    from reports.models import Report

    roles = roles_of(user)
    if "admin" in roles:
        return Report.objects.all()
    q = Q(pk__in=[])
    if roles:
        provinces = province_codes(user)
        if provinces:
            q |= Q(province_code__in=provinces)
        authorities = authority_ids(user)
        if authorities:
            q |= Q(authority_id__in=authorities)
        return Report.objects.filter(q)
    if user is not None and getattr(user, "is_authenticated", False):
        return Report.objects.filter(reporter=user)
    return public_reports()


def can_view_private(user, report) -> bool:
    """May the user read the non-public parts (internal events, contact, queue data)?"""
    roles = roles_of(user)
    if "admin" in roles:
        return True
    if report.province_code and report.province_code in province_codes(user):
        return True
    return bool(report.authority_id and report.authority_id in authority_ids(user))


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
    if user is not None and getattr(user, "is_authenticated", False) and report.reporter_id == user.pk:
        roles.add("reporter")
    return roles


def can_act(user, report) -> bool:
    """May the user change anything on this report as staff? Leaders never may."""
    return bool(acting_roles(user, report) - {"reporter"})


def can_view_public(report) -> bool:
    return report.state in PUBLIC_DETAIL_STATES


def can_view_media(user, media) -> bool:
    """May the user fetch this stored photo/video? Those of a report they may read (its
    result photos once the result is public); anything else only to its staff."""
    report = media.report
    if can_view_private(user, report):
        return True
    if media.stage == "result" and report.state not in RESULT_PUBLIC_STATES:
        return False
    is_reporter = user is not None and getattr(user, "is_authenticated", False) and report.reporter_id == user.pk
    return can_view_public(report) or is_reporter


def can_view_unlisted_media(user) -> bool:
    """Files under MEDIA_ROOT that belong to no report's public copy (originals,
    leftovers): staff only."""
    return bool(getattr(user, "is_superuser", False) or is_staff_member(user))
