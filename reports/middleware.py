"""Refuse a request body larger than settings.REPORT_MAX_REQUEST_BYTES (5 photos + 1
video + form fields) before Django reads it: a clear 413 instead of streaming a
gigabyte to a temporary file and failing later."""

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _


class RequestSizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.REPORT_MAX_REQUEST_BYTES
        if limit and length > limit:
            message = _("Dữ liệu gửi lên quá lớn (%(size)d MB, tối đa %(max)d MB). Hãy gửi ít ảnh hơn hoặc video ngắn "
                        "hơn.") % {
                "size": length // 2**20, "max": limit // 2**20,
            }
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=413)
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
