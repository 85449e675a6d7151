"""POST /api/v1/agencies/updates — an agency's system tells us what it did.

Two ways in, one flat body (every JSON body here is an object of single values):
* signed (Standard Webhooks): JSON ``{"type": …, "authority": CODE, "report": CODE,
  "text": …, "photo_1": BASE64, "photo_2": …}`` with the headers webhook-id /
  webhook-timestamp / webhook-signature made with the secret of one of the authority's
  endpoints; acts as the authority's system actor.
* the token API (``Authorization: Token …`` of an officer of the report's authority): the
  same JSON, or multipart fields ``type``, ``report``, ``text`` and files ``photos``.
``type``: report.accept | report.progress | report.resolve.
"""

import json
import uuid

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from agencies import inbound, signing
from boundaries.models import Authority
from geo_portal import ratelimit
from reports import workflow
from reports.api import workflow_error_response
from reports.models import Report
from reports.policy import access

RATE = "600/h"

UpdateRequest = inline_serializer("AgencyUpdateRequest", fields={
    "type": serializers.ChoiceField(choices=inbound.TYPES),
    "authority": serializers.CharField(required=False, help_text="Mã cơ quan (bắt buộc với tin có chữ ký)."),
    "report": serializers.CharField(),
    "text": serializers.CharField(required=False),
    "photo_1": serializers.CharField(required=False, help_text="Ảnh kết quả, base64 (photo_2, photo_3 … tương tự)."),
})
UpdateResponse = inline_serializer("AgencyUpdateResponse", fields={
    "report": serializers.CharField(), "state": serializers.CharField(), "duplicate": serializers.BooleanField(),
})
SIGNED_HEADERS = [
    OpenApiParameter(h, str, OpenApiParameter.HEADER, required=False, description="Standard Webhooks")
    for h in ("webhook-id", "webhook-timestamp", "webhook-signature")
]


def _bad(field, message):
    return workflow_error_response(ValidationError({field: [message]}))


def _unauthorized(message):
    return Response({"detail": message}, status=status.HTTP_401_UNAUTHORIZED)


def _limited(ident, name="agency-updates", rate=RATE):
    decision = ratelimit.hit(name, ident, rate)
    return None if decision.allowed else ratelimit.json_429(decision)


