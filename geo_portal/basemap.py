"""The basemap under every map: where it comes from, one rule for the whole portal.

``GEO_PORTAL_BASEMAP`` is one of

- ``xyz:<URL template>`` — raster tiles the browser fetches from that server (OpenStreetMap's
  standard tiles by default, or a provincial/commercial XYZ or WMTS-as-XYZ service), with
  ``GEO_PORTAL_BASEMAP_ATTRIBUTION`` (required unless the host is OpenStreetMap's);
- ``pmtiles:<path>`` — a vector PMTiles archive (e.g. a Protomaps extract of Vietnam; a relative
  path is under the data directory) that the portal itself serves with HTTP range requests at
  ``/basemap/<name>.pmtiles`` and protomaps-leaflet draws: no request leaves the portal;
- ``none`` — no basemap (the commune outlines are the map).

:func:`parse` turns the setting into a :class:`Basemap` (ImproperlyConfigured for a bad
value); :func:`current` is the configured one; :func:`client_config` is what the pages'
``basemap.js`` reads; :func:`content_security_policy` adds the raster host to ``img-src``.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.http import require_safe

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = "© OpenStreetMap contributors"
OSM_COPYRIGHT_URL = "https://www.openstreetmap.org/copyright"
# Hosts whose tiles are OpenStreetMap data and take OpenStreetMap's attribution by default.
_OSM_HOSTS = re.compile(r"(^|\.)openstreetmap\.(org|fr|de)$")
# protomaps-leaflet draws finer zooms from the archive's deepest level (overzoom).
MAX_VIEW_ZOOM = 19
PMTILES_URL_PREFIX = "/basemap/"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class Basemap:
    kind: str  # "xyz" | "pmtiles" | "none"
    url: str = ""  # xyz: the template; pmtiles: the portal's URL of the archive
    attribution: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (text, link or "")
    path: Path | None = None  # pmtiles: the archive on disk
    max_zoom: int = MAX_VIEW_ZOOM

    @property
    def name(self) -> str:
        """The archive's file name as served (pmtiles only)."""
        return self.path.name if self.path else ""

    @property
    def origin(self) -> str:
        """The raster server's origin (scheme://host[:port]) the browser fetches from."""
        if self.kind != "xyz":
            return ""
        parts = urlsplit(self.url)
        # Subdomains a/b/c ({s}.tile.example): CSP's wildcard host covers them all.
        return f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"


def parse(value: str, attribution: str = "", attribution_url: str = "", data_dir: Path | str = ".") -> Basemap:
    """The setting's value as a Basemap; ImproperlyConfigured names what is wrong."""
    value = (value or "").strip()
    kind, _sep, rest = value.partition(":")
    kind = kind.strip().lower()
    attribution = (attribution or "").strip()
    attribution_url = (attribution_url or "").strip()
    if attribution_url and not attribution_url.startswith(("https://", "http://")):
        raise ImproperlyConfigured(
            f"GEO_PORTAL_BASEMAP_ATTRIBUTION_URL must be an http(s) URL, not {attribution_url!r}."
        )
    if kind == "none" and not rest:
        return Basemap("none")
    if kind == "xyz":
        return _parse_xyz(rest.strip(), attribution, attribution_url)
    if kind == "pmtiles":
        return _parse_pmtiles(rest.strip(), attribution, attribution_url, Path(data_dir))
    raise ImproperlyConfigured(
        f"GEO_PORTAL_BASEMAP={value!r}: expected 'xyz:<URL template>', 'pmtiles:<path>' or 'none' "
        f"(e.g. xyz:{OSM_TILES})."
    )


def _parse_xyz(template, attribution, attribution_url):
    parts = urlsplit(template)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ImproperlyConfigured(
            f"GEO_PORTAL_BASEMAP=xyz:{template!r}: the template must be an http(s) URL, e.g. xyz:{OSM_TILES}."
        )
    missing = [p for p in ("{z}", "{x}", "{y}") if p not in template]
    if missing:
        raise ImproperlyConfigured(
            f"GEO_PORTAL_BASEMAP=xyz:{template!r}: the template lacks {', '.join(missing)} "
            "(Leaflet fills {z}/{x}/{y}; a WMTS service needs its REST template in that form)."
        )
    host = (parts.hostname or "").replace("{s}.", "")
    if not attribution:
        if not _OSM_HOSTS.search(host):
            raise ImproperlyConfigured(
                "GEO_PORTAL_BASEMAP_ATTRIBUTION is required with a raster basemap that is not "
                f"OpenStreetMap's ({host}): the tiles' owner must be credited on every map."
            )
        attribution, attribution_url = OSM_ATTRIBUTION, attribution_url or OSM_COPYRIGHT_URL
    return Basemap("xyz", url=template, attribution=((attribution, attribution_url),))


