from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from agencies import network, outbound, services
from agencies.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage, WebhookSecret


class EndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("địa chỉ nhận (URL)"), max_length=500, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ["authority", "url", "description", "include_children", "active", "disabled_reason"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            network.resolve_checked(url)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict.get("url", exc.messages)) from None
        return url


class SecretInline(admin.TabularInline):
    model = WebhookSecret
    extra = 0
    fields = ["secret", "created_at", "expires_at"]
    readonly_fields = ["secret", "created_at"]


@admin.register(WebhookEndpoint)
class EndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ["id", "authority", "url", "active", "disabled_reason", "created_at"]
    list_filter = ["active"]
    search_fields = ["url", "authority__code", "authority__name"]
    autocomplete_fields = ["authority"]
    inlines = [SecretInline]
    actions = ["rotate"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            secret = services.rotate_secret(obj, 0)
            messages.warning(request, _("Khóa ký mới (chỉ hiện một lần): %(s)s") % {"s": secret})

    @admin.action(description=_("Tạo khóa ký mới (khóa cũ còn hiệu lực 24 giờ)"))
    def rotate(self, request, queryset):
        for endpoint in queryset:
            secret = services.rotate_secret(endpoint)
            messages.warning(request, _("%(e)s: khóa ký mới %(s)s") % {"e": endpoint, "s": secret})


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["at", "status_code", "error", "duration_ms"]


@admin.register(WebhookDelivery)
class DeliveryAdmin(admin.ModelAdmin):
    """The dead-letter list is the filter status = dead; "replay" sends again."""

    list_display = ["id", "message", "endpoint", "status", "attempts", "last_status_code", "next_attempt_at"]
    list_filter = ["status", "endpoint"]
    readonly_fields = ["message", "endpoint", "attempts", "last_status_code", "last_error", "delivered_at",
                       "created_at"]
    inlines = [AttemptInline]
    actions = ["replay"]

    @admin.action(description=_("Gửi lại"))
    def replay(self, request, queryset):
        n = len(outbound.replay(list(queryset.select_related("endpoint"))))
        self.message_user(request, ngettext("%(n)d lượt gửi được xếp hàng lại.",
                                            "%(n)d lượt gửi được xếp hàng lại.", n) % {"n": n})


@admin.register(WebhookMessage)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "type", "report", "created_at", "forwarding"]
    list_filter = ["type"]
    search_fields = ["id", "report__code"]
    readonly_fields = ["id", "type", "report", "payload", "created_at"]

    @admin.display(description=_("trạng thái chuyển (mọi đơn vị đã nhận?)"))
    def forwarding(self, obj):
        return outbound.forwarding_status(obj.report) if obj.report_id and obj.type == "report.forwarded" else ""
