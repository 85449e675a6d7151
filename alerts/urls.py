from django.urls import path

from alerts import views

urlpatterns = [
    path("canh-bao/", views.subscribe_page, name="alerts-subscribe"),
    path("canh-bao/xac-nhan/<str:token>/", views.confirm_page, name="alerts-confirm"),
    path("canh-bao/huy/<str:token>/", views.unsubscribe_page, name="alerts-unsubscribe"),
    path("canh-bao/sw.js", views.service_worker, name="alerts-sw"),
    path("feeds/area/<str:code>.<str:fmt>", views.area_feed, name="feed-area"),
    path("feeds/report/<str:code>.<str:fmt>", views.report_feed, name="feed-report"),
    path("feeds/near.<str:fmt>", views.near_feed, name="feed-near"),
    path("api/v1/alerts/", views.api_subscribe, name="api-alerts"),
    path("api/v1/alerts/vapid-key", views.api_vapid_key, name="api-alerts-vapid"),
]
