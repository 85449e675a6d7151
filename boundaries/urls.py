from django.urls import path

from boundaries import openapi as api  # the API views, documented in the OpenAPI schema
from boundaries import views

urlpatterns = [
    path("", views.home, name="home"),
    path("api/v1/boundaries/<slug:version>/<slug:type_code>.geojson", api.boundary_geojson, name="boundary-geojson"),
    path("api/v1/areas/<int:pk>", api.area_detail, name="area-detail"),
    path("api/v1/areas/by-code/<str:code>", api.area_by_code, name="area-by-code"),
]
