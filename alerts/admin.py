from django.contrib.gis import admin

from alerts.models import AlertSent, AreaAlert


@admin.register(AreaAlert)
class AreaAlertAdmin(admin.GISModelAdmin):
    list_display = ("id", "channel", "email", "user", "area", "radius_m", "category", "digest", "confirmed_at",
                    "unsubscribed_at")
    list_filter = ("channel", "digest")
    search_fields = ("email",)
    raw_id_fields = ("user", "area")


@admin.register(AlertSent)
class AlertSentAdmin(admin.ModelAdmin):
    list_display = ("id", "subscription", "report", "kind", "created_at", "sent_at", "attempts")
    list_filter = ("kind",)
    raw_id_fields = ("subscription", "report")
