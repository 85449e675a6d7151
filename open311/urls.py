from django.urls import path, register_converter

from . import openapi as api  # the views, described in the OpenAPI schema


class FormatConverter:
    regex = "xml|json"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(FormatConverter, "fmt")

app_name = "open311"

urlpatterns = [
    path("discovery.<fmt:fmt>", api.discovery, name="discovery"),
    path("services.<fmt:fmt>", api.service_list, name="services"),
    path("services/<str:code>.<fmt:fmt>", api.service_definition, name="service"),
    path("requests.<fmt:fmt>", api.requests, name="requests"),
    path("requests/<str:request_id>.<fmt:fmt>", api.request_detail, name="request"),
    path("tokens/<str:token>.<fmt:fmt>", api.token, name="token"),
    path("servicerequestupdates.<fmt:fmt>", api.request_updates, name="updates"),
]
