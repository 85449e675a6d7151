from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from geo_portal.accounts.models import OneTimeCode, User


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    list_display = ("username", "phone", "display_name", "email", "is_staff")
    search_fields = ("username", "phone", "display_name", "email")
    fieldsets = UserAdmin.fieldsets + (("Portal", {"fields": ("phone", "display_name", "preferred_language")}),)


@admin.register(OneTimeCode)
class OneTimeCodeAdmin(admin.ModelAdmin):
    list_display = ("phone", "created_at", "expires_at", "attempts", "used_at")
    readonly_fields = ("phone", "code_hash", "created_at", "expires_at", "attempts", "used_at")
