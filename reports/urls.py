"""URLs of reports: the API under /api/v1/ (pages are added below by the pages work)."""

from django.urls import path

from reports import api

api_patterns = [
    path("api/v1/reports", api.ReportListCreate.as_view(), name="api-reports"),
    path("api/v1/reports/nearby", api.NearbyReports.as_view(), name="api-nearby"),
    path("api/v1/reports/preview", api.RoutePreview.as_view(), name="api-preview"),
    path("api/v1/reports/photo-hint", api.PhotoHint.as_view(), name="api-photo-hint"),
    path("api/v1/reports/<str:code>", api.ReportDetail.as_view(), name="api-report"),
    path("api/v1/reports/<str:code>/private", api.ReportPrivate.as_view(), name="api-report-private"),
    path("api/v1/reports/<str:code>/actions/<str:action>", api.ReportAction.as_view(), name="api-report-action"),
    path("api/v1/reports/<str:code>/comments", api.ReportComments.as_view(), name="api-report-comments"),
    path("api/v1/reports/<str:code>/rating", api.ReportRating.as_view(), name="api-report-rating"),
    path("api/v1/reports/<str:code>/follow", api.ReportFollow.as_view(), name="api-report-follow"),
    path("api/v1/categories", api.CategoryList.as_view(), name="api-categories"),
]

urlpatterns = api_patterns

# Point lookup + routing preview by category (helper 2): reports/api_locate.py
from reports.openapi import locate_view  # noqa: E402  (documented in the OpenAPI schema)

urlpatterns += [path("api/v1/locate", locate_view, name="api-locate")]

# Pages (citizen intake, public tracking, the desk, the queue): reports/views_pages.py (helper 4)
from reports import views_pages as pages  # noqa: E402

urlpatterns += [
    path("phan-anh/", pages.public_list, name="report-list"),
    path("phan-anh/ban-do.json", pages.public_points, name="report-points"),
    path("phan-anh/moi/", pages.intake, name="report-new"),
    path("phan-anh/cua-toi/", pages.my_reports, name="my-reports"),
    path("phan-anh/<str:code>/da-gui/", pages.sent, name="report-sent"),
    path("phan-anh/<str:code>/theo-doi/", pages.follow, name="report-follow"),
    path("phan-anh/<str:code>/", pages.public_detail, name="report-public"),
    path("dieu-hanh/", pages.desk, name="desk"),
    path("dieu-hanh/<str:code>/", pages.desk_report, name="desk-report"),
    path("xu-ly/", pages.queue, name="queue"),
    path("xu-ly/<str:code>/", pages.queue_report, name="queue-report"),
]

# Uploaded media, access checked (reports/views_media.py); MEDIA_URL is /media/.
from django.conf import settings  # noqa: E402

from reports.views_media import serve_media  # noqa: E402

urlpatterns += [path(settings.MEDIA_URL.strip("/") + "/<path:path>", serve_media, name="media")]

# The installable intake (PWA): service worker at the root scope, manifest, offline page.
from reports import views_pwa  # noqa: E402

urlpatterns += [
    path("sw.js", views_pwa.service_worker, name="service-worker"),
    path("manifest.webmanifest", views_pwa.manifest, name="web-manifest"),
    path("ngoai-tuyen/", views_pwa.offline, name="offline"),
]
