"""The boundary API (layers, one area) as documented DRF views (geo_portal/schema.py)."""

from drf_spectacular.utils import OpenApiParameter

from boundaries import api
from geo_portal.schema import ERRORS, INT, NOT_FOUND, STR, array, documented, feature_collection, nullable, obj, query

TAGS = ["boundaries"]

AUTHORITY = obj({
    "id": INT, "code": STR, "name": STR, "name_en": STR, "kind": STR, "kind_name": STR, "level": STR,
    "level_name": STR, "phone": STR, "email": STR, "address": STR, "head_name": STR,
})
AREA = obj({
    "id": INT, "code": STR, "name": STR, "name_en": STR, "full_name": STR, "type": STR, "type_name": STR,
    "version": STR, "version_name": STR, "codes": {"type": "object"},
    "parent": nullable(obj({"id": INT, "code": STR, "name": STR, "type": STR})),
    "authorities": array(AUTHORITY),
    "routing": array(obj({"category_code": nullable(STR), "rule": STR, "priority": INT,
                          "authority": obj({"id": INT, "code": STR, "name": STR, "name_en": STR})})),
})

boundary_geojson = documented(
    api.boundary_geojson, tags=TAGS, summary="A boundary layer as GeoJSON, simplified for the zoom",
    parameters=[OpenApiParameter("version", str, OpenApiParameter.PATH, description="Boundary version, e.g. vn-2025"),
                OpenApiParameter("type_code", str, OpenApiParameter.PATH, description="Area type, e.g. province"),
                query("province", "Only this province's areas"), query("zoom", "0–22", int),
                query("bbox", "west,south,east,north")],
    responses={(200, "application/geo+json"): feature_collection(), 400: ERRORS},
)
area_detail = documented(
    api.area_detail, tags=TAGS, summary="One area with its authorities and routing",
    responses={200: AREA, 404: NOT_FOUND},
)
area_by_code = documented(
    api.area_by_code, tags=TAGS, summary="One area by its official code",
    parameters=[query("version", "Boundary version"), query("type", "Area type")],
    responses={200: AREA, 404: NOT_FOUND},
)
