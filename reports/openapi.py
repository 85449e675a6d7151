"""/api/v1/locate as a documented DRF view (geo_portal/schema.py)."""

from drf_spectacular.types import OpenApiTypes

from geo_portal.schema import ERRORS, INT, NUM, STR, array, documented, nullable, obj, query
from reports import api_locate

AREA = obj({"id": INT, "type": STR, "type_name": STR, "code": STR, "name": STR, "name_en": STR, "version": STR})

locate_view = documented(
    api_locate.locate_view, tags=["locate"],
    summary="The areas containing a point (one per level) and, with a category, who receives reports there",
    parameters=[query("lat", "Latitude (WGS 84)", float, required=True),
                query("lon", "Longitude (WGS 84)", float, required=True),
                query("category", "Category code: adds the routing"),
                query("at", "ISO 8601 date or time: the boundaries valid then", OpenApiTypes.DATETIME)],
    responses={200: obj({
        "areas": array(AREA), "snapped_m": nullable(NUM), "reason": nullable(STR), "message": nullable(STR),
        "at": nullable(STR),
        "category": obj({"code": STR, "name": STR, "name_en": STR}),
        "authority": nullable(obj({"id": INT, "code": STR, "name": STR, "name_en": STR, "kind": STR, "level": STR,
                                   "phone": STR, "email": STR})),
        "rule": nullable(obj({"id": INT, "name": STR, "priority": INT})),
        "matched_area": nullable(obj({"code": STR, "name": STR})),
        "explanation": nullable(STR),
    }, required=["areas", "snapped_m", "reason", "message", "at"]), 400: ERRORS},
)
