from django.urls import path

from geo_portal.accounts import api, views

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("profile/", views.profile_view, name="profile"),
    path("api/token", api.TokenView.as_view(), name="api-token"),
]
