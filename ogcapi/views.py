"""OGC API Features (Part 1 Core, Part 3 Filtering with CQL2 text) at /ogcapi/.

JSON (GeoJSON for features) or HTML, chosen by ``f=json|html`` or the Accept header.
Read-only and public: every answer is the same for everyone (reports in public states,
public fields only). Bad parameters answer 400 with {code, description, errors}.
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from django.db import DataError, ProgrammingError, transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from ogcapi import features as fx
from ogcapi.features import CRS84, QueryError

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    # Not temporal-functions: pygeofilter 0.4's CQL2 text grammar reads T_AFTER and the
    # like only infix, not as the standard's functions. Comparisons of TIMESTAMP()s and
    # the datetime parameter cover time.
]
GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA_JSON = "application/schema+json"


def wants_html(request):
    f = request.GET.get("f")
    if f:
        if f not in ("json", "html", "geojson"):
            raise QueryError({"f": _("Định dạng phải là json hoặc html.")})
        return f == "html"
    accept = request.headers.get("Accept", "")
    # Browsers send text/html first; GDAL, QGIS and scripts ask for JSON or nothing.
    return "text/html" in accept and "json" not in accept.split("text/html")[0]


def url(request, path, **params):
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return request.build_absolute_uri(path) + ("?" + query if query else "")


def self_links(request, path, json_type=JSON, title=""):
    """self + alternate: the JSON and HTML renderings of the same resource."""
    keep = {k: v for k, v in request.GET.items() if k != "f"}
    html = wants_html(request)
    return [
        {"href": url(request, path, **keep, f="json"), "rel": "alternate" if html else "self", "type": json_type,
         "title": title or _("Dạng JSON")},
        {"href": url(request, path, **keep, f="html"), "rel": "self" if html else "alternate", "type": HTML,
         "title": _("Dạng HTML")},
    ]


def answer(request, data, html_template, content_type=JSON, status=200, context=None):
    if wants_html(request):
        ctx = {"data": data, "pretty": json.dumps(data, ensure_ascii=False, indent=2)[:20000], **(context or {})}
        return render(request, html_template, ctx, status=status)
    resp = JsonResponse(data, status=status, safe=False, json_dumps_params={"ensure_ascii": False})
    resp["Content-Type"] = content_type
    return resp


def error(code, status, description, errors=None):
    body = {"code": code, "description": description}
    if errors:
        body["errors"] = errors
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


def ogc_view(view):
    """GET and HEAD only; QueryError → 400 with per-parameter messages."""

    @require_safe
    def wrapped(request, *args, **kwargs):
        try:
            resp = view(request, *args, **kwargs)
        except QueryError as exc:
            resp = error("InvalidParameterValue", 400, _("Tham số không hợp lệ."), exc.errors)
        # JSON or HTML by the Accept header: caches must keep them apart.
        patch_vary_headers(resp, ["Accept"])
        return resp

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def not_found(what):
    return error("NotFound", 404, what)


# --- resources ------------------------------------------------------------------------


@ogc_view
def landing(request):
    base = reverse("ogc-landing")
    data = {
        "title": _("Phản ánh hiện trường – OGC API Features"),
        "description": _("Phản ánh công khai, ranh giới hành chính và cơ quan xử lý, theo chuẩn OGC API Features."),
        "links": self_links(request, base) + [
            {"href": url(request, reverse("ogc-api")), "rel": "service-desc", "type": OPENAPI,
             "title": _("Mô tả API (OpenAPI 3.0)")},
            {"href": url(request, reverse("ogc-api"), f="html"), "rel": "service-doc", "type": HTML,
             "title": _("Tài liệu API")},
            {"href": url(request, reverse("ogc-conformance")), "rel": "conformance", "type": JSON,
             "title": _("Các lớp phù hợp chuẩn")},
            {"href": url(request, reverse("ogc-collections")), "rel": "data", "type": JSON,
             "title": _("Các tập dữ liệu")},
        ],
    }
    return answer(request, data, "ogcapi/landing.html")


@ogc_view
def conformance(request):
    data = {"conformsTo": CONFORMANCE}
    return answer(request, data, "ogcapi/conformance.html")


def collection_doc(request, c, with_extent=True):
    path = reverse("ogc-collection", args=[c.id])
    items = reverse("ogc-items", args=[c.id])
    doc = {
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "links": [
            {"href": url(request, path), "rel": "self", "type": JSON, "title": c.title},
            {"href": url(request, path, f="html"), "rel": "alternate", "type": HTML, "title": c.title},
            {"href": url(request, items), "rel": "items", "type": GEOJSON, "title": _("Các đối tượng")},
            {"href": url(request, items, f="html"), "rel": "items", "type": HTML, "title": _("Các đối tượng (HTML)")},
            {"href": url(request, reverse("ogc-queryables", args=[c.id])),
             "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables", "type": SCHEMA_JSON,
             "title": _("Thuộc tính lọc được")},
        ],
    }
    if with_extent:
        ext = c.extent()
        spatial = {"bbox": [[round(v, 6) for v in ext["bbox"]]] if ext.get("bbox") else [[-180, -90, 180, 90]],
                   "crs": CRS84}
        doc["extent"] = {"spatial": spatial}
        if c.temporal:
            doc["extent"]["temporal"] = {
                "interval": [[ext["t0"].isoformat() if ext.get("t0") else None,
                              ext["t1"].isoformat() if ext.get("t1") else None]],
                "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
            }
    return doc


@ogc_view
def collections(request):
    cols = [collection_doc(request, c) for c in fx.all_collections()]
    data = {
        "links": self_links(request, reverse("ogc-collections")),
        "collections": cols,
    }
    return answer(request, data, "ogcapi/collections.html")


@ogc_view
def collection(request, cid):
    c = fx.get_collection(cid)
    if c is None:
        return not_found(_("Không có tập dữ liệu “%(id)s”.") % {"id": cid})
    return answer(request, collection_doc(request, c), "ogcapi/collection.html")


@ogc_view
def queryables(request, cid):
    c = fx.get_collection(cid)
    if c is None:
        return not_found(_("Không có tập dữ liệu “%(id)s”.") % {"id": cid})
    props = {}
    for q in c.queryables:
        if q.type == "geometry":
            props[q.name] = {"title": str(q.title), "format": "geometry-any",
                             "$ref": "https://geojson.org/schema/Geometry.json"}
        elif q.type == "datetime":
            props[q.name] = {"title": str(q.title), "type": "string", "format": "date-time"}
        else:
            props[q.name] = {"title": str(q.title), "type": q.type} | ({"enum": q.enum} if q.enum else {})
    data = {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": url(request, reverse("ogc-queryables", args=[c.id])),
        "type": "object",
        "title": c.title,
        "properties": props,
        "additionalProperties": False,
    }
    return answer(request, data, "ogcapi/queryables.html", content_type=SCHEMA_JSON, context={"collection": c})


def feature(request, c, obj, bases=None):
    """A GeoJSON Feature; ``bases`` (the items and collection URLs) are computed once
    per page rather than once per feature."""
    items_url, collection_url = bases or feature_bases(request, c)
    fid = c.feature_id(obj)
    return {
        "type": "Feature",
        "id": fid,
        "geometry": json.loads(obj.geojson) if obj.geojson else None,
        "properties": c.properties(obj),
        "links": [
            {"href": f"{items_url}/{quote(str(fid), safe='')}", "rel": "self", "type": GEOJSON},
            {"href": collection_url, "rel": "collection", "type": JSON},
        ],
    }


def feature_bases(request, c):
    return url(request, reverse("ogc-items", args=[c.id])), url(request, reverse("ogc-collection", args=[c.id]))


def geojson_response(request, data, template, context):
    resp = answer(request, data, template, content_type=GEOJSON, context=context)
    resp["Content-Crs"] = f"<{CRS84}>"
    return resp


@ogc_view
def items(request, cid):
    c = fx.get_collection(cid)
    if c is None:
        return not_found(_("Không có tập dữ liệu “%(id)s”.") % {"id": cid})
    limit = fx.parse_limit(request.GET.get("limit"), c.max_limit)
    offset = fx.parse_offset(request.GET.get("offset"))
    zoom = fx.parse_zoom(request.GET.get("zoom"))
    qs = fx.filtered(c, request.GET)
    try:
        # A savepoint: a filter the database refuses (a date compared with a word, text
        # with a number) leaves the connection usable for the 400.
        with transaction.atomic():
            matched = qs.count()
            page = list(c.with_geometry(qs, zoom)[offset:offset + limit])
    except (DataError, ProgrammingError):
        if not request.GET.get("filter"):
            raise
        raise QueryError({"filter": _("Biểu thức CQL2 so sánh thuộc tính với giá trị sai kiểu.")}) from None
    path = reverse("ogc-items", args=[c.id])
    bases = feature_bases(request, c)
    fmt = "html" if wants_html(request) else None
    keep = {k: v for k, v in request.GET.items() if k not in ("offset", "limit", "f")}
    links = self_links(request, path, GEOJSON) + [
        {"href": url(request, reverse("ogc-collection", args=[c.id])), "rel": "collection", "type": JSON,
         "title": c.title},
    ]
    if offset + len(page) < matched:
        links.append({"href": url(request, path, **keep, offset=offset + limit, limit=limit, f=fmt), "rel": "next",
                      "type": HTML if fmt else GEOJSON, "title": _("Trang sau")})
    if offset > 0:
        links.append({"href": url(request, path, **keep, offset=max(0, offset - limit), limit=limit, f=fmt),
                      "rel": "prev",
                      "type": HTML if fmt else GEOJSON, "title": _("Trang trước")})
    data = {
        "type": "FeatureCollection",
        "features": [feature(request, c, o, bases) for o in page],
        "numberMatched": matched,
        "numberReturned": len(page),
        "timeStamp": timezone.now().replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "links": links,
    }
    columns = list(data["features"][0]["properties"])[:8] if page else []
    rows = [{"href": f["links"][0]["href"] + "?f=html",
             "cells": [f["properties"][k] for k in columns]} for f in data["features"]]
    return geojson_response(request, data, "ogcapi/items.html", {
        "collection": c, "rows": rows, "columns": columns,
        "next": next((link["href"] for link in links if link["rel"] == "next"), None),
        "prev": next((link["href"] for link in links if link["rel"] == "prev"), None),
        "first": offset + 1 if page else 0, "last": offset + len(page),
    })


@ogc_view
def item(request, cid, fid):
    c = fx.get_collection(cid)
    if c is None:
        return not_found(_("Không có tập dữ liệu “%(id)s”.") % {"id": cid})
    zoom = fx.parse_zoom(request.GET.get("zoom"))
    obj = c.with_geometry(c.lookup_feature(c.base_queryset(), fid), zoom).first()
    if obj is None:
        return not_found(_("Không có đối tượng này trong tập dữ liệu."))
    data = feature(request, c, obj)
    data["links"] = self_links(request, reverse("ogc-item", args=[c.id, fid]), GEOJSON) + data["links"][1:]
    return geojson_response(request, data, "ogcapi/item.html", {"collection": c, "props": data["properties"]})


@ogc_view
def api_document(request):
    from ogcapi.openapi import document

    data = document(request)
    if wants_html(request):
        return render(request, "ogcapi/api.html",
                      {"data": data, "pretty": json.dumps(data, ensure_ascii=False, indent=2)})
    return HttpResponse(json.dumps(data, ensure_ascii=False), content_type=OPENAPI)
