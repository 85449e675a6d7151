"""Token sign-in for API clients (mobile apps, integrations): the same one-time code as
the sign-in page, or a staff password; answers a DRF token for
``Authorization: Token <key>``.

    POST /accounts/api/token {"phone": "0912345678"}                  → 202, a code is sent by SMS
    POST /accounts/api/token {"phone": "0912345678", "code": "123456"} → 200 {"token": …}
    POST /accounts/api/token {"username": …, "password": …}            → 200 {"token": …}
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from geo_portal import ratelimit
from geo_portal.accounts import otp, passwords


class TokenView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=inline_serializer("TokenRequest", {
            "phone": serializers.CharField(required=False), "code": serializers.CharField(required=False),
            "username": serializers.CharField(required=False), "password": serializers.CharField(required=False)}),
        responses={200: inline_serializer("TokenResponse", {"token": serializers.CharField()})},
    )
    def post(self, request):
        data = request.data
        phone, code = str(data.get("phone") or "").strip(), str(data.get("code") or "").strip()
        username, password = str(data.get("username") or "").strip(), str(data.get("password") or "")
        try:
            if phone and not code:
                phone = otp.request_code(phone, ip=ratelimit.client_ip(request))
                return Response({"detail": _("Đã gửi mã xác nhận tới %(phone)s.") % {"phone": phone}},
                                status=status.HTTP_202_ACCEPTED)
            if phone:
                user = otp.verify_code(phone, code, ip=ratelimit.client_ip(request))
            elif username and password:
                user = passwords.sign_in(request, username, password)
            else:
                return Response({"errors": {"phone": [_("Vui lòng nhập số điện thoại.")]}},
                                status=status.HTTP_400_BAD_REQUEST)
        except otp.RateLimited as exc:
            response = Response({"detail": exc.messages[0], "errors": exc.message_dict},
                                status=status.HTTP_429_TOO_MANY_REQUESTS)
            return ratelimit.retry_after_header(response, exc.retry_after)
        except ValidationError as exc:
            return Response({"errors": exc.message_dict}, status=status.HTTP_400_BAD_REQUEST)
        if not user.is_active:
            return Response({"errors": {"phone": [_("Tài khoản đã bị khoá.")]}}, status=status.HTTP_403_FORBIDDEN)
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