class AgencyUpdates(APIView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(request={"application/json": UpdateRequest, "multipart/form-data": UpdateRequest},
                   responses={200: UpdateResponse,
                              **{code: OpenApiTypes.OBJECT for code in (400, 401, 403, 404, 409, 413, 429)}},
                   parameters=SIGNED_HEADERS, description=__doc__)
    def post(self, request):
        if request.headers.get("webhook-signature"):
            return self._signed(request)
        return self._token(request)

    def _signed(self, request):
        # Before any work: an unsigned flood from one address stops here.
        limited = _limited(f"ip:{ratelimit.client_ip(request)}", "agency-updates-ip", "1200/h")
        if limited:
            return limited
        payload = None
        if "json" in request.content_type:
            raw = request._request.body  # the exact bytes that were signed
            try:
                payload = json.loads(raw)
            except (ValueError, UnicodeDecodeError, RecursionError):
                pass
        if not isinstance(payload, dict):
            return _bad("body", _("Tin có chữ ký phải là một đối tượng JSON (Content-Type: application/json)."))
        authority = Authority.objects.filter(code=str(payload.get("authority") or "")).first()
        secrets = [s for e in authority.webhook_endpoints.all() for s in e.signing_secrets()] if authority else []
        try:
            signing.verify(secrets, request.headers.get("webhook-id"), request.headers.get("webhook-timestamp"),
                           request.headers.get("webhook-signature"), raw)
        except signing.InvalidSignature:
            return _unauthorized(_("Chữ ký không hợp lệ."))
        limited = _limited(f"authority:{authority.pk}")
        if limited:
            return limited
        actor = inbound.agent_for(authority)
        return self._apply(authority, actor, request.headers["webhook-id"], payload.get("type"), payload,
                           lambda: inbound.decode_photos(payload))

    def _token(self, request):
        user = request.user
        if not user.is_authenticated:
            return _unauthorized(_("Hãy gửi tin có chữ ký hoặc dùng token của cán bộ đơn vị."))
        limited = _limited(f"user:{user.pk}")
        if limited:
            return limited
        body = request.data
        data = {k: body.get(k) for k in body if k != "photos"}
        if request.FILES:
            photos = lambda: request.FILES.getlist("photos")  # noqa: E731
        else:
            photos = lambda: inbound.decode_photos(data)  # noqa: E731
        report = Report.objects.filter(code=str(data.get("report") or "").strip()).select_related("authority").first()
        if report is None:
            return Response({"detail": _("Không có phản ánh %(code)s.") % {"code": data.get("report") or ""}},
                            status=status.HTTP_404_NOT_FOUND)
        if not report.authority_id or not (report.authority_id in access.authority_ids(user) or access.is_admin(user)):
            # Whoever may not act on it learns nothing about it either.
            if not access.can_view_report(user, report):
                return Response({"detail": _("Không có phản ánh %(code)s.") % {"code": report.code}},
                                status=status.HTTP_404_NOT_FOUND)
            return workflow_error_response(
                workflow.Forbidden(_("Phản ánh này không thuộc đơn vị hoặc địa bàn của bạn.")))
        message_id = request.headers.get("Idempotency-Key") or f"api_{uuid.uuid4().hex}"
        return self._apply(report.authority, user, message_id, body.get("type"), data, photos)

    def _apply(self, authority, actor, message_id, type_, data, photos):
        try:
            report, duplicate = inbound.apply_update(authority, actor, message_id, type_, data, photos())
        except inbound.NotFound as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_404_NOT_FOUND)
        except (workflow.WorkflowError, ValidationError, PermissionDenied) as exc:
            return workflow_error_response(exc)
        return Response({"report": report.code, "state": report.state, "duplicate": duplicate})


DeliveryRow = inline_serializer("AgencyDelivery", fields={
    "authority": serializers.CharField(), "url": serializers.CharField(), "status": serializers.CharField(),
    "attempts": serializers.IntegerField(), "last_status_code": serializers.IntegerField(allow_null=True),
    "delivered_at": serializers.DateTimeField(allow_null=True),
}, many=True)
ForwardingResponse = inline_serializer("AgencyForwarding", fields={
    "report": serializers.CharField(),
    "status": serializers.CharField(allow_null=True, help_text="sent | pending | failed | null"),
    "deliveries": DeliveryRow,
})


class ReportForwarding(APIView):
    """Did the agencies' systems take the report's latest forwarding? "sent" only when
    every endpoint accepted it. For the staff who may read the report's private side."""

    @extend_schema(responses={200: ForwardingResponse, 401: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT})
    def get(self, request, code):
        from agencies import outbound
        from agencies.models import WebhookDelivery, WebhookMessage

        if not request.user.is_authenticated:
            return _unauthorized(_("Hãy đăng nhập."))
        report = Report.objects.filter(code=code).first()
        if report is None or not access.can_view_private(request.user, report):
            return Response({"detail": _("Không tìm thấy phản ánh.")}, status=status.HTTP_404_NOT_FOUND)
        msg = WebhookMessage.objects.filter(report=report, type="report.forwarded").order_by("-created_at").first()
        rows = (WebhookDelivery.objects.filter(message=msg).select_related("endpoint__authority").order_by("id")
                if msg else [])
        return Response({
            "report": report.code,
            "status": outbound.forwarding_status(report),
            "deliveries": [{"authority": d.endpoint.authority.code, "url": d.endpoint.url, "status": d.status,
                            "attempts": d.attempts, "last_status_code": d.last_status_code,
                            "delivered_at": d.delivered_at} for d in rows],
        })
