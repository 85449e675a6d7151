"""DRF's own refusals in the portal's language: its English defaults ("Invalid token.",
"Unsupported media type …", "Authentication credentials were not provided.", "CSRF
Failed: …") have no Vietnamese in DRF's catalogue, so they reached Vietnamese clients as
English. The status, headers (WWW-Authenticate) and the {"detail": …} shape stay DRF's."""

from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


def _message(exc):
    if isinstance(exc, exceptions.AuthenticationFailed):
        return _("Mã truy cập (token) hoặc thông tin đăng nhập không hợp lệ.")
    if isinstance(exc, exceptions.NotAuthenticated):
        return _("Hãy đăng nhập, hoặc gửi kèm mã truy cập (Authorization: Token …).")
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return _("Kiểu dữ liệu “%(type)s” không được hỗ trợ: hãy gửi JSON hoặc biểu mẫu (multipart).") % {
            "type": str(exc.detail).split('"')[1][:60] if str(exc.detail).count('"') >= 2 else ""}
    if isinstance(exc, exceptions.ParseError):
        return _("Không đọc được dữ liệu gửi lên, vui lòng thử lại.")
    if isinstance(exc, exceptions.NotAcceptable):
        return _("Không có định dạng trả lời nào khớp với tiêu đề Accept.")
    if isinstance(exc, exceptions.PermissionDenied) and str(exc.detail).startswith("CSRF Failed"):
        return _("Không xác nhận được biểu mẫu (mã chống giả mạo thiếu hoặc đã hết hạn, hoặc trình duyệt chặn "
                 "cookie). Hãy tải lại trang rồi gửi lại.")
    return None


def exception_handler(exc, context):
    message = _message(exc)
    if message is not None:
        exc.detail = message
    return drf_exception_handler(exc, context)
