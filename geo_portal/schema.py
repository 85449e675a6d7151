"""OpenAPI for the plain Django JSON views (map data, statistics, boundaries, locate,
the wall's state): a thin DRF APIView around each, so drf-spectacular documents it.

The wrapped view still receives the Django request and answers exactly as before; the
wrapper adds DRF's authentication (a token works as it does on the reports API — DRF
sets the user on the Django request too) and its schema. The response schemas below are
checked against real answers by tests/test_schema_fuzz.py (schemathesis).

Open311 and OGC API Features have their own error formats and content types: they are
``described`` (the URL serves the view itself; a DRF class beside it only carries the
schema) rather than ``documented``.
"""

import functools

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView


class AnswerAsTheViewDoes(BaseContentNegotiation):
    """The wrapped view picks its own content type (JSON, GeoJSON, CSV, a vector tile):
    never refuse a request for its Accept header."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def documented(view, **schema):
    """``view`` (a GET-only Django view) as a DRF view described by ``extend_schema(**schema)``."""

    class Documented(APIView):
        permission_classes = [AllowAny]
        content_negotiation_class = AnswerAsTheViewDoes

        @extend_schema(**schema)
        def get(self, request, *args, **kwargs):
            return view(request._request, *args, **kwargs)

    Documented.__name__ = Documented.__qualname__ = "".join(p.title() for p in view.__name__.split("_"))
    Documented.__doc__ = view.__doc__
    Documented.__module__ = view.__module__
    return Documented.as_view()


def described(view, get=None, post=None):
    """``view`` served exactly as it is (its own methods, errors, headers and formats: an
    XML 405 stays XML), with a DRF class beside it that only describes it to
    drf-spectacular: ``get``/``post`` are ``extend_schema`` keyword arguments.

    ``documented`` puts DRF in front of the view (authentication, DRF's own 401/405,
    Allow and Vary headers); for protocols with their own error format (Open311, OGC API)
    that would change the answers, so here the URL keeps calling the view itself and
    the schema generator finds the class on its ``cls`` attribute, as on any DRF view."""

    class Described(APIView):
        permission_classes = [AllowAny]
        authentication_classes = []

    for method, schema in (("get", get), ("post", post)):
        if schema is not None:
            def handler(self, request, *args, **kwargs):  # never called: the URL serves ``view``
                raise NotImplementedError
            handler.__name__ = method
            # x-own-errors: add_error_responses leaves the errors as described here.
            setattr(Described, method, extend_schema(extensions={"x-own-errors": True}, **schema)(handler))

    Described.__name__ = Described.__qualname__ = "".join(p.title() for p in view.__name__.split("_"))
    Described.__doc__ = view.__doc__
    Described.__module__ = view.__module__

    @functools.wraps(view)
    def served(request, *args, **kwargs):
        return view(request, *args, **kwargs)

    served.cls = Described
    served.initkwargs = {}
    return served


def query(name, description="", type=str, **kwargs):
    return OpenApiParameter(name, type, OpenApiParameter.QUERY, description=description, **kwargs)


# --- schema pieces --------------------------------------------------------------------

STR = {"type": "string"}
INT = {"type": "integer"}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}


def nullable(schema):
    return {**schema, "nullable": True}


def obj(properties, required=None, extra=True):
    """An object with these properties, all required unless ``required`` says otherwise."""
    required = list(properties) if required is None else required
    schema = {"type": "object", "properties": properties}
    if required:  # OpenAPI 3.0: "required" may not be empty
        schema["required"] = required
    if not extra:
        schema["additionalProperties"] = False
    return schema


def array(items):
    return {"type": "array", "items": items}


GEOMETRY = obj({"type": STR, "coordinates": array({})}, required=["type"])


def feature_collection(properties=None, extra=None):
    feature = obj({
        "type": {"type": "string", "enum": ["Feature"]},
        "geometry": nullable(GEOMETRY),
        "properties": obj(properties or {}) if properties else {"type": "object"},
    }, required=["type", "geometry", "properties"])
    return obj({"type": {"type": "string", "enum": ["FeatureCollection"]}, "features": array(feature), **(extra or {})})


# What every bad request answers: the field errors (a message or a list of messages).
ERRORS = obj({
    "errors": {"type": "object", "additionalProperties": {"oneOf": [STR, array(STR)]}},
    "detail": STR,
    "message": STR,
}, required=["errors"])
NOT_FOUND = obj({"detail": STR, "message": STR}, required=[])


# --- the errors every operation may answer ---------------------------------------------

ERROR_BODY = obj({
    "detail": STR,
    "errors": {"type": "object", "additionalProperties": {"oneOf": [STR, array(STR)]}},
    "message": STR,
    "code": STR,
}, required=[])
ERROR_TEXT = {
    400: "Bad input: the fields and their translated messages",
    401: "Sign in (or send a token) first",
    403: "Signed in, but not allowed",
    404: "Unknown, or not visible to the caller",
    409: "Someone acted first (stale row_version) or the key was used for another body",
    411: "A body without its length",
    413: "Body too large",
    415: "Unsupported body type",
    429: "Too many requests: wait (Retry-After)",
}
READ_ERRORS = (400, 401, 403, 404)
WRITE_ERRORS = (*READ_ERRORS, 409, 411, 413, 415, 429)


def add_error_responses(result, generator, request, public):
    """drf-spectacular post-processing hook: every operation documents the error answers
    the portal gives (JSON: ``detail`` and/or per-field ``errors``), so clients and the
    schema tests know them; an operation's own description of an error wins."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_BODY
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            if operation.pop("x-own-errors", False):  # a protocol with its own error format (``described``)
                continue
            responses = operation.setdefault("responses", {})
            for code in READ_ERRORS if method == "get" else WRITE_ERRORS:
                responses.setdefault(str(code), {
                    "description": ERROR_TEXT[code],
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                })
    return result
