from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from geo_portal import basemap, production

# A database outage met outside a view (sessions, auth) answers 503 too.
handler500 = "geo_portal.production.server_error"

urlpatterns = [
    # Readiness: reports the database (200 {"db": "ok"} / 503).
    path("healthz", production.healthz, name="healthz"),
    # Liveness and the benchmarks' trivial baseline: no database, no session.
    path("livez", production.livez, name="livez"),
    # The self-hosted vector basemap (GEO_PORTAL_BASEMAP=pmtiles:…), with HTTP range requests.
    path("basemap/<str:name>.pmtiles", basemap.serve_archive, name="basemap-archive"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("accounts/", include("geo_portal.accounts.urls")),
    path("open311/v2/", include("open311.urls")),
    path("", include("ogcapi.urls")),
    path("", include("heatmaps.urls")),
    path("", include("reports.urls")),
    path("", include("boundaries.urls")),
    path("", include("agencies.urls")),
    path("", include("alerts.urls")),
]


def _machine(request):
    return request.path.startswith(("/api/", "/tiles/", "/accounts/api/"))


def not_found(request, exception=None):
    """API clients get JSON for an unknown URL too (pages keep the HTML one)."""
    from django.http import JsonResponse
    from django.utils.translation import gettext as _
    from django.views.defaults import page_not_found

    if _machine(request):
        return JsonResponse({"detail": _("Không tìm thấy.")}, status=404, json_dumps_params={"ensure_ascii": False})
    return page_not_found(request, exception)


def bad_request(request, exception=None):
    """A request Django itself refused (too many parameters, a host not allowed): JSON
    for API clients, the translated page (templates/400.html) for the others."""
    from django.http import JsonResponse
    from django.utils.translation import gettext as _
    from django.views.defaults import bad_request as page

    if _machine(request):
        return JsonResponse({"detail": _("Yêu cầu không hợp lệ.")}, status=400,
                            json_dumps_params={"ensure_ascii": False})
    return page(request, exception)


def forbidden(request, exception=None):
    from django.http import JsonResponse
    from django.utils.translation import gettext as _
    from django.views.defaults import permission_denied

    if _machine(request):
        return JsonResponse({"detail": _("Bạn không có quyền thực hiện thao tác này.")}, status=403,
                            json_dumps_params={"ensure_ascii": False})
    return permission_denied(request, exception)


handler404 = not_found
handler400 = bad_request
handler403 = forbidden
