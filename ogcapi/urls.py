from django.urls import path

from ogcapi import views

urlpatterns = [
    path("ogcapi/", views.landing, name="ogc-landing"),
    path("ogcapi/conformance", views.conformance, name="ogc-conformance"),
    path("ogcapi/api", views.api_document, name="ogc-api"),
    path("ogcapi/collections", views.collections, name="ogc-collections"),
    path("ogcapi/collections/<str:cid>", views.collection, name="ogc-collection"),
    path("ogcapi/collections/<str:cid>/queryables", views.queryables, name="ogc-queryables"),
    path("ogcapi/collections/<str:cid>/items", views.items, name="ogc-items"),
    path("ogcapi/collections/<str:cid>/items/<str:fid>", views.item, name="ogc-item"),
]
