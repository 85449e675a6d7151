"""Admin: the category tree, the editable working-day calendar, reports (read-mostly,
on a map), the append-only events (read-only), staff roles, comments, ratings."""

from django.contrib import admin
from django.templatetags.static import static
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from geo_portal import basemap
from reports import policy
from reports.models import (
    Category,
    Comment,
    Holiday,
    Media,
    Notification,
    Rating,
    Report,
    ReportEvent,
    StaffRole,
    Subscription,
)


class ChildCategoryInline(admin.TabularInline):
    model = Category
    fk_name = "parent"
    extra = 0
    fields = ["code", "name", "name_en", "icon", "color", "forward_days", "resolve_days", "sort_order", "active"]
    verbose_name = _("lĩnh vực con")
    verbose_name_plural = _("lĩnh vực con")


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["tree_name", "code", "forward_days", "resolve_days", "sort_order", "active"]
    list_filter = ["active", "parent"]
    search_fields = ["code", "name", "name_en"]
    ordering = ["parent__sort_order", "sort_order", "code"]
    filter_horizontal = ["jurisdictions"]

    @admin.display(description=_("lĩnh vực"))
    def tree_name(self, obj):
        return f"{obj.parent.name} › {obj.name}" if obj.parent_id else obj.name

    def get_inlines(self, request, obj):
        return [ChildCategoryInline] if obj is not None and obj.parent_id is None else []

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("parent")


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ["date", "weekday", "calendar", "name", "is_working_day"]
    list_filter = ["calendar", "is_working_day"]
    list_editable = ["name", "is_working_day"]
    search_fields = ["name"]
    date_hierarchy = "date"

    @admin.display(description=_("thứ"))
    def weekday(self, obj):
        return obj.date.strftime("%a")


@admin.register(StaffRole)
class StaffRoleAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "authority", "province_code", "is_head"]
    list_filter = ["role", "province_code", "is_head"]
    search_fields = ["user__username", "user__phone", "authority__name", "authority__code"]
    autocomplete_fields = ["user"]
    raw_id_fields = ["authority"]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class EventInline(ReadOnlyInline):
    model = ReportEvent
    fields = ["created_at", "action", "from_state", "to_state", "actor", "actor_role", "authority", "reason_code",
              "reason", "is_public"]
    readonly_fields = fields


class MediaInline(ReadOnlyInline):
    model = Media
    fields = ["kind", "stage", "file", "thumbnail", "content_type", "size", "exif_location"]
    readonly_fields = fields


class OverdueFilter(admin.SimpleListFilter):
    """Overdue by the policy's rule (either stage), as everywhere else."""

    title = _("quá hạn")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("forward", _("Quá hạn chuyển")), ("resolve", _("Quá hạn xử lý")), ("any", _("Quá hạn"))]

    def queryset(self, request, queryset):
        if self.value() == "any":
            return queryset.filter(policy.overdue_q())
        for kind, stage, column in policy.STAGES:
            if self.value() == kind:
                return queryset.filter(stage.q(), **{f"{column}__lt": timezone.now()})
        return queryset


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    """Read-mostly: a report's state changes only through the workflow (the desk's and
    officers' pages); here admins see it on a map and may fix the title or address.
    The map is our vendored Leaflet (Django's GIS widget would load OpenLayers from a CDN)."""

    class Media:
        css = {"all": ["vendor/leaflet/leaflet.css"]}
        js = ["vendor/leaflet/leaflet.js"]

    list_display = ["code", "category", "state", "province_code", "commune", "authority", "created_at", "forward_due",
                    "resolve_due", "overdue"]
    list_filter = ["state", OverdueFilter, "province_code", "category__parent", "source"]
    search_fields = ["code", "title", "description", "external_id"]
    date_hierarchy = "created_at"
    list_select_related = ["category", "commune", "authority"]
    inlines = [EventInline, MediaInline]
    editable = ["title", "address"]

    def get_readonly_fields(self, request, obj=None):
        return ["map"] + [f.name for f in Report._meta.fields if f.name not in self.editable]

    def get_fields(self, request, obj=None):
        names = [f.name for f in Report._meta.fields if f.name not in ("id", "location")]
        return ["map"] + names

    @admin.display(description=_("quá hạn"), boolean=True)
    def overdue(self, obj):
        return policy.is_overdue(obj)

    @admin.display(description=_("bản đồ"))
    def map(self, obj):
        if obj is None or obj.location is None:
            return "-"
        lon, lat = obj.location.x, obj.location.y
        # No tile server (the platform works offline): the commune's outline is the map.
        outline = "null"
        if obj.commune_id:
            outline = obj.commune.geom.simplify(0.0002, preserve_topology=True).json
        return format_html(
            '<div id="report-map" class="admin-map" data-lat="{lat}" data-lon="{lon}" data-geojson="{outline}" '
            'data-color="#3388ff" style="height:320px;width:100%;max-width:640px;background:#eef3f7"></div>'
            "<div>{lat}, {lon}</div>"
            # The drawing code is a static file (no inline script: Content-Security-Policy).
            '{basemap}<script src="{map_js}"></script>',
            lat=f"{lat:.6f}", lon=f"{lon:.6f}", outline=outline, map_js=static("geo_portal/admin-map.js"),
            basemap=basemap.scripts_html(),
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ReportEvent)
class ReportEventAdmin(admin.ModelAdmin):
    list_display = ["report", "created_at", "action", "from_state", "to_state", "actor", "actor_role", "authority",
                    "is_public"]
    list_filter = ["action", "actor_role", "is_public"]
    search_fields = ["report__code", "reason"]
    list_select_related = ["report", "actor", "authority"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in ReportEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["report", "author", "authority", "created_at", "is_hidden"]
    list_filter = ["is_hidden"]
    list_editable = ["is_hidden"]
    search_fields = ["report__code", "text"]
    readonly_fields = ["report", "author", "authority", "text", "created_at"]


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ["report", "level", "created_at"]
    list_filter = ["level"]
    search_fields = ["report__code", "reason"]
    readonly_fields = ["report", "user", "level", "reason", "created_at"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "channel", "to", "report", "sent_at", "attempts"]
    list_filter = ["kind", "channel"]
    search_fields = ["to", "report__code", "body"]
    readonly_fields = [f.name for f in Notification._meta.fields]


admin.site.register(Subscription)
