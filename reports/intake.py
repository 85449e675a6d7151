"""Taking a citizen's report: validate, locate, route, save, record — in one transaction.

``create_report(data, files, user, idempotency_key)`` returns the Report or raises a
ValidationError whose ``message_dict`` has one entry per field (category, lat, lon,
location, commune, description, contact_phone, contact_email, photos, video, …).
The place is the pin ("lat"/"lon") or, without one, a commune chosen by its code
("commune") with the place described in words ("address"): the report then sits at
the commune's inner point, ``location_precision`` "commune" (reports.locating). Nothing is
stored when anything is invalid. A retried submission with the same idempotency key
from the same caller (``idempotency_scope``) returns the report the first one made
(``report.replayed`` is True), also when the two arrive at the same time (the unique
(scope, key) decides; the loser reads the winner's row); a different body under a used
key is an IdempotencyConflict. Another caller's key is not this caller's.

Text is stored as the plain text the citizen typed (no HTML processing); templates
and the API output it escaped / as JSON strings, never as markup.

The hot path (measured by bench/ingest.py): field checks in Python; one locate query;
routing with boundaries.routing's process cache of rules and routes
(``route_cached``); categories (here) and the holiday calendar (sla) cached likewise,
outside transactions, cleared when one is saved; then ONE
statement (workflow.insert_received) writes the report and its "receive" event, with
``ON CONFLICT (idempotency_scope, idempotency_key) DO NOTHING`` deciding a race
between two retries.
"""

import hashlib
import re
import time
from contextlib import nullcontext

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from boundaries import routing
from reports import media, notify, sla, workflow
from reports.locating import (
    apply_location,
    locate_and_route,
    locate_place,
    parse_place,
    parse_point,  # noqa: F401  (intake.parse_point: the API and Open311 use it)
)
from reports.models import Category, Report

DESCRIPTION_MAX = 5000
TITLE_MAX = 200
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _get(data, key, default=""):
    value = data.get(key, default) if hasattr(data, "get") else default
    if isinstance(value, list | tuple):
        value = value[0] if value else default
    return value if value is not None else default


def _files(files, key):
    if not files:
        return []
    if hasattr(files, "getlist"):
        return files.getlist(key)
    value = files.get(key)
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def submission_rate_limited(request):
    """None while this client (IP) is within settings.REPORT_SUBMIT_RATE submissions
    (e.g. "20/h"), else the ratelimit Decision (its ``retry_after`` is the Retry-After);
    counts this one. The API and the intake page share the counter."""
    from geo_portal import ratelimit

    decision = ratelimit.hit("report-create", ratelimit.client_ip(request), settings.REPORT_SUBMIT_RATE)
    return None if decision.allowed else decision


def clean_text(value):
    return _CONTROL.sub("", str(value or "")).replace("\r\n", "\n").strip()


_categories_cache = {"at": 0.0, "by_code": None}


def _categories():
    """{code: Category} of all categories, with ``has_active_children``; kept in this
    process for CATEGORY_CACHE_SECONDS outside transactions (cleared when a category is
    saved)."""

    def load():
        cats = list(Category.objects.select_related("parent"))
        parents = {c.parent_id for c in cats if c.active and c.parent_id}
        for c in cats:
            c.has_active_children = c.pk in parents
        return {c.code: c for c in cats} | {str(c.pk): c for c in cats}

    ttl = settings.CATEGORY_CACHE_SECONDS
    if ttl <= 0 or connection.in_atomic_block:
        return load()
    now = time.monotonic()
    if _categories_cache["by_code"] is None or now - _categories_cache["at"] > ttl:
        _categories_cache["by_code"] = load()
        _categories_cache["at"] = now
    return _categories_cache["by_code"]


def get_category(value, errors):
    value = str(value or "").strip()
    if not value:
        errors["category"] = [_("Hãy chọn lĩnh vực phản ánh.")]
        return None
    category = _categories().get(value)
    if category is None or not category.active:
        errors["category"] = [_("Lĩnh vực không hợp lệ hoặc không còn dùng.")]
        return None
    if category.has_active_children:
        errors["category"] = [_("Hãy chọn một lĩnh vực cụ thể trong nhóm “%(group)s”.") % {"group": category.name}]
        return None
    return category


