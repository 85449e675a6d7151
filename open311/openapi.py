"""The GeoReport v2 endpoints in the project's OpenAPI schema (geo_portal/schema.py,
``described``): each URL still serves the view itself, XML or JSON by its suffix."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from geo_portal.schema import BOOL, INT, STR, array, described, obj, query
from open311 import views

TAGS = ["open311"]
XML = "text/xml"  # what the views answer for .xml (charset utf-8)
FMT = OpenApiParameter("fmt", str, OpenApiParameter.PATH, enum=["json", "xml"],
                       description="json: the JSON shapes below; xml: the spec's XML")
JURISDICTION = query("jurisdiction_id", "Jurisdiction code (a province's, or the country's)")
API_KEY = query("api_key", "API key (optional for reading; it also reaches the key's own unchecked requests)")
EXTENSIONS = query("extensions", "true: add extended_attributes (state, commune, public notes)", enum=["true", "false"])

ERRORS = array(obj({"code": INT, "description": STR}))
ERROR_TEXT = {
    400: "Bad input: the spec's error array",
    403: "No or a refused api_key",
    404: "Unknown jurisdiction, service, request or token",
    409: "The Idempotency-Key was used for another request",
    411: "A body without its length",
    413: "Body too large",
    415: "Unsupported body type",
    429: "Too many requests: wait (Retry-After)",
}
# Unknown formats do not match the URL: Django's own 404 page.
NOT_FOUND_HTML = "text/html"


def answers(ok_schema, status=200, errors=(400, 403, 404, 429)):
    """The JSON shape of the .json answer, the XML as text; errors in the same format."""
    out = {(status, "application/json"): ok_schema, (status, XML): OpenApiTypes.STR}
    for code in errors:
        out[(code, "application/json")] = ERRORS
        out[(code, XML)] = OpenApiTypes.STR
    out[(404, NOT_FOUND_HTML)] = OpenApiTypes.STR
    return out


ENDPOINT = obj({"specification": STR, "url": STR, "changeset": STR, "type": STR, "formats": array(STR)})
SERVICE = obj({"service_code": STR, "service_name": STR, "description": STR, "metadata": BOOL, "type": STR,
               "keywords": STR, "group": STR})
ATTRIBUTE = obj({
    "variable": BOOL, "code": STR, "datatype": STR, "required": BOOL, "datatype_description": STR, "order": INT,
    "description": STR, "values": array(obj({"key": STR, "name": STR})),
})
NOTE = obj({"datetime": STR, "status": STR, "extended_status": STR, "state": STR, "description": STR})
SERVICE_REQUEST = obj({
    "service_request_id": STR, "status": {"type": "string", "enum": ["open", "closed"]}, "status_notes": STR,
    "service_name": STR, "service_code": STR, "description": STR, "agency_responsible": STR, "service_notice": STR,
    "requested_datetime": STR, "updated_datetime": STR, "expected_datetime": STR, "address": STR, "address_id": STR,
    "zipcode": STR, "lat": STR, "long": STR, "media_url": STR,
    "extended_attributes": obj({"state": STR, "extended_status": STR, "jurisdiction_id": STR, "commune": STR,
                                "notes": array(NOTE)}),
}, required=["service_request_id", "status", "service_code", "requested_datetime", "lat", "long"])
UPDATE = obj({"update_id": STR, "service_request_id": STR, "status": STR, "external_status_code": STR,
              "updated_datetime": STR, "description": STR, "media_url": STR})
CREATED = obj({"service_request_id": STR, "token": STR, "service_notice": STR, "account_id": STR})
WHEN = "W3C datetime, e.g. 2026-01-31T00:00:00+07:00"

POST_FIELDS = {
    "api_key": STR, "jurisdiction_id": STR, "service_code": STR, "lat": STR, "long": STR, "address_string": STR,
    "description": STR, "first_name": STR, "last_name": STR, "phone": STR, "email": STR, "device_id": STR,
    "account_id": STR,
}
POST_BODY = obj(POST_FIELDS, required=["api_key", "service_code", "lat", "long", "description"])
POST_MULTIPART = obj({**POST_FIELDS, "media": {"type": "string", "format": "binary"}},
                     required=["api_key", "service_code", "lat", "long", "description"])

discovery = described(views.discovery, get=dict(
    tags=TAGS, operation_id="open311_discovery",
    summary="Discovery: the endpoint, its formats and the contact", parameters=[FMT],
    responses=answers(obj({"changeset": STR, "contact": STR, "key_service": STR, "endpoints": array(ENDPOINT)}),
                      errors=(429,)),
))
service_list = described(views.service_list, get=dict(
    tags=TAGS, operation_id="open311_service_list",
    summary="Services (categories) of a jurisdiction", parameters=[FMT, JURISDICTION, API_KEY],
    responses=answers(array(SERVICE)),
))
service_definition = described(views.service_definition, get=dict(
    tags=TAGS, operation_id="open311_service_definition", summary="A service's questions (attributes)",
    parameters=[FMT, OpenApiParameter("code", str, OpenApiParameter.PATH), JURISDICTION, API_KEY],
    responses=answers(obj({"service_code": STR, "attributes": array(ATTRIBUTE)})),
))
requests = described(
    views.requests,
    get=dict(
        tags=TAGS, operation_id="open311_requests",
        summary="Public service requests (newest first; X-Next-Page when there are more)",
        parameters=[
            FMT, JURISDICTION, API_KEY, EXTENSIONS,
            query("service_request_id", "Request ids, comma separated (the other filters are then ignored)"),
            query("service_code", "Service codes, comma separated"),
            query("status", "open, closed or both, comma separated"),
            query("start_date", WHEN), query("end_date", WHEN),
            query("bbox", "west,south,east,north in degrees"),
            query("page", "Page, from 1", int), query("page_size", "Requests per page", int),
        ],
        responses=answers(array(SERVICE_REQUEST)),
    ),
    post=dict(
        tags=TAGS, operation_id="open311_requests_create",
        summary="Submit a service request (form or multipart with media)",
        parameters=[FMT, OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER,
                                          description="A retry with the same key answers the first request's")],
        request={"application/x-www-form-urlencoded": POST_BODY, "multipart/form-data": POST_MULTIPART},
        responses=answers(array(CREATED), status=201, errors=(400, 403, 404, 409, 411, 413, 415, 429)),
    ),
)
request_detail = described(views.request_detail, get=dict(
    tags=TAGS, operation_id="open311_request_detail", summary="One service request",
    parameters=[FMT, OpenApiParameter("request_id", str, OpenApiParameter.PATH), JURISDICTION, API_KEY, EXTENSIONS],
    responses=answers(array(SERVICE_REQUEST)),
))
token = described(views.token, get=dict(
    tags=TAGS, operation_id="open311_token", summary="The request id behind a token",
    parameters=[FMT, OpenApiParameter("token", str, OpenApiParameter.PATH), JURISDICTION, API_KEY],
    responses=answers(array(obj({"service_request_id": STR, "token": STR}))),
))
request_updates = described(views.request_updates, get=dict(
    tags=TAGS, operation_id="open311_request_updates",
    summary="Public status changes (FixMyStreet's servicerequestupdates)",
    parameters=[FMT, JURISDICTION, API_KEY, query("start_date", WHEN + " (default: a day before end_date)"),
                query("end_date", WHEN), query("page_size", "Updates per page", int)],
    responses=answers(array(UPDATE)),
))
