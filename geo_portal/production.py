"""Production safety: security headers, private answers never cached, and a clear 503
while the database is down or a costly step has no room (``Busy``): JSON with
Retry-After for the API, a plain page otherwise.

A page rendered during an outage must not touch the database itself, so the outage
page is a fixed HTML string (no base template: its user menu reads the session).
"""

import logging
import sys

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from geo_portal import basemap

log = logging.getLogger(__name__)

# What a lost, refused or restarting database raises (psycopg's errors are wrapped
# into these by Django).
UNAVAILABLE = (OperationalError, InterfaceError)


def _is_api(request):
    """JSON for machine clients (settings.MACHINE_PATHS: the API, tiles, Open311, OGC
    API) unless they ask for a page (?f=html, Accept: text/html first), and for anyone
    who accepts JSON; a plain page otherwise."""
    accept = request.META.get("HTTP_ACCEPT", "")
    if request.path.startswith(tuple(settings.MACHINE_PATHS)):
        return request.GET.get("f") != "html" and not accept.lstrip().startswith("text/html")
    return "application/json" in accept


class Busy(Exception):
    """Raised where a costly step has no room now (e.g. reports.media's image decoding
    slots): answered 503 with Retry-After, as an outage is, so clients retry."""

    def __init__(self, message, retry_after=5):
        super().__init__(message)
        self.message, self.retry_after = str(message), max(1, int(retry_after))


def unavailable_response(request, message=None, code="database_unavailable", retry_after=None):
    retry = str(retry_after or settings.DATABASE_UNAVAILABLE_RETRY_AFTER)
    message = message or _("Hệ thống tạm thời không truy cập được cơ sở dữ liệu. Vui lòng thử lại sau ít phút.")
    if _is_api(request):
        response = JsonResponse({"detail": message, "code": code}, status=503)
    else:
        title = _("Tạm thời gián đoạn")
        response = HttpResponse(
            f'<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>{title}</title></head>'
            f"<body><h1>{title}</h1><p>{message}</p></body></html>",
            status=503, content_type="text/html; charset=utf-8",
        )
    response["Retry-After"] = retry
    patch_cache_control(response, no_store=True)
    return response


class _HybridMiddleware:
    """Runs in the server's mode (WSGI or ASGI) without a thread hop of its own."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        return self.get_response(request)

    async def __acall__(self, request):
        return await self.get_response(request)


class DatabaseUnavailableMiddleware(_HybridMiddleware):
    """A view that meets a database outage answers 503, not a 500 with a traceback."""

    def process_exception(self, request, exception):
        if isinstance(exception, UNAVAILABLE):
            log.warning("database unavailable on %s %s: %s", request.method, request.path, exception)
            return unavailable_response(request)
        if isinstance(exception, Busy):
            log.warning("busy on %s %s: %s", request.method, request.path, exception)
            return unavailable_response(request, exception.message, "busy", exception.retry_after)
        return None


def server_error(request):
    """handler500: also reached when a middleware (sessions, auth) meets the outage."""
    exc = sys.exc_info()[1]
    if isinstance(exc, UNAVAILABLE):
        return unavailable_response(request)
    if isinstance(exc, Busy):
        return unavailable_response(request, exc.message, "busy", exc.retry_after)
    message = _("Đã có lỗi xảy ra phía máy chủ. Vui lòng thử lại sau.")
    if _is_api(request):
        return JsonResponse({"detail": message}, status=500)
    return HttpResponse(
        f'<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>500</title></head>'
        f"<body><h1>500</h1><p>{message}</p></body></html>",
        status=500, content_type="text/html; charset=utf-8",
    )


@never_cache
def healthz(request):
    """Readiness: 200 {"db": "ok"} when the database answers, 503 {"db": "unavailable"}
    otherwise (load balancers take the process out of rotation)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        log.warning("healthz: database unavailable: %s", exc)
        response = JsonResponse({"status": "unavailable", "db": "unavailable"}, status=503)
        response["Retry-After"] = str(settings.DATABASE_UNAVAILABLE_RETRY_AFTER)
        return response
    return JsonResponse({"status": "ok", "db": "ok"})


@never_cache
def livez(request):
    """Liveness (no database, no session): the process answers. The benchmarks' trivial
    baseline."""
    return HttpResponse("ok", content_type="text/plain")


class SecurityHeadersMiddleware(_HybridMiddleware):
    """Content-Security-Policy on every answer (a view that sets its own keeps it), and
    ``Cache-Control: private, no-store`` on anything answered to a signed-in user, an
    API token or the holder of a receipt token: a shared cache or the browser's back button must not keep it. An answer
    marked ``shared_public`` (the basemap archive: the same bytes for all) keeps its caching."""

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        response = self.get_response(request)
        private = self._maybe_private(request)
        if private is None:
            try:
                private = request.user.is_authenticated
            except DatabaseError:
                private = True
        return self._apply(response, private)

    async def __acall__(self, request):
        response = await self.get_response(request)
        private = self._maybe_private(request)
        if private is None:
            try:
                private = (await request.auser()).is_authenticated
            except DatabaseError:
                private = True
        return self._apply(response, private)

    @staticmethod
    def _maybe_private(request):
        """True/False when the request tells; None when the session must say."""
        # Token clients send Authorization; a browser without a session cookie is
        # anonymous (no need to load the session to know it). A request carrying a
        # capability (the reporter's receipt token, settings.PRIVATE_REQUEST_MARKERS) may be
        # answered what only its holder may see.
        if request.META.get("HTTP_AUTHORIZATION"):
            return True
        params, headers = settings.PRIVATE_REQUEST_MARKERS
        if any(request.headers.get(h) for h in headers):
            return True
        try:
            if any(request.GET.get(p) for p in params):
                return True
        except SuspiciousOperation:  # too many parameters: answered 400 by the input guard
            return True
        if not request.COOKIES.get(settings.SESSION_COOKIE_NAME) or not hasattr(request, "user"):
            return False
        return None

    @staticmethod
    def _apply(response, private):
        csp = basemap.content_security_policy(settings.CONTENT_SECURITY_POLICY)
        if csp and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = csp
        if private and not getattr(response, "shared_public", False):
            # Replaces any public caching a view chose for anonymous callers.
            if "Cache-Control" in response:
                del response["Cache-Control"]
            patch_cache_control(response, private=True, no_store=True)
        return response