def normalise_phone(raw):
    raw = str(raw or "").strip()
    if not raw:
        return ""
    try:
        number = phonenumbers.parse(raw, "VN")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError(_("Số điện thoại không hợp lệ."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


TEXT_FIELDS = ("category", "description", "title", "address", "contact_name", "contact_phone", "contact_email",
               "commune")


def validate(data, files):
    """All field checks, no database writes. Returns (cleaned dict, checked uploads)."""
    errors = {key: [message] for key in TEXT_FIELDS if (message := workflow.not_text_error(_get(data, key)))}
    cleaned = {}
    cleaned["category"] = get_category(_get(data, "category"), errors)
    cleaned["location"], cleaned["commune_code"] = parse_place(data, errors)

    description = clean_text(_get(data, "description"))
    if not description:
        errors["description"] = [_("Hãy mô tả sự việc.")]
    elif len(description) > DESCRIPTION_MAX:
        errors["description"] = [
            _("Nội dung dài %(n)d ký tự, tối đa %(max)d ký tự.") % {"n": len(description), "max": DESCRIPTION_MAX}
        ]
    cleaned["description"] = description
    title = clean_text(_get(data, "title"))
    if len(title) > TITLE_MAX:
        errors["title"] = [_("Tiêu đề tối đa %(max)d ký tự.") % {"max": TITLE_MAX}]
    cleaned["title"] = title
    address = clean_text(_get(data, "address"))
    if len(address) > 300:
        errors["address"] = [_("Địa chỉ tối đa 300 ký tự.")]
    cleaned["address"] = address

    name = clean_text(_get(data, "contact_name"))
    if len(name) > 120:
        errors["contact_name"] = [_("Tên tối đa 120 ký tự.")]
    cleaned["contact_name"] = name
    try:
        cleaned["contact_phone"] = normalise_phone(_get(data, "contact_phone"))
    except ValidationError as exc:
        errors["contact_phone"] = exc.messages
    email = clean_text(_get(data, "contact_email"))
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["contact_email"] = [_("Địa chỉ email không hợp lệ.")]
    cleaned["contact_email"] = email

    checked = []
    try:
        checked = media.check_uploads(_files(files, "photos"), _files(files, "video"))
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return cleaned, checked


def clear_categories_cache(**kwargs):
    """Signal receiver (connected in ReportsConfig.ready()): a category changed."""
    _categories_cache["by_code"] = None


def preview(data):
    """What the page shows before sending: commune, authority, the rule's explanation."""
    errors = {}
    category = get_category(_get(data, "category"), errors) if _get(data, "category") else None
    point, commune_code = parse_place(data, errors)
    if errors:
        raise ValidationError(errors)
    located = locate_place(point, commune_code, at=timezone.now())
    out = {
        "commune": _area_dict(located.area_of_type("commune")),
        "district": _area_dict(located.area_of_type("district")),
        "province": _area_dict(located.area_of_type("province")),
        "snapped_m": located.snapped_m,
        "authority": None,
        "explanation": "",
    }
    if category is not None:
        routed = routing.route_cached(located.areas, category.codes_for_routing())
        if routed.authority is not None:
            out["authority"] = {"code": routed.authority.code, "name": routed.authority.name}
        out["explanation"] = routed.explanation
        out["forward_days"] = sla.forward_days(category)
        out["resolve_days"] = sla.resolve_days(category)
    return out


def _area_dict(area):
    return {"code": area.code, "name": area.name} if area is not None else None


class IdempotencyConflict(ValidationError):
    """A used idempotency key with a different body: the API answers 422."""


def idempotency_scope(request, user=None):
    """Whose keys these are: the signed-in user; else the client's device id (header
    ``X-Device-Id``, which the apps send); else the browser's session; else the client
    IP. Keys are unique per scope, so another client sending A's key gets its own
    report, never A's receipt."""
    request = getattr(request, "_request", request)
    user = user if user is not None else getattr(request, "user", None)
    if getattr(user, "is_authenticated", False):
        return f"user:{user.pk}"
    device = clean_text(request.headers.get("X-Device-Id", ""))[:200]
    if device:
        return "device:" + hashlib.sha256(device.encode()).hexdigest()[:40]
    session = getattr(request, "session", None)
    session_key = getattr(session, "session_key", None)
    if session_key:
        return "session:" + hashlib.sha256(session_key.encode()).hexdigest()[:40]
    return "ip:" + (request.META.get("REMOTE_ADDR") or "")[:60]


BODY_FIELDS = ("category", "lat", "lon", "description", "title", "address", "contact_name", "contact_phone",
               "contact_email")
# Hashed only when given, so the hash of a submission without them is what it was.
OPTIONAL_BODY_FIELDS = ("commune",)


def body_hash(data, files=None):
    """SHA-256 of what a submission says (its fields and its files' bytes): a retry
    has the same hash, another submission under the same key does not."""
    digest = hashlib.sha256()
    for key in BODY_FIELDS:
        digest.update(f"{key}\x00{str(_get(data, key, '')).strip()}\x01".encode("utf-8", "surrogatepass"))
    for key in OPTIONAL_BODY_FIELDS:
        value = str(_get(data, key, "")).strip()
        if value:
            digest.update(f"{key}\x00{value}\x01".encode("utf-8", "surrogatepass"))
    for key in ("photos", "video"):
        for f in _files(files, key):
            if not f:
                continue
            file_digest = hashlib.sha256()
            f.seek(0)
            for chunk in iter(lambda f=f: f.read(1 << 20), b""):
                file_digest.update(chunk)
            f.seek(0)
            digest.update(f"{key}\x00{file_digest.hexdigest()}\x01".encode())
    return digest.hexdigest()


def replayed_report(key, scope="", fingerprint=""):
    """The report an earlier submission with this idempotency key made in this scope,
    or None; IdempotencyConflict when that submission's body was different. Every
    submission asks: one indexed lookup in plain SQL (the ORM's query building cost more
    than the rest of the intake's Python)."""
    with connection.cursor() as cur:
        cur.execute("SELECT id, idempotency_hash FROM reports_report "
                    "WHERE idempotency_scope = %s AND idempotency_key = %s",
                    [scope, key])
        row = cur.fetchone()
    if row is None:
        return None
    if fingerprint and row[1] and row[1] != fingerprint:
        raise IdempotencyConflict({"idempotency_key": [
            _("Khoá chống gửi trùng này đã được dùng cho một phản ánh khác với nội dung khác. "
              "Hãy dùng một khoá mới cho phản ánh mới.")]}, code="idempotency_conflict")
    report = Report.objects.select_related("category", "commune", "authority").get(pk=row[0])
    report.replayed = True
    return report


IDEMPOTENCY_KEY_MAX = 80  # Report.idempotency_key's length


def stored_key(idempotency_key):
    """The key as stored: itself up to IDEMPOTENCY_KEY_MAX characters, a longer one by its
    SHA-256 (cut to that length, two long keys sharing their first 80 characters were one
    key: the second caller got the first one's report, or a 422)."""
    key = str(idempotency_key or "").strip()
    if len(key) > IDEMPOTENCY_KEY_MAX:
        key = "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return key or None


def create_report(data, files=None, user=None, idempotency_key=None, *, source="web", now=None, scope=None):
    """``scope``: whose key it is (``idempotency_scope(request)``); by default the
    signed-in user's, else the scope shared by callers that give none."""
    key = stored_key(idempotency_key)
    if scope is None:
        scope = f"user:{user.pk}" if getattr(user, "is_authenticated", False) else ""
    fingerprint = body_hash(data, files) if key else ""
    if key:
        existing = replayed_report(key, scope, fingerprint)
        if existing is not None:
            return existing
    cleaned, checked = validate(data, files)
    now = now or timezone.now()
    located, routed = locate_and_route(cleaned["location"], cleaned["category"], at=now,
                                       commune_code=cleaned["commune_code"])

    stored = []
    report = Report(
        code="",
        title=cleaned["title"],
        description=cleaned["description"],
        category=cleaned["category"],
        location=cleaned["location"],
        address=cleaned["address"],
        contact_name=cleaned["contact_name"],
        contact_phone=cleaned["contact_phone"],
        contact_email=cleaned["contact_email"],
        reporter=user if getattr(user, "is_authenticated", False) else None,
        idempotency_key=key,
        idempotency_scope=scope,
        idempotency_hash=fingerprint,
        source=source,
        created_at=now,
        state=Report.State.RECEIVED,
    )
    apply_location(report, located, routed)
    # On the calendar and in the time zone of the jurisdiction the pin fell in.
    report.forward_due = sla.forward_due(cleaned["category"], now, report.jurisdiction)
    try:
        # One statement writes the report and its first event. With uploads (Media
        # rows) or someone to notify (Notification rows) everything is one transaction.
        needs_tx = bool(checked) or bool(notify.reporter_contacts(report))
        with transaction.atomic() if needs_tx else nullcontext():
            ev = workflow.insert_received(report, user)
            if ev is None:  # the same key won a moment ago: that report is the answer
                existing = replayed_report(key, scope, fingerprint)
                if existing is None:
                    raise IntegrityError("idempotency key conflict without a report")
                return existing
            stored = media.store(report, checked, user)
    except IntegrityError:
        media.delete_files(stored)
        existing = replayed_report(key, scope, fingerprint) if key else None
        if existing is not None:
            return existing
        raise
    except BaseException:
        media.delete_files(stored)
        raise
    report.replayed = False
    report.stored_media = stored
    return report


def claim_reports(user, phone=None) -> int:
    """Reports sent without an account, with this phone (default: the user's) as
    contact, become the user's own (so the reporter can rate them and finds them in "my
    reports"). Only after the phone was proven with a one-time code. Returns how many."""
    phone = phone or getattr(user, "phone", "") or ""
    if not phone:
        return 0
    return Report.objects.filter(reporter__isnull=True, contact_phone=phone).update(reporter=user)


def on_user_verified_phone(sender, user, phone, **kwargs):
    """Receiver of accounts' ``user_verified_phone`` (wired in ReportsConfig.ready())."""
    claim_reports(user, phone)
