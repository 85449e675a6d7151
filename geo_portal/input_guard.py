"""One gate for malformed input, before any view sees it.

PostgreSQL refuses NUL bytes and lone surrogates in text, so a value carrying one
reached the database as a 500. A JSON body that is not an object, or a field holding a
list where one value is expected, reached views that call ``.get`` or ``str()`` on it.
A chunked body (no Content-Length) was read by Django as empty. Checking all of that
here, once, gives every endpoint — API and pages — the same clear, translated 400 that
names the field, and the views only ever see well-formed values.

    path       a NUL byte in a path segment → 400 naming the URL's argument (``code`` …)
    query      a NUL byte in a parameter's name or value → 400 naming the parameter;
               more parameters than DATA_UPLOAD_MAX_NUMBER_FIELDS → 400 on "query"
    headers    the same in Idempotency-Key, If-Match, Last-Event-ID, Authorization
    body       form / multipart fields: the same; JSON: must be an object whose values are
               single values (text, number, true/false, null) — 400 naming the field
    chunked    Transfer-Encoding: chunked without Content-Length → read (up to
               REPORT_MAX_REQUEST_BYTES, else 413; into a spooled temporary file, not
               memory) so the view sees the body
"""

import json
import tempfile

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.handlers.wsgi import LimitedStream, WSGIRequest
from django.http import HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _

BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
CHUNK = 64 * 1024
MAX_DEPTH_NAME = 60  # a field name echoed back is cut to this


def bad_text(value):
    """Why this text cannot be stored, or None: a NUL byte or a lone surrogate."""
    if "\x00" in value:
        return _("Không được chứa ký tự NUL (\\u0000).")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return _("Chứa ký tự Unicode không hợp lệ.")
    return None


def _name(raw):
    """A field name safe to echo back (a bad name is itself the problem)."""
    clean = "".join(ch for ch in str(raw) if ch != "\x00" and not 0xD800 <= ord(ch) <= 0xDFFF)
    return clean[:MAX_DEPTH_NAME] or "field"


def wants_json(request):
    path = request.path_info
    return (
        path.startswith(("/api/", "/tiles/"))
        or "/api/" in path
        or "json" in request.META.get("CONTENT_TYPE", "")
        or "json" in request.META.get("HTTP_ACCEPT", "")
    )


def refuse(request, errors, status=400):
    """The 400 (or 411/413) answer: JSON for API clients, plain text for pages; an
    interface with its own error format names its renderer in
    ``settings.INPUT_REFUSAL_RENDERERS`` ({path prefix: dotted path})."""
    for prefix, renderer in (settings.INPUT_REFUSAL_RENDERERS or {}).items():
        if request.path_info.startswith(prefix):
            from django.utils.module_loading import import_string

            return import_string(renderer)(request, errors, status)
    if status != 400 or list(errors) == ["body"]:  # the body as a whole: its own message
        detail = errors[next(iter(errors))][0]
    else:
        detail = _("Dữ liệu chưa hợp lệ, hãy kiểm tra các mục được đánh dấu.")
    if wants_json(request):
        return JsonResponse({"detail": detail, "errors": errors}, status=status,
                            json_dumps_params={"ensure_ascii": False})
    lines = [detail] + [f"{field}: {' '.join(msgs)}" for field, msgs in errors.items()]
    return HttpResponse("\n".join(lines), status=status, content_type="text/plain; charset=utf-8")


def path_errors(request):
    path = request.path_info
    if bad_text(path) is None:
        return {}
    try:
        match = resolve(path)
    except Resolver404:
        match = None
    names = [k for k, v in (match.kwargs.items() if match else ()) if isinstance(v, str) and bad_text(v)]
    message = bad_text(path)
    return {_name(n): [message] for n in names} or {"path": [message]}


def multidict_errors(data):
    errors = {}
    for key, values in data.lists():
        problem = bad_text(key) or next((bad_text(v) for v in values if isinstance(v, str) and bad_text(v)), None)
        if problem:
            errors[_name(key)] = [problem]
    return errors


# Headers whose values views read and store or compare as text.
CHECKED_HEADERS = ("Idempotency-Key", "If-Match", "Last-Event-ID", "Authorization")


def header_errors(request):
    return {name: [bad_text(request.headers[name])] for name in CHECKED_HEADERS
            if name in request.headers and bad_text(request.headers[name])}


def json_errors(body):
    """Errors of a JSON body: it must be an object of single values."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return {"body": [_("Không đọc được dữ liệu JSON gửi lên.")]}
    if not isinstance(data, dict):
        return {"body": [_("Dữ liệu JSON gửi lên phải là một đối tượng ({\"tên\": giá trị, …}).")]}
    errors = {}
    for key, value in data.items():
        if bad_text(key):
            errors[_name(key)] = [bad_text(key)]
        elif isinstance(value, list | dict):
            errors[_name(key)] = [_("Phải là một giá trị (chữ hoặc số), không phải danh sách hay đối tượng.")]
        elif isinstance(value, str) and bad_text(value):
            errors[_name(key)] = [bad_text(value)]
    return errors


def read_chunked(request):
    """Give a chunked request (no Content-Length) its body, as the WSGI server de-chunked
    it, and its length; False when it is larger than allowed. Read in pieces into a
    spooled file (memory up to FILE_UPLOAD_MAX_MEMORY_SIZE, then a temporary file), as
    Django keeps uploads with a length: a chunked body is not held whole in memory."""
    limit = settings.REPORT_MAX_REQUEST_BYTES
    source = request.environ["wsgi.input"]
    spool = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)
    size = 0
    while size <= limit:
        piece = source.read(min(CHUNK, limit + 1 - size))
        if not piece:
            break
        spool.write(piece)
        size += len(piece)
    if size > limit:
        spool.close()
        return False
    spool.seek(0)
    request._stream = LimitedStream(spool, size)
    request.META["CONTENT_LENGTH"] = str(size)
    return True


class InputGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.check(request)
        return response if response is not None else self.get_response(request)

    def check(self, request):
        try:
            errors = path_errors(request) or multidict_errors(request.GET) or header_errors(request)
        except TooManyFieldsSent:
            return refuse(request, {"query": [_("Quá nhiều tham số trong địa chỉ (tối đa %(n)d).")
                                              % {"n": settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}]})
        if errors:
            return refuse(request, errors)
        if request.method not in BODY_METHODS:
            return None
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        # Under ASGI Django reads the whole body whatever its framing; under WSGI a body
        # without Content-Length reads as empty unless it is read here.
        if chunked and not request.META.get("CONTENT_LENGTH") and isinstance(request, WSGIRequest):
            if "wsgi.input" not in request.environ:
                return refuse(request, {"body": [_("Hãy gửi kèm độ dài dữ liệu (Content-Length).")]}, status=411)
            if not read_chunked(request):
                return refuse(request, {"body": [_("Dữ liệu gửi lên quá lớn.")]}, status=413)
        ctype = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        try:
            if ctype == "application/json" or ctype.endswith("+json"):
                if request.body.strip():
                    errors = json_errors(request.body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                errors = multidict_errors(request.POST)
        except (RequestDataTooBig, TooManyFilesSent, TooManyFieldsSent):
            return refuse(request, {"body": [_("Dữ liệu gửi lên quá lớn hoặc quá nhiều tệp.")]}, status=413)
        except MultiPartParserError:
            errors = {"body": [_("Không đọc được dữ liệu gửi lên, vui lòng thử lại.")]}
        return refuse(request, errors) if errors else None
