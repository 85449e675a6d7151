"""URLs of reports: the API under /api/v1/ (pages are added below by the pages work)."""

from django.urls import path

from reports import api

api_patterns = [
    path("api/v1/reports", api.ReportListCreate.as_view(), name="api-reports"),
    path("api/v1/reports/nearby", api.NearbyReports.as_view(), name="api-nearby"),
    path("api/v1/reports/preview", api.RoutePreview.as_view(), name="api-preview"),
    path("api/v1/reports/<str:code>", api.ReportDetail.as_view(), name="api-report"),
    path("api/v1/reports/<str:code>/private", api.ReportPrivate.as_view(), name="api-report-private"),
    path("api/v1/reports/<str:code>/actions/<str:action>", api.ReportAction.as_view(), name="api-report-action"),
    path("api/v1/reports/<str:code>/comments", api.ReportComments.as_view(), name="api-report-comments"),
    path("api/v1/reports/<str:code>/rating", api.ReportRating.as_view(), name="api-report-rating"),
    path("api/v1/reports/<str:code>/follow", api.ReportFollow.as_view(), name="api-report-follow"),
    path("api/v1/categories", api.CategoryList.as_view(), name="api-categories"),
]

urlpatterns = api_patterns
