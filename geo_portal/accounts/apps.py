from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "geo_portal.accounts"
    label = "accounts"
    verbose_name = "Tài khoản"
