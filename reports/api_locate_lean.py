"""The lean ASGI path of GET /api/v1/locate (geo_portal/asgi.py, settings.ASGI_LEAN_PATHS).

The API's hot path — a client without a session asking where a point is — answered on
the event loop: the query parsed by the view's own functions (reports/api_locate.py:
parse_query, answer, bad_request_body), the point located by boundaries.lookup.alocate()
(the same query and rules as locate(), on an asynchronous connection), the same JSON and
the same headers as Django's full path gives an anonymous client (tests/reports/
test_locate_lean.py compares both, answer and headers, on a table of requests).

Why: through Django the lookup (~0.4 ms in PostgreSQL) costs ~2 ms of Python (the
thread-pool hop of a2wsgi, 11 middlewares, DRF's request, negotiation and
authentication) and, on two cores with 8 connections, its p99 is the threads' scheduling
(README, "Point lookup over HTTP").

Everything else goes to Django unchanged: other methods, a Cookie or Authorization
header (a signed-in user's answer is private and its language is the chosen one), a
body, a NUL byte (geo_portal/input_guard.py answers it), ``category`` (the routing
reads rules and categories through the ORM), a query Django would refuse (too many
fields), plain HTTP when SECURE_SSL_REDIRECT asks for a redirect, and a database error
(Django answers its 503).
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import psycopg
from django.conf import settings
from django.core.exceptions import TooManyFieldsSent
from django.http import HttpResponse, QueryDict
from django.utils import translation
from django.utils.cache import patch_vary_headers

from boundaries.lookup import alocate_rows, locate_result
from geo_portal import lean_asgi as lean
from geo_portal.input_guard import multidict_errors
from reports.api_locate import answer, bad_request_body, parse_query

# What Django's path answers an anonymous client on top of the view's JSON: DRF's Allow
# and Vary (documented() serves the view through an APIView), then the middlewares'.
_ALLOW = "GET, HEAD, OPTIONS"
_VARY = ("Accept", "Accept-Language", "Cookie")


def _language(headers) -> str:
    # geo_portal.middleware.ChosenLanguageMiddleware on an API path without the cookie
    request = SimpleNamespace(COOKIES={}, META={"HTTP_ACCEPT_LANGUAGE": headers.get(b"accept-language", b"")
                                                .decode("latin-1")})
    return translation.get_language_from_request(request) or settings.LANGUAGE_CODE


def _response(body, status, language, secure, anonymous_headers) -> HttpResponse:
    # JsonResponse's encoding (DjangoJSONEncoder, ASCII escapes), as the view answers
    from django.core.serializers.json import DjangoJSONEncoder

    response = HttpResponse(json.dumps(body, cls=DjangoJSONEncoder), status=status, content_type="application/json")
    response["Allow"] = _ALLOW
    patch_vary_headers(response, _VARY)
    response["Content-Language"] = language
    return anonymous_headers.apply(response, secure)


# Answers kept per worker: the same rows of the lookup query (a point inside the same
# communes: every area's fields, the version, the distances), asked for the same day in
# the same language under the same outside-tolerance give the same JSON. Building it
# (three model instances per area, the answer, the encoding, the headers) was ~0.25 ms
# of a lookup's ~1 ms of CPU. Bounded: a snapped pin's distance makes its rows unique.
ANSWERS_KEPT = 4096


def lean_locate_app(fallback):
    """The ASGI app of /api/v1/locate; ``fallback`` (Django) answers what it does not."""

    anonymous_headers = lean.AnonymousHeaders()
    answers: dict = {}  # key -> ASGI start message and body (oldest first: dicts keep order)

    def kept(key, make):
        found = answers.get(key)
        if found is None:
            found = answers[key] = make()
            if len(answers) > ANSWERS_KEPT:
                del answers[next(iter(answers))]
        return found

    async def app(scope, receive, send):
        headers = lean.request_headers(scope)
        if not lean.is_plain(scope, headers):
            return await fallback(scope, receive, send)
        secure = lean.is_secure(scope, headers)
        try:
            query = QueryDict(scope.get("query_string", b"").decode("utf-8", "replace"))
        except TooManyFieldsSent:
            return await fallback(scope, receive, send)
        if multidict_errors(query) or lean.has_private_marker(query):  # a NUL byte: the input guard's own 400
            return await fallback(scope, receive, send)
        language = _language(headers)
        with translation.override(language):
            errors = {}
            lat, lon, at, code = parse_query(query, errors)
            if code:  # routing: Django's path
                return await fallback(scope, receive, send)
            if errors:
                start, body = lean.asgi_messages(
                    _response(bad_request_body(errors), 400, language, secure, anonymous_headers))
            else:
                try:
                    rows, day, tol = await alocate_rows((lon, lat), at=at)
                except psycopg.Error:  # an outage: Django's path answers its 503
                    return await fallback(scope, receive, send)
                key = (tuple(rows), day, tol, at, language, secure, settings.LOCATE_OUTSIDE_M)
                start, body = kept(key, lambda: lean.asgi_messages(
                    _response(answer(locate_result(rows, day, tol), at), 200, language, secure, anonymous_headers)))
        await send(start)
        await send(body)

    return app
