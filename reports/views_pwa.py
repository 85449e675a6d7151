"""The installable intake (a PWA): the service worker at the site root, the web app
manifest and the page shown for a page that was never kept offline.

The service worker is built by scripts/build_sw.mjs (workbox-build) into reports/sw/sw.js
with its static URLs written as "__STATIC__/<name>"; it is served from /sw.js (scope: the
whole site) with each replaced by the URL the pages use, which is content-hashed in
production (ManifestStaticFilesStorage), so the cached copies are the ones pages ask for.
"""

import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

SW_SOURCE = Path(__file__).resolve().parent / "sw" / "sw.js"
_STATIC_MARK = re.compile(r"""(["'])__STATIC__/([^"']+)\1""")
THEME_COLOR = "#0b3d6e"  # the site header's blue (css/site.css)


_PRECACHE_ENTRY = re.compile(r"""\{url:(["'])__STATIC__/([^"']+)\1,revision:(["'])(\w+)\3\}""")


def _revision(name, built):
    """The static file's bytes as they are here (a file changed since the worker was built
    is fetched again), else the build's revision."""
    path = finders.find(name)
    if not path:
        return built
    return hashlib.md5(Path(path).read_bytes(), usedforsecurity=False).hexdigest()


def _build_service_worker_text():
    text = SW_SOURCE.read_text(encoding="utf-8")

    def entry(m):
        url, revision = json.dumps(static(m.group(2))), json.dumps(_revision(m.group(2), m.group(4)))
        return f"{{url:{url},revision:{revision}}}"

    text = _PRECACHE_ENTRY.sub(entry, text)
    return _STATIC_MARK.sub(lambda m: json.dumps(static(m.group(2))), text)


@lru_cache(maxsize=4)
def _service_worker_text(static_url):
    """Kept per process (deployed files do not change under it); ``static_url``, where a
    static file is served now, is the key: another storage or collectstatic changes URLs."""
    return _build_service_worker_text()


@require_GET
def service_worker(request):
    # DEBUG: built on every request, so an edited script is precached again on the next visit.
    text = _build_service_worker_text() if settings.DEBUG else _service_worker_text(static("reports/intake.js"))
    response = HttpResponse(text, content_type="text/javascript; charset=utf-8")
    # The browser checks for a new worker on every visit; the scope is the whole site.
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = "/"
    return response


@require_GET
def manifest(request):
    start = reverse("report-new")
    body = {
        "id": start,
        "name": _("Phản ánh hiện trường"),
        "short_name": _("Phản ánh"),
        "description": _("Gửi phản ánh về sự việc ở xã/phường của bạn, cả khi mất mạng: phản ánh sẽ được gửi khi có "
                         "mạng trở lại."),
        "lang": request.LANGUAGE_CODE,
        "start_url": start,
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": THEME_COLOR,
        "icons": [
            {"src": static("reports/icons/icon-192.png"), "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": static("reports/icons/icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "any"},
            {"src": static("reports/icons/icon-maskable-512.png"), "sizes": "512x512", "type": "image/png",
             "purpose": "maskable"},
        ],
    }
    response = JsonResponse(body, content_type="application/manifest+json",
                            json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "public, max-age=3600"
    return response


@require_GET
def offline(request):
    """Shown by the service worker for a page it never kept, when there is no network."""
    return render(request, "reports/offline.html")
