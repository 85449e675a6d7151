from django.urls import path

from heatmaps import openapi as api  # the JSON endpoints, documented in the OpenAPI schema
from heatmaps import views

urlpatterns = [
    path("tiles/<str:layer>/<int:z>/<int:x>/<int:y>.pbf", api.tile_view, name="heatmaps-tile"),
    path("api/v1/heatmaps/version/", api.version_view, name="heatmaps-version"),
    path("api/v1/heatmaps/heat/", api.heat_view, name="heatmaps-heat"),
    path("api/v1/heatmaps/hex/", api.hex_view, name="heatmaps-hex"),
    path("api/v1/heatmaps/bins/scale/", api.bin_scale_view, name="heatmaps-bin-scale"),
    path("api/v1/heatmaps/areas/", api.areas_view, name="heatmaps-areas"),
    path("api/v1/heatmaps/series/", api.series_view, name="heatmaps-series"),
    path("api/v1/heatmaps/hotspots/", api.hotspots_view, name="heatmaps-hotspots"),
    path("api/v1/heatmaps/overdue/", api.overdue_view, name="heatmaps-overdue"),
    path("api/v1/heatmaps/export.<str:fmt>", api.export_view, name="heatmaps-export"),
    path("api/v1/stats/", api.stats_summary_view, name="stats-national"),
    path("api/v1/stats/ranking/", api.stats_ranking_view, name="stats-ranking"),
    path("api/v1/stats/series/", api.stats_series_view, name="stats-series"),
    path("api/v1/stats/by/<str:by>/", api.stats_breakdown_view, name="stats-breakdown"),
    path("api/v1/stats/<str:kind>/<str:code>/", api.stats_figures_view, name="stats-figures"),
    path("ban-do/", views.map_page, name="heatmaps-map"),
    path("phan-tich/", views.map_page),
    path("xep-hang/", views.ranking_page, name="heatmaps-ranking"),
    path("tong-quan/", views.dashboard_page, name="heatmaps-dashboard"),
    path("ioc/", views.ioc_page, name="heatmaps-ioc"),
    path("ioc/events", views.ioc_events, name="heatmaps-ioc-events"),
    path("api/v1/ioc/state/", api.ioc_state_view, name="heatmaps-ioc-state"),
]
