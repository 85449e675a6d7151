"""Admin of boundaries, authorities and routing rules.

Areas are shown on a Leaflet map served from our own static files (no CDN: Django's
GIS widgets load OpenLayers from the internet). The map has no base tiles offline; the
polygon itself is drawn. Geometry is read-only here: boundaries change through
``import_boundaries``, which keeps checksums, the subdivided copy and the import log
consistent. Authorities and routing rules are fully editable.
"""

from django.contrib import admin
from django.db.models import Count
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from boundaries.models import (
    Area,
    AreaSuccession,
    AreaType,
    Authority,
    BoundaryImport,
    BoundaryVersion,
    Jurisdiction,
    RoutingRule,
)
from geo_portal import basemap

# Simplification for the admin map (degrees, about 5 m): a full-resolution commune
# stays light in the page.
MAP_SIMPLIFY_DEG = 0.00005


def area_map_html(geom, height=420):
    """A Leaflet map of ``geom`` from our vendored Leaflet, without internet."""
    if geom is None:
        return "-"
    if geom.num_points > 2000:
        # about one pixel of a 760-px map: a province (the union of its communes, ~10^5
        # vertices) stays a few hundred KB instead of megabytes.
        xmin, ymin, xmax, ymax = geom.extent
        tolerance = max(MAP_SIMPLIFY_DEG, max(xmax - xmin, ymax - ymin) / 1500)
        shown = geom.simplify(tolerance, preserve_topology=True)
    else:
        shown = geom
    div_id = f"area-map-{abs(hash(geom.wkb.tobytes())) % 10**9}"
    return format_html(
        '<link rel="stylesheet" href="{css}">'
        # An explicit width: the admin's read-only cell shrinks to its content, and a map
        # created in a 0-px-wide box projects every vertex to one pixel (an empty map).
        '<div id="{id}" class="admin-map" data-geojson="{data}" '
        'style="height:{h}px;width:680px;max-width:100%;border:1px solid #ccc;background:#eef3f7">'
        "</div>"
        # The drawing code is a static file (no inline script: Content-Security-Policy).
        '<script src="{js}"></script>{basemap}<script src="{map_js}"></script>'
        '<p class="help">{note}</p>',
        css=static("vendor/leaflet/leaflet.css"),
        js=static("vendor/leaflet/leaflet.js"),
        id=div_id,
        h=height,
        data=shown.geojson,  # an attribute value: format_html escapes it
        map_js=static("geo_portal/admin-map.js"),
        basemap=basemap.scripts_html(),
        note=_("Bản đồ không có nền khi không có internet. Ranh giới chỉ thay đổi qua lệnh import_boundaries."),
    )


@admin.register(AreaType)
class AreaTypeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en", "level", "area_count"]
    search_fields = ["code", "name", "name_en"]
    ordering = ["level", "code"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_areas=Count("areas"))

    @admin.display(description=_("số đơn vị"), ordering="n_areas")
    def area_count(self, obj):
        return obj.n_areas


