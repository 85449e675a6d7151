from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = _("Phản ánh hiện trường")

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from geo_portal.accounts.signals import user_verified_phone
        from reports import intake, sla
        from reports.models import Category, Holiday

        # A phone proven at sign-in claims the reports sent from it without an account.
        user_verified_phone.connect(intake.on_user_verified_phone, dispatch_uid="reports-claim-on-verified-phone")

        # Process caches forget a changed category (intake) or holiday (sla's calendar).
        for model, receiver in ((Category, intake.clear_categories_cache), (Holiday, sla.clear_calendar_cache)):
            for signal, what in ((post_save, "save"), (post_delete, "delete")):
                signal.connect(receiver, sender=model, dispatch_uid=f"reports-cache-{what}-{model.__name__}")
