from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "geo_portal.accounts"
    label = "accounts"
    verbose_name = _("Tài khoản")

    def ready(self):
        from django.db.backends.signals import connection_created

        from geo_portal.db import register_clamped_times

        # Times past year 9999 stored before they were checked load clamped (geo_portal/db.py).
        connection_created.connect(register_clamped_times, dispatch_uid="geo_portal.clamped_times")
