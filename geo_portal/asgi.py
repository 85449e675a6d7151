"""The ASGI entry point (scripts/run: gunicorn with uvicorn workers).

A small router: the long-lived streams named in settings.ASGI_STREAMS (the IOC wall's
/ioc/events) go to their asynchronous apps, which hold no thread while open; the hot
paths of settings.ASGI_LEAN_PATHS (/api/v1/locate: reports/api_locate_lean.py; the map's
stored point tiles: heatmaps/tiles_lean.py) are answered on the event loop when they
can and handed to Django otherwise; every other
request goes to Django's WSGI handler on a fixed pool of threads (a2wsgi), the
way gunicorn's gthread workers served it — each thread keeps its persistent database
connection, and sync views do not queue behind Django's one thread-sensitive executor
as they would under Django's own ASGI handler.
"""

import os
from urllib.parse import parse_qs

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo_portal.settings")
django_app = get_wsgi_application()

from a2wsgi import WSGIMiddleware  # noqa: E402 (after Django is set up)
from django.conf import settings  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402

web = WSGIMiddleware(django_app, workers=settings.WEB_THREADS)
streams = {path: import_string(target) for path, target in settings.ASGI_STREAMS.items()}
lean = {path: import_string(factory)(web) for path, factory in settings.ASGI_LEAN_PATHS.items()}
lean_prefixes = tuple((path, app) for path, app in lean.items() if path.endswith("/"))
shutdowns = [import_string(target) for target in settings.ASGI_SHUTDOWN]


def _lean_app(path):
    """The lean app of a path (settings.ASGI_LEAN_PATHS: exact, or under a "/"-ended one)."""
    app = lean.get(path)
    if app is None:
        for prefix, under in lean_prefixes:
            if path.startswith(prefix):
                return under
    return app


def _is_stream(scope):
    app = streams.get(scope["path"])
    # ?once=1 asks for one answer and the end of the response: Django answers that
    if app is None or "1" in parse_qs(scope.get("query_string", b"").decode("latin-1")).get("once", []):
        return None
    return app


async def application(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for close in shutdowns:
                    await close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    app = (_is_stream(scope) or _lean_app(scope["path"])) if scope["type"] == "http" else None
    await (app or web)(scope, receive, send)
