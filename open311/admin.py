from django.contrib import admin, messages
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import ApiKey, ServiceAttribute, ServiceRequest


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "active", "created_at", "last_used_at"]
    list_filter = ["active", "jurisdictions"]
    search_fields = ["name", "prefix"]
    filter_horizontal = ["jurisdictions"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    actions = ["rotate"]

    def save_model(self, request, obj, form, change):
        raw = obj.set_new_key() if not change else None
        super().save_model(request, obj, form, change)
        if raw:
            messages.warning(request, _("Khoá API mới (chỉ hiện một lần, hãy lưu lại): %(key)s") % {"key": raw})

    @admin.action(description=gettext_lazy("Cấp khoá mới (khoá cũ hết hiệu lực)"))
    def rotate(self, request, queryset):
        for key in queryset:
            raw = key.set_new_key()
            key.save(update_fields=["prefix", "key_hash"])
            messages.warning(request, _("Khoá mới của %(name)s: %(key)s") % {"name": key.name, "key": raw})


@admin.register(ServiceAttribute)
class ServiceAttributeAdmin(admin.ModelAdmin):
    list_display = ["category", "code", "datatype", "required", "order", "active"]
    list_filter = ["datatype", "required", "active"]
    search_fields = ["code", "description", "category__code"]
    autocomplete_fields = ["category"]


@admin.register(ServiceRequest)
class ServiceRequestAdmin(admin.ModelAdmin):
    list_display = ["report", "api_key", "created_at"]
    list_filter = ["api_key"]
    readonly_fields = ["report", "api_key", "token", "attributes", "device_id", "account_id", "created_at"]
    search_fields = ["report__code", "token"]