@admin.register(BoundaryVersion)
class BoundaryVersionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "jurisdiction", "valid_from", "valid_to", "active", "area_count"]
    list_filter = ["jurisdiction", "active"]
    search_fields = ["code", "name", "description"]
    readonly_fields = ["created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_areas=Count("areas"))

    @admin.display(description=_("số đơn vị"), ordering="n_areas")
    def area_count(self, obj):
        return obj.n_areas


class ChildInline(admin.TabularInline):
    model = Area
    fk_name = "parent"
    fields = ["code", "name", "type", "version"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = _("đơn vị trực thuộc")

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("type", "version").defer("geom")


@admin.register(Area)
class AreaAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en", "type", "version", "parent"]
    list_filter = ["version", "type"]
    search_fields = ["code", "name", "name_en"]
    list_select_related = ["type", "version", "parent"]
    autocomplete_fields = ["parent"]
    readonly_fields = ["map", "geom_checksum", "part_count", "updated_at"]
    fields = [
        "version",
        "type",
        "code",
        "name",
        "name_en",
        "parent",
        "map",
        "part_count",
        "geom_checksum",
        "properties",
        "updated_at",
    ]
    inlines = [ChildInline]
    show_full_result_count = False

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if getattr(request, "resolver_match", None) and request.resolver_match.url_name.endswith("changelist"):
            qs = qs.defer("geom", "properties", "parent__geom", "parent__properties")
        return qs

    def has_add_permission(self, request):
        return False  # areas come from import_boundaries (geometry, checksum, parts)

    @admin.display(description=_("ranh giới"))
    def map(self, obj):
        return area_map_html(obj.geom)

    @admin.display(description=_("số mảnh chia nhỏ (ST_Subdivide)"))
    def part_count(self, obj):
        return obj.parts.count()


@admin.register(AreaSuccession)
class AreaSuccessionAdmin(admin.ModelAdmin):
    list_display = ["old", "old_version", "new", "new_version", "share_pct", "note"]
    list_filter = ["note", "old__version", "new__version"]
    search_fields = ["old__code", "old__name", "new__code", "new__name"]
    autocomplete_fields = ["old", "new"]
    list_select_related = ["old", "new", "old__version", "new__version"]
    readonly_fields = ["basis"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("old__geom", "new__geom", "old__properties", "new__properties")

    @admin.display(description=_("phiên bản cũ"), ordering="old__version")
    def old_version(self, obj):
        return obj.old.version.code

    @admin.display(description=_("phiên bản mới"), ordering="new__version")
    def new_version(self, obj):
        return obj.new.version.code

    @admin.display(description=_("tỉ lệ diện tích"), ordering="share")
    def share_pct(self, obj):
        return "-" if obj.share is None else f"{obj.share:.1%}"


def _area_map(area):
    """The map of an area chosen on an authority or a rule (shown once saved)."""
    if area is None:
        return _("Chọn địa bàn rồi lưu để xem ranh giới trên bản đồ.")
    return area_map_html(area.geom, height=320)


@admin.register(Authority)
class AuthorityAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "level", "province_code", "jurisdiction", "phone", "active"]
    list_filter = ["kind", "level", "province_code", "active"]
    search_fields = ["code", "name", "name_en", "province_code"]
    autocomplete_fields = ["parent", "jurisdiction"]
    list_select_related = ["jurisdiction"]
    list_editable = ["active"]
    readonly_fields = ["jurisdiction_map"]

    @admin.display(description=_("bản đồ địa bàn"))
    def jurisdiction_map(self, obj):
        return _area_map(obj.jurisdiction if obj and obj.jurisdiction_id else None)

    def get_queryset(self, request):
        return super().get_queryset(request).defer("jurisdiction__geom", "jurisdiction__properties")


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ["priority", "name", "category_code", "area", "area_type", "authority", "target_kind", "active"]
    list_display_links = ["name"]
    list_editable = ["priority", "active"]
    list_filter = ["active", "area_type", "target_kind", "category_code"]
    search_fields = ["name", "category_code", "area__name", "area__code", "authority__name", "authority__code"]
    autocomplete_fields = ["area", "authority"]
    list_select_related = ["area", "area_type", "authority"]
    ordering = ["priority", "id"]
    readonly_fields = ["area_map"]

    @admin.display(description=_("bản đồ địa bàn"))
    def area_map(self, obj):
        return _area_map(obj.area if obj and obj.area_id else None)

    def get_queryset(self, request):
        return super().get_queryset(request).defer("area__geom", "area__properties")


@admin.register(BoundaryImport)
class BoundaryImportAdmin(admin.ModelAdmin):
    list_display = ["created_at", "source", "version", "type", "feature_count", "counts"]
    list_filter = ["version", "type"]
    readonly_fields = ["version", "type", "source", "source_sha256", "options", "counts", "feature_count", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Jurisdiction)
class JurisdictionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "country", "parent", "province_code", "time_zone", "calendar", "active")
    list_filter = ("country", "kind", "active")
    search_fields = ("code", "name", "name_en", "province_code")
