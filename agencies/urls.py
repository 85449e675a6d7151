from django.urls import path

from agencies import api

urlpatterns = [
    path("api/v1/agencies/updates", api.AgencyUpdates.as_view(), name="agency-updates"),
    path("api/v1/agencies/reports/<str:code>/forwarding", api.ReportForwarding.as_view(), name="agency-forwarding"),
]
