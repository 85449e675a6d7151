"""What the lean ASGI paths (geo_portal/asgi.py, settings.ASGI_LEAN_PATHS) share: which
requests they may answer themselves, and the headers Django's middlewares put on an
anonymous client's answer.

A lean path answers on the event loop what Django would answer an anonymous client, the
same bytes and the same headers (each path's tests compare both on a table of
requests), and hands everything else to Django unchanged.
"""

from __future__ import annotations

from types import SimpleNamespace

from django.conf import settings
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware

from geo_portal.production import SecurityHeadersMiddleware


def request_headers(scope) -> dict[bytes, bytes]:
    """The request's headers by lower-case name (the first of repeated ones)."""
    out = {}
    for name, value in scope["headers"]:
        out.setdefault(name.lower(), value)
    return out


def is_secure(scope, headers) -> bool:
    """request.is_secure() as Django says it (SECURE_PROXY_SSL_HEADER)."""
    if scope.get("scheme") == "https":
        return True
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy:
        name = proxy[0].removeprefix("HTTP_").replace("_", "-").lower().encode("latin-1")
        value = headers.get(name, b"").decode("latin-1").split(",", 1)[0].strip()
        return value == proxy[1]
    return False


def is_plain(scope, headers) -> bool:
    """A request a lean path may answer itself: a GET without a body, from a client that
    is anonymous and carries no capability (a session cookie, an API token, a receipt
    token: settings.PRIVATE_REQUEST_MARKERS make an answer private), without a NUL byte
    (geo_portal/input_guard.py answers that), and not one SECURE_SSL_REDIRECT sends
    elsewhere."""
    marker_headers = settings.PRIVATE_REQUEST_MARKERS[1]
    return (
        scope["method"] == "GET"
        and b"cookie" not in headers
        and b"authorization" not in headers
        and not any(h.lower().encode("latin-1") in headers for h in marker_headers)
        and headers.get(b"content-length", b"0") == b"0"
        and b"transfer-encoding" not in headers
        and not any(b"\x00" in value for _name, value in scope["headers"])
        and not (settings.SECURE_SSL_REDIRECT and not is_secure(scope, headers))
    )


def has_private_marker(query) -> bool:
    """A query parameter of settings.PRIVATE_REQUEST_MARKERS (the receipt token)."""
    return any(query.get(p) for p in settings.PRIVATE_REQUEST_MARKERS[0])


class AnonymousHeaders:
    """Django's own response hooks for the headers they add to an anonymous client's
    answer: Content-Security-Policy (SecurityHeadersMiddleware), HSTS, nosniff,
    Referrer-Policy, Cross-Origin-Opener-Policy (SecurityMiddleware), X-Frame-Options;
    with the settings of the moment the lean path was made."""

    def __init__(self):
        self.middlewares = (SecurityMiddleware(lambda request: None), XFrameOptionsMiddleware(lambda request: None))

    def apply(self, response, secure):
        SecurityHeadersMiddleware._apply(response, private=False)
        request = SimpleNamespace(is_secure=lambda: secure)
        for middleware in self.middlewares:
            middleware.process_response(request, response)
        return response


def asgi_messages(response):
    """The ASGI start and body messages of a finished HttpResponse."""
    headers = [(b"content-length", str(len(response.content)).encode()),
               *((k.encode("latin-1"), v.encode("latin-1")) for k, v in response.items())]
    return ({"type": "http.response.start", "status": response.status_code, "headers": headers},
            {"type": "http.response.body", "body": response.content})