def _parse_pmtiles(raw_path, attribution, attribution_url, data_dir):
    if not raw_path:
        raise ImproperlyConfigured("GEO_PORTAL_BASEMAP=pmtiles:<path>: the archive's path is missing.")
    path = Path(raw_path)
    if not path.is_absolute():
        path = data_dir / path
    path = path.resolve()
    if path.suffix != ".pmtiles" or not _NAME.match(path.name):
        raise ImproperlyConfigured(
            f"GEO_PORTAL_BASEMAP=pmtiles:{raw_path!r}: the archive must be a file named like "
            "'vietnam.pmtiles' (letters, digits, '.', '_', '-')."
        )
    credits = [(attribution, attribution_url)] if attribution else [
        ("Protomaps", "https://protomaps.com"), (OSM_ATTRIBUTION, attribution_url or OSM_COPYRIGHT_URL),
    ]
    return Basemap("pmtiles", url=PMTILES_URL_PREFIX + path.name, attribution=tuple(credits), path=path)


@functools.lru_cache(maxsize=8)
def _parse_cached(value, attribution, attribution_url, data_dir):
    return parse(value, attribution, attribution_url, data_dir)


def current() -> Basemap:
    """The configured basemap (settings read each call, so tests may override them)."""
    from django.conf import settings

    return _parse_cached(
        settings.GEO_PORTAL_BASEMAP, settings.GEO_PORTAL_BASEMAP_ATTRIBUTION,
        settings.GEO_PORTAL_BASEMAP_ATTRIBUTION_URL, str(settings.DATA_DIR),
    )


def archive_max_zoom(path: Path) -> int | None:
    """The deepest zoom stored in a PMTiles archive (its header), None when unreadable."""
    from pmtiles.reader import MmapSource, Reader

    try:
        with open(path, "rb") as fh:
            return int(Reader(MmapSource(fh)).header()["max_zoom"])
    except Exception:  # a missing, truncated or foreign file: no basemap, never a 500
        return None


@functools.lru_cache(maxsize=8)
def _archive_stamp_max_zoom(path, size, mtime_ns):
    return archive_max_zoom(Path(path))


def client_config(basemap: Basemap | None = None) -> dict:
    """What basemap.js needs: kind, URL, attribution (text + link pairs), zoom limits."""
    basemap = basemap or current()
    out = {
        "kind": basemap.kind,
        "url": basemap.url,
        "attribution": [list(pair) for pair in basemap.attribution],
        "maxZoom": basemap.max_zoom,
    }
    if basemap.kind == "pmtiles":
        try:
            st = os.stat(basemap.path)
            data_zoom = _archive_stamp_max_zoom(str(basemap.path), st.st_size, st.st_mtime_ns)
        except OSError:
            data_zoom = None
        if data_zoom is None:  # archive missing or unreadable: draw nothing rather than fail on every tile
            out["kind"] = "none"
        else:
            out["maxDataZoom"] = data_zoom
    return out


def content_security_policy(policy: str, basemap: Basemap | None = None) -> str:
    """``policy`` with the raster basemap's origin added to img-src (nothing for pmtiles/none:
    the archive is same-origin)."""
    basemap = basemap or current()
    origin = basemap.origin
    if not origin or not policy:
        return policy
    directives = [d.strip() for d in policy.split(";") if d.strip()]
    for i, d in enumerate(directives):
        if d.split()[0] == "img-src":
            if origin not in d.split()[1:]:
                directives[i] = f"{d} {origin}"
            break
    else:
        directives.append(f"img-src 'self' data: {origin}")
    return "; ".join(directives)


# --- the archive, served with HTTP range requests ------------------------------------------

_RANGE = re.compile(r"^bytes=\s*(\d*)\s*-\s*(\d*)\s*$")
_CHUNK = 64 * 1024


