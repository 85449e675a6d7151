from django.urls import path

from ogcapi import openapi_schema as api  # the views, described in the project's OpenAPI schema

urlpatterns = [
    path("ogcapi/", api.landing, name="ogc-landing"),
    path("ogcapi/conformance", api.conformance, name="ogc-conformance"),
    path("ogcapi/api", api.api_document, name="ogc-api"),
    path("ogcapi/collections", api.collections, name="ogc-collections"),
    path("ogcapi/collections/<str:cid>", api.collection, name="ogc-collection"),
    path("ogcapi/collections/<str:cid>/queryables", api.queryables, name="ogc-queryables"),
    path("ogcapi/collections/<str:cid>/items", api.items, name="ogc-items"),
    path("ogcapi/collections/<str:cid>/items/<str:fid>", api.item, name="ogc-item"),
]
