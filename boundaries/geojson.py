"""Boundary layers as GeoJSON, simplified for the zoom they are shown at.

The whole FeatureCollection is built by PostgreSQL (``json_build_object`` +
``ST_AsGeoJSON``) so Python never touches the coordinates.

Measured on the national full-resolution communes (3,321 features, 7.1 M vertices;
bench database): zoom 5 → 1.1 MB (compact properties; 1.5 MB with all of them), zoom 7 →
1.9 MB, zoom 10 → 8 MB; one province's communes at zoom 11 → ~0.5 MB. The demo's national
layer is the 50 m simplified one, lighter still. The tolerance of
``ST_SimplifyPreserveTopology`` is half a screen pixel at the requested zoom (Web
Mercator, 256-px tiles), and coordinates are rounded to the precision that pixel needs.
At low zoom the bytes are mostly per-feature (every commune keeps a ring of >= 4
points): for a whole country at zoom < 8 a province layer, or vector tiles, is the
lighter choice.
"""

import hashlib
import math

from django.db import connection

FROM_WHERE = """
FROM boundaries_area a
JOIN boundaries_areatype t ON t.id = a.type_id
JOIN boundaries_boundaryversion v ON v.id = a.version_id
LEFT JOIN boundaries_area par ON par.id = a.parent_id
LEFT JOIN boundaries_area gpar ON gpar.id = par.parent_id
WHERE v.code = %(version)s AND t.code = %(type)s
  AND (%(province)s::text IS NULL OR par.code = %(province)s::text OR gpar.code = %(province)s::text
       OR (t.code = 'province' AND a.code = %(province)s::text))
  AND (%(bbox)s::float8[] IS NULL OR a.geom && ST_MakeEnvelope(
       (%(bbox)s::float8[])[1], (%(bbox)s::float8[])[2], (%(bbox)s::float8[])[3], (%(bbox)s::float8[])[4], 4326))
"""

GEOJSON_SQL = """
SELECT json_build_object(
    'type', 'FeatureCollection',
    'features', coalesce(json_agg(json_build_object(
        'type', 'Feature',
        'id', a.id,
        'properties', CASE WHEN %(compact)s
            THEN json_build_object('id', a.id, 'code', a.code, 'name', a.name, 'parent_code', par.code)
            ELSE json_build_object(
                'id', a.id, 'code', a.code, 'name', a.name, 'name_en', a.name_en,
                'full_name', a.properties->>'full_name',
                'type', t.code, 'version', v.code,
                'parent_code', par.code, 'parent_name', par.name) END,
        'geometry', ST_AsGeoJSON(
            ST_SimplifyPreserveTopology(a.geom, %(tol)s), %(digits)s)::json
    ) ORDER BY a.code), '[]'::json)
)::text
""" + FROM_WHERE

# The layer's features, counted with the layer's own conditions, and how the data
# stands (a re-import or an edit changes it): part of the cache key.
COUNT_SQL = "SELECT count(*), coalesce(max(a.id), 0) " + FROM_WHERE

# Finer than this the layer would only grow: half a pixel at zoom 14 is ~2 m.
MAX_ZOOM = 14
# Above this many features at a detailed zoom (>= COMPACT_BELOW_ZOOM) a layer is
# refused (400): the whole country's communes at zoom 12 were 18-29 MB and 4-5 s.
# One province's communes (<= ~170) or a map view's bbox stay far below.
MAX_DETAILED_FEATURES = 1000
MAX_FEATURES = 5000
CACHE_SECONDS = 3600


COMPACT_BELOW_ZOOM = 9


def tolerance_for_zoom(zoom: int) -> float:
    """Half a pixel at ``zoom``, in degrees of longitude."""
    return 360.0 / (256 * 2**zoom) / 2


class TooManyFeatures(Exception):
    def __init__(self, count, limit):
        super().__init__(count, limit)
        self.count, self.limit = count, limit


def _where_params(version, type_code, province, bbox):
    return {"version": version, "type": type_code, "province": province, "bbox": list(bbox) if bbox else None}


def bounded_layer(version: str, type_code: str, zoom: int, province: str | None = None, bbox=None) -> str:
    """boundary_layer for a caller anyone may be: the zoom clamped to MAX_ZOOM, the
    feature count capped (TooManyFeatures), the answer cached (Django cache) by its
    normalised parameters and the layer's state (count and last id: a re-import
    changes them; an edit in the admin clears the cache through the generation)."""
    from django.core.cache import cache

    zoom = min(zoom, MAX_ZOOM)
    where = _where_params(version, type_code, province, bbox)
    with connection.cursor() as cur:
        cur.execute(COUNT_SQL, where)
        count, last_id = cur.fetchone()
    limit = MAX_DETAILED_FEATURES if zoom >= COMPACT_BELOW_ZOOM else MAX_FEATURES
    if count > limit:
        raise TooManyFeatures(count, limit)
    bbox_key = ",".join(f"{x:.6f}" for x in bbox) if bbox else ""
    key = (f"boundaries:layer:{cache.get('boundaries:generation', 0)}:{count}:{last_id}:{version}:{type_code}:"
           f"{zoom}:{province or ''}:{bbox_key}")
    key = "boundaries:layer:" + hashlib.sha1(key.encode()).hexdigest()
    try:
        body = cache.get(key)
    except Exception:  # noqa: BLE001 - a cache outage must not break the map
        body = None
    if body is None:
        body = boundary_layer(version, type_code, zoom, province=province, bbox=bbox)
        try:
            cache.set(key, body, CACHE_SECONDS)
        except Exception:  # noqa: BLE001
            pass
    return body


def bump_generation(**kwargs):
    """An area or a version was saved or deleted: cached layers are stale."""
    from django.core.cache import cache

    try:
        # Outlives every cached layer (CACHE_SECONDS): a reset to 0 after a day finds none.
        cache.add("boundaries:generation", 0, 86400)
        cache.incr("boundaries:generation")
    except Exception:  # noqa: BLE001
        pass


def boundary_layer(version: str, type_code: str, zoom: int, province: str | None = None, bbox=None) -> str:
    """The areas of ``type_code`` in ``version`` (optionally of one province or within a
    bbox (minlon, minlat, maxlon, maxlat)) as a GeoJSON FeatureCollection string."""
    tol = tolerance_for_zoom(zoom)
    digits = max(3, min(7, math.ceil(-math.log10(tol)) + 1))
    params = {
        "version": version,
        "type": type_code,
        "province": province,
        "bbox": list(bbox) if bbox else None,
        "tol": tol,
        "digits": digits,
        # Below zoom 9 (a whole country or region) the labels are not shown: the
        # features carry only id, code, name and parent code (half the bytes).
        "compact": zoom < COMPACT_BELOW_ZOOM,
    }
    with connection.cursor() as cur:
        cur.execute(GEOJSON_SQL, params)
        return cur.fetchone()[0]


def area_lineage_codes(area) -> dict:
    """{type code: area code} for the area and its ancestors: the codes a panel shows."""
    codes, seen, node = {}, set(), area
    while node is not None and node.id not in seen:
        seen.add(node.id)
        codes.setdefault(node.type.code, node.code)
        node = node.parent
    return codes


def current_layer_url(type_code):
    """The URL of the GeoJSON layer of ``type_code`` areas in the current boundary version
    (``BoundaryVersion.objects.current()``: pages never name a version); "" when there is
    no current version."""
    from django.urls import reverse

    from boundaries.models import BoundaryVersion

    version = BoundaryVersion.objects.current()
    if version is None:
        return ""
    return reverse("boundary-geojson", kwargs={"version": version.code, "type_code": type_code})
