"""The OGC API Features endpoints in the project's OpenAPI schema (geo_portal/schema.py,
``described``); /ogcapi/api keeps its own OGC-style document (ogcapi/openapi.py). Each URL
still serves the view itself: JSON (GeoJSON for features) or HTML by ``f`` or Accept."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from geo_portal.schema import INT, STR, array, described, nullable, obj, query
from ogcapi import features as fx
from ogcapi import views

TAGS = ["ogcapi"]
F = query("f", "json (GeoJSON for features) or html; default by the Accept header",
          enum=["json", "html", "geojson"])
CID = OpenApiParameter("cid", str, OpenApiParameter.PATH,
                       description="Collection id: reports, reports-<jurisdiction>, areas-<version>-<type>, "
                                   "authorities")
FID = OpenApiParameter("fid", str, OpenApiParameter.PATH, description="Feature id (report, area or authority code)")
ZOOM = query("zoom", f"Areas: simplify polygons to about a pixel at this web-map zoom (0–{fx.MAX_ZOOM})", int)

LINK = obj({"href": STR, "rel": STR, "type": STR, "title": STR}, required=["href", "rel"])
LINKS = array(LINK)
EXCEPTION = obj({"code": STR, "description": STR, "errors": {"type": "object", "additionalProperties": STR}},
                required=["code", "description"])
# A refused query string (a NUL byte…) before the view: geo_portal/input_guard.py.
REFUSED = obj({"detail": STR, "errors": {"type": "object", "additionalProperties": array(STR)}})
COLLECTION = obj({
    "id": STR, "title": STR, "description": STR, "itemType": STR, "crs": array(STR), "storageCrs": STR, "links": LINKS,
    "extent": obj({"spatial": obj({"bbox": array(array({"type": "number"})), "crs": STR}),
                   "temporal": obj({"interval": array(array(nullable(STR))), "trs": STR})}, required=["spatial"]),
}, required=["id", "title", "itemType", "links"])
FEATURE = obj({
    "type": {"type": "string", "enum": ["Feature"]},
    "id": {"oneOf": [STR, INT]},
    "geometry": nullable(obj({"type": STR, "coordinates": array({})}, required=["type"])),
    "properties": {"type": "object"},
    "links": LINKS,
}, required=["type", "id", "geometry", "properties"])


def answers(json_schema, media_type="application/json", path=False):
    """JSON (or GeoJSON…) or the HTML page; 400 for a bad parameter, 404 for an unknown id."""
    out = {
        (200, media_type): json_schema, (200, "text/html"): OpenApiTypes.STR,
        (400, "application/json"): {"oneOf": [EXCEPTION, REFUSED]}, (400, "text/plain"): OpenApiTypes.STR,
    }
    if path:
        out[(404, "application/json")] = EXCEPTION
    return out


landing = described(views.landing, get=dict(
    tags=TAGS, operation_id="ogc_landing", summary="OGC API Features: landing page", parameters=[F],
    responses=answers(obj({"title": STR, "description": STR, "links": LINKS})),
))
conformance = described(views.conformance, get=dict(
    tags=TAGS, operation_id="ogc_conformance",
    summary="OGC API Features: conformance classes", parameters=[F],
    responses=answers(obj({"conformsTo": array(STR)})),
))
api_document = described(views.api_document, get=dict(
    tags=TAGS, operation_id="ogc_api_document",
    summary="OGC API Features: its own OpenAPI 3.0 document", parameters=[F],
    responses=answers(obj({"openapi": STR, "info": {"type": "object"}, "paths": {"type": "object"}}),
                      media_type=views.OPENAPI),
))
collections = described(views.collections, get=dict(
    tags=TAGS, operation_id="ogc_collections", summary="OGC API Features: the collections", parameters=[F],
    responses=answers(obj({"links": LINKS, "collections": array(COLLECTION)})),
))
collection = described(views.collection, get=dict(
    tags=TAGS, operation_id="ogc_collection", summary="OGC API Features: one collection", parameters=[CID, F],
    responses=answers(COLLECTION, path=True),
))
queryables = described(views.queryables, get=dict(
    tags=TAGS, operation_id="ogc_queryables",
    summary="OGC API Features: a collection's queryable properties (JSON Schema)", parameters=[CID, F],
    responses=answers(obj({"$schema": STR, "$id": STR, "type": STR, "title": STR,
                           "properties": {"type": "object", "additionalProperties": {"type": "object"}}}),
                      media_type=views.SCHEMA_JSON, path=True),
))
items = described(views.items, get=dict(
    tags=TAGS, operation_id="ogc_items",
    summary="OGC API Features: a collection's features (GeoJSON), filtered and paged",
    parameters=[
        CID, F, ZOOM,
        query("limit", f"Page size (1–; clamped to the collection's maximum, at most {fx.MAX_LIMIT})", int),
        query("offset", "Features to skip", int),
        query("bbox", "minlon,minlat,maxlon,maxlat (CRS84)"),
        query("bbox-crs", "Only CRS84"),
        query("datetime", "Reports: instant or interval (RFC 3339, '..' for an open end) on created_at"),
        query("filter", "CQL2 text over the collection's queryables"),
        query("filter-lang", "Filter language", enum=["cql2-text"]),
    ],
    responses=answers(obj({
        "type": {"type": "string", "enum": ["FeatureCollection"]}, "features": array(FEATURE),
        "numberMatched": INT, "numberReturned": INT, "timeStamp": STR, "links": LINKS,
    }), media_type=views.GEOJSON, path=True),
))
item = described(views.item, get=dict(
    tags=TAGS, operation_id="ogc_item",
    summary="OGC API Features: one feature (GeoJSON)", parameters=[CID, FID, F, ZOOM],
    responses=answers(FEATURE, media_type=views.GEOJSON, path=True),
))
