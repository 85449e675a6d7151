"""Updates agencies send back: accept, a progress note, the result — mapped onto
reports.workflow.transition as an officer of the authority, so the public timeline
shows them like any officer's step.

A signed message (Standard Webhooks, the authority's endpoint secret) acts as the
authority's system actor: a user ``agency-bot:<code>`` holding the officer role of that
authority (created on first use; it cannot sign in). A token-API call acts as the
officer who owns the token. Each message id is applied once (``InboundUpdate``).
"""

import base64
import binascii

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from agencies.models import InboundUpdate
from agencies.outbound import AGENT_PREFIX
from reports import workflow
from reports.models import Report, StaffRole

S = Report.State

TYPES = ("report.accept", "report.progress", "report.resolve")
MAX_PHOTO_BYTES_B64 = 14 * 1024 * 1024  # a 10 MB photo in base64


class NotFound(Exception):
    pass


def agent_for(authority):
    """The authority's system actor (an officer of it that cannot sign in)."""
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=AGENT_PREFIX + authority.code, defaults={"display_name": authority.name[:120]})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    StaffRole.objects.get_or_create(user=user, role="officer", authority=authority,
                                    defaults={"province_code": authority.province_code or ""})
    return user


def decode_photos(data):
    """JSON photos: ``photo_1``, ``photo_2``, … each the base64 of an image (a JSON body is
    flat: one value per field, as every endpoint here accepts) → uploaded files for
    reports.media's checks."""
    keys = sorted((k for k in data if str(k).startswith("photo_") and str(k)[6:].isdigit()), key=lambda k: int(k[6:]))
    out = []
    for key in keys:
        value = data.get(key)
        if not isinstance(value, str) or len(value) > MAX_PHOTO_BYTES_B64:
            raise ValidationError({key: [_("Ảnh không hợp lệ.")]})
        if value.startswith("data:") and "," in value:  # a data: URL
            value = value.split(",", 1)[1]
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError({key: [_("Ảnh không phải base64 hợp lệ.")]}) from None
        out.append(SimpleUploadedFile(f"{key}.jpg", raw))
    return out


def _step(report, action, actor, data=None):
    return workflow.transition(report, action, actor, data or {})


# The unit's steps before it works on a report, which an agency may skip (a resolve straight
# after forwarding means it accepted and started the work): (state, action) in order.
_STEPS_TO = {
    S.ACCEPTED: ((S.FORWARDED, "accept"),),
    S.IN_PROGRESS: ((S.FORWARDED, "accept"), (S.ACCEPTED, "start")),
}


def _bring_to(report, actor, target):
    """Take the skipped steps up to ``target``; a report already past them is unchanged."""
    for state, action in _STEPS_TO[target]:
        if report.state == state:
            report = _step(report, action, actor)
    return report


def apply_update(authority, actor, message_id, type_, data, photos=()):
    """Apply one update. Returns (report, duplicate). Raises NotFound, ValidationError,
    workflow.WorkflowError (Forbidden when the report is not this authority's)."""
    if type_ not in TYPES:
        raise ValidationError({"type": [_("Loại cập nhật phải là một trong: %(types)s.")
                                        % {"types": ", ".join(TYPES)}]})
    code = str(data.get("report") or "").strip()
    if not code:
        raise ValidationError({"report": [_("Thiếu mã phản ánh.")]})
    report = Report.objects.filter(code=code).first()
    if report is None:
        raise NotFound(_("Không có phản ánh %(code)s.") % {"code": code})
    if report.authority_id != authority.pk:
        raise workflow.Forbidden(_("Phản ánh này không thuộc đơn vị hoặc địa bàn của bạn."), code="forbidden")
    text = str(data.get("text") or "").strip()
    with transaction.atomic():
        try:
            with transaction.atomic():
                InboundUpdate.objects.create(authority=authority, message_id=str(message_id)[:100], type=type_,
                                             report=report, actor=actor)
        except IntegrityError:
            return report, True
        if type_ == "report.accept":
            report = _bring_to(report, actor, S.ACCEPTED)
            if report.state != S.ACCEPTED:
                report = _step(report, "accept", actor)  # raises InvalidTransition with the state's message
            if text:
                workflow.add_comment(report, actor, text)
        elif type_ == "report.progress":
            if not text:
                raise ValidationError({"text": [_("Hãy nhập nội dung tiến độ.")]})
            report = _bring_to(report, actor, S.IN_PROGRESS)
            workflow.add_comment(report, actor, text)
        else:
            report = _bring_to(report, actor, S.IN_PROGRESS)
            report = workflow.transition(report, "resolve", actor, {"result_text": text, "photos": list(photos)})
    report.refresh_from_db()
    return report, False
