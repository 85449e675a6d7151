from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    # Liveness probe and the benchmarks' trivial baseline: no database, no session.
    path("healthz", lambda request: HttpResponse("ok", content_type="text/plain"), name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("accounts/", include("geo_portal.accounts.urls")),
    path("", include("heatmaps.urls")),
    path("", include("reports.urls")),
    path("", include("boundaries.urls")),
] + static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
