"""The lean ASGI path of the map's point tiles (geo_portal/asgi.py, settings.ASGI_LEAN_PATHS):
GET /tiles/reports/<z>/<x>/<y>.pbf for a client without a session, answered on the
event loop by the view's own steps (tile_cache.alookup: this process's copy of the tile,
the stored tile, Redis, else the tile rendered with the view's own query, each on an
asynchronous connection) with the view's own answer (views.tile_response) and the
headers Django's middlewares add to it (lean_asgi).

Why: a stored tile costs ~0.3 ms in PostgreSQL; through Django it cost ~1 ms of Python
more (the a2wsgi thread hop, 11 middlewares, DRF's view), and on two cores with many
distinct tiles asked at once that was what limited the map: 1,066 tiles/s at z13 against
TiPG's 461 (README, "Vector point tiles"). A tile rendered when asked (a due tile of all
time, a month at z14) is its query and the same request: here it waits for PostgreSQL
without holding a thread.

Everything else goes to Django unchanged: other layers, paths and methods, a cookie or a
token (staff see unpublished reports; their tiles are private), a filter Django answers
400 or that must read the database to be understood (a category, an authority, a
province: the ORM is synchronous), a tile Django answers 400, a database error (Django
answers its 503), and the first request after the jurisdictions kept in the process
expired. tests/heatmaps/test_tiles_lean.py compares both paths on a table of requests.
"""

from __future__ import annotations

import re

import psycopg
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import SynchronousOnlyOperation, TooManyFieldsSent
from django.http import QueryDict
from django.utils.cache import patch_vary_headers

from geo_portal import async_db
from geo_portal import lean_asgi as lean
from geo_portal.input_guard import multidict_errors
from heatmaps import tile_cache, tiles
from heatmaps.aggregates import FilterError, Filters
from heatmaps.views import tile_response
from reports.policy import access

# heatmaps/urls.py's tile route (int converters: digits only), point layer
PATH = re.compile(r"/tiles/reports/([0-9]+)/([0-9]+)/([0-9]+)\.pbf")
# The parameters a tile reads (tile_cache.FILTER_PARAMS) and its version.
ANSWERED_PARAMS = {"v", *tile_cache.FILTER_PARAMS}
# What DRF puts on the view's answer (heatmaps.openapi documents the view as an APIView:
# Allow, and Vary: Accept), then the language middleware (Vary: Accept-Language; a
# tile's path follows the language cookie only, and a request with a cookie is Django's).
ALLOW = "GET, HEAD, OPTIONS"
VARY = ("Accept", "Accept-Language")


def _view_asked(scope):
    """(z, x, y, query) of a request for a point tile this path may answer, else None."""
    match = PATH.fullmatch(scope["path"])
    if match is None:
        return None
    try:
        query = QueryDict(scope.get("query_string", b"").decode("utf-8", "replace"))
    except TooManyFieldsSent:
        return None
    if set(query) - ANSWERED_PARAMS or any(len(query.getlist(p)) > 1 for p in query) or multidict_errors(query):
        return None
    z, x, y = (int(v) for v in match.groups())
    if not tiles.valid_tile(z, x, y) or z < tiles.points_zoom():
        return None
    return z, x, y, query


def lean_tile_app(fallback):
    """The ASGI app of /tiles/reports/…; ``fallback`` (Django) answers what it does not."""
    anonymous_headers = lean.AnonymousHeaders()

    async def app(scope, receive, send):
        headers = lean.request_headers(scope)
        asked = _view_asked(scope) if lean.is_plain(scope, headers) else None
        if asked is None:
            return await fallback(scope, receive, send)
        z, x, y, query = asked
        viewer = access.report_scope(AnonymousUser(), own=False)  # the public's
        try:
            filters = Filters.from_params(query)
        except FilterError:  # Django answers 400, translated for the client
            return await fallback(scope, receive, send)
        except SynchronousOnlyOperation:
            # A filter that reads the database (a category, an authority, a province), or
            # the map's default place (the home country, less other countries'
            # jurisdictions), read from the database and kept a minute per process
            # (boundaries.jurisdictions): Django answers, on its thread (and this path
            # finds the place kept for the requests after).
            return await fallback(scope, receive, send)
        filters.scope = viewer
        connect = async_db.pool().connection
        try:
            version = await tile_cache.acurrent_version(connect)
            cache_key = tile_cache.key("reports", z, x, y, query, version, viewer)
            entry, source = await tile_cache.alookup(connect, cache_key, z, x, y, filters)
        except psycopg.Error:  # an outage: Django's path answers its 503
            return await fallback(scope, receive, send)
        response = tile_response(entry, source, version, query.get("v"), staff=False,
                                 if_none_match=headers.get(b"if-none-match", b"").decode("latin-1"),
                                 accept_encoding=headers.get(b"accept-encoding", b"").decode("latin-1"))
        response["Allow"] = ALLOW
        patch_vary_headers(response, VARY)
        response["Content-Language"] = settings.LANGUAGE_CODE
        start, body = lean.asgi_messages(anonymous_headers.apply(response, lean.is_secure(scope, headers)))
        await send(start)
        await send(body)

    return app