class Unsatisfiable(Exception):
    """A Range the file cannot satisfy (416)."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte span ``(first, last)`` a Range header asks of a file of ``size``
    bytes; None to answer the whole file (no header, another unit, several ranges or a
    malformed one: RFC 9110 lets a server ignore those); Unsatisfiable for a span that
    starts past the end (or an empty suffix)."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if not m:
        return None
    first, last = m.group(1), m.group(2)
    if first == "" and last == "":
        return None
    if first == "":  # suffix: the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            raise Unsatisfiable
        return max(0, size - n), size - 1
    start = int(first)
    if last and int(last) < start:
        return None  # syntactically invalid: ignored
    if start >= size:
        raise Unsatisfiable
    return start, min(int(last) if last else size - 1, size - 1)


def _read_span(path, first, last):
    with open(path, "rb") as fh:
        fh.seek(first)
        left = last - first + 1
        while left > 0:
            chunk = fh.read(min(_CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


@require_safe
def serve_archive(request, name):
    """GET/HEAD /basemap/<name>.pmtiles: the configured archive only, with Range (206 +
    Content-Range; 416 past the end), a strong ETag (If-None-Match 304, If-Range) and a
    day of public caching; streamed in chunks, never read whole."""
    from django.http import Http404, HttpResponse, HttpResponseNotModified, StreamingHttpResponse
    from django.utils.http import http_date
    from django.utils.translation import gettext as _

    basemap = current()
    if basemap.kind != "pmtiles" or name + ".pmtiles" != basemap.name:
        raise Http404(_("Không có bản đồ nền này."))
    try:
        st = os.stat(basemap.path)
    except OSError:
        raise Http404(_("Không có bản đồ nền này.")) from None
    size = st.st_size
    etag = f'"{size:x}-{st.st_mtime_ns:x}"'
    common = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Last-Modified": http_date(st.st_mtime),
        "Cache-Control": "public, max-age=86400",
    }
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponseNotModified()
        for k, v in common.items():
            response[k] = v
        return _shared(response)
    header = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    if header and if_range and if_range.strip() != etag:
        header = None  # the archive changed since the client's copy: the whole new file
    try:
        span = parse_range(header, size)
    except Unsatisfiable:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        return response
    first, last = span if span else (0, size - 1)
    length = max(0, last - first + 1)
    if request.method == "HEAD" or length == 0:
        response = HttpResponse(status=206 if span else 200)
    else:
        response = StreamingHttpResponse(_read_span(basemap.path, first, last), status=206 if span else 200)
    response["Content-Type"] = "application/vnd.pmtiles"
    response["Content-Length"] = str(length)
    if span:
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    for k, v in common.items():
        response[k] = v
    return _shared(response)


def _shared(response):
    # The same public bytes for everyone: SecurityHeadersMiddleware keeps the caching of
    # an answer marked so even for a signed-in viewer (the basemap is no private data).
    response.shared_public = True
    return response


# --- the pages' part ---------------------------------------------------------------------


def scripts_html():
    """The basemap's configuration (json_script) and scripts, placed after leaflet.js on
    every map page (the context processor's ``basemap_scripts``) and in the admin's maps."""
    from django.templatetags.static import static
    from django.utils.html import format_html, json_script
    from django.utils.safestring import mark_safe

    config = client_config()
    parts = [json_script(config, "basemap-config")]
    if config["kind"] == "pmtiles":
        parts.append(format_html('<script src="{}"></script>', static("vendor/protomaps-leaflet.js")))
    parts.append(format_html('<script src="{}"></script>', static("geo_portal/basemap.js")))
    return mark_safe("".join(parts))  # noqa: S308 — every part is escaped above


def context(request):
    """Context processor: ``{{ basemap_scripts }}`` (a callable: computed only where used)."""
    return {"basemap_scripts": scripts_html}


@checks.register(checks.Tags.compatibility)
def check_archive(app_configs=None, **kwargs):
    """``manage.py check``: a configured archive that is missing or not a PMTiles file
    (the maps then draw no basemap rather than fail)."""
    try:
        basemap = current()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="geo_portal.E010")]
    if basemap.kind != "pmtiles" or archive_max_zoom(basemap.path) is not None:
        return []
    return [checks.Warning(
        f"GEO_PORTAL_BASEMAP: {basemap.path} is missing or not a PMTiles archive; the maps draw no basemap.",
        hint="python manage.py download_data --basemap (on a machine with internet), or GEO_PORTAL_BASEMAP=none.",
        id="geo_portal.W010",
    )]
