"""The OpenAPI 3.0 description of /ogcapi/ (the conformance class oas30): written by
hand because these views are plain Django views, not DRF ones."""

from django.urls import reverse

from ogcapi import features as fx


def _param(name, description, schema, where="query", required=False, **extra):
    return {"name": name, "in": where, "description": description, "required": required, "schema": schema, **extra}


def document(request):
    base = request.build_absolute_uri(reverse("ogc-landing")).rstrip("/")
    cid = _param("collectionId", "collection id: reports, reports-<jurisdiction>, areas-<version>-<type>, authorities",
                 {"type": "string"}, where="path", required=True)
    fid = _param("featureId", "feature id (report code, area code, authority code)", {"type": "string"}, where="path",
                 required=True)
    item_params = [
        cid,
        _param("limit", "page size", {"type": "integer", "minimum": 1, "maximum": fx.MAX_LIMIT,
                                      "default": fx.DEFAULT_LIMIT},
               style="form", explode=False),
        _param("offset", "features to skip", {"type": "integer", "minimum": 0, "default": 0}),
        _param("bbox", "minlon,minlat,maxlon,maxlat (CRS84)", {"type": "array", "minItems": 4, "maxItems": 6,
                                                               "items": {"type": "number"}},
               style="form", explode=False),
        _param("datetime", "instant or interval (RFC 3339, '..' for an open end) on created_at", {"type": "string"}),
        _param("filter", "CQL2 text over the collection's queryables", {"type": "string"}),
        _param("filter-lang", "filter language", {"type": "string", "enum": ["cql2-text"], "default": "cql2-text"}),
        _param("zoom", "areas: simplify polygons to about one pixel at this web-map zoom",
               {"type": "integer", "minimum": 0,
               "maximum": fx.MAX_ZOOM, "default": fx.DEFAULT_ZOOM}),
        _param("f", "format", {"type": "string", "enum": ["json", "html"]}),
    ]
    ok = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}, "text/html": {}}}
    geo = {"description": "GeoJSON", "content": {"application/geo+json": {"schema": {"type": "object"}},
                                                 "text/html": {}}}
    bad = {"description": "invalid parameter",
           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/exception"}}}}
    missing = {"description": "not found",
               "content": {"application/json": {"schema": {"$ref": "#/components/schemas/exception"}}}}

    def op(op_id, summary, params=(), response=ok, tags=("Capabilities",)):
        out = {"get": {"operationId": op_id, "summary": summary, "tags": list(tags), "parameters": list(params),
                       "responses": {"200": response, "400": bad}}}
        if any(p["in"] == "path" for p in params):
            out["get"]["responses"]["404"] = missing
        return out

    paths = {
        "/": op("getLandingPage", "landing page"),
        "/conformance": op("getConformanceDeclaration", "conformance classes"),
        "/api": op("getAPI", "this document"),
        "/collections": op("getCollections", "the collections"),
        "/collections/{collectionId}": op("describeCollection", "one collection", [cid]),
        "/collections/{collectionId}/queryables": op("getQueryables", "the queryable properties", [cid],
                                                     tags=("Data",)),
        "/collections/{collectionId}/items": op("getFeatures", "features of a collection", item_params, geo, ("Data",)),
        "/collections/{collectionId}/items/{featureId}": op("getFeature", "one feature",
                                                            [cid, fid, item_params[-2], item_params[-1]],
                                                            geo, ("Data",)),
    }
    # Each collection's own paths, with its queryables as query parameters: clients
    # such as GDAL look up /collections/<id>/items to learn what they may filter on.
    for c in fx.all_collections():
        props = [_param(q.name, str(q.title), {"type": "string"} | ({"enum": q.enum} if q.enum else {}))
                 for q in c.queryables if q.type == "string"]
        own = [p for p in item_params if p["name"] != "collectionId"]
        if c.kind == "reports":
            own = [p for p in own if p["name"] != "zoom"]
        else:
            own = [p for p in own if p["name"] != "datetime"]
        own = [p | {"schema": p["schema"] | {"maximum": c.max_limit}} if p["name"] == "limit" else p for p in own]
        paths[f"/collections/{c.id}"] = op(f"describe-{c.id}", c.title)
        paths[f"/collections/{c.id}/items"] = op(f"getFeatures-{c.id}", c.title, own + props, geo, ("Data",))
        paths[f"/collections/{c.id}/items/{{featureId}}"] = op(f"getFeature-{c.id}", c.title, [fid, item_params[-1]],
                                                               geo, ("Data",))

    return {
        "openapi": "3.0.3",
        "info": {"title": "geo_portal OGC API Features", "version": "1.0.0",
                 "description": "Public field reports, administrative boundaries and authorities."},
        "servers": [{"url": base}],
        "paths": paths,
        "components": {"schemas": {"exception": {
            "type": "object", "required": ["code"],
            "properties": {"code": {"type": "string"}, "description": {"type": "string"}, "errors": {"type": "object"}},
        }}},
    }
