from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AgenciesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "agencies"
    verbose_name = _("Kết nối hệ thống cơ quan")

    def ready(self):
        # reports knows nothing of this app: it calls whatever hooks are registered.
        from agencies import outbound
        from reports import notify

        if outbound.on_report_event not in notify.EVENT_HOOKS:
            notify.EVENT_HOOKS.append(outbound.on_report_event)
        if outbound.on_comment not in notify.COMMENT_HOOKS:
            notify.COMMENT_HOOKS.append(outbound.on_comment)
