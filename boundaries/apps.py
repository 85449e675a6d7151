from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BoundariesConfig(AppConfig):
    name = "boundaries"
    verbose_name = _("Địa giới hành chính")

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from boundaries import jurisdictions, routing
        from boundaries.geojson import bump_generation
        from boundaries.models import Area, Authority, BoundaryVersion, Jurisdiction, RoutingRule

        # Cached GeoJSON layers (boundaries.geojson.bounded_layer) go stale on an edit.
        for model in (Area, BoundaryVersion):
            post_save.connect(bump_generation, sender=model,
                              dispatch_uid=f"boundaries-layer-cache-save-{model.__name__}")
            post_delete.connect(bump_generation, sender=model,
                                dispatch_uid=f"boundaries-layer-cache-del-{model.__name__}")

        # The routing cache (boundaries.routing.route_cached) forgets a changed rule or authority.
        for model in (RoutingRule, Authority):
            for signal, what in ((post_save, "save"), (post_delete, "delete")):
                signal.connect(routing.clear_cache, sender=model, dispatch_uid=f"routing-cache-{what}-{model.__name__}")

        # The jurisdictions' process cache (boundaries.jurisdictions) forgets a changed one.
        for signal, what in ((post_save, "save"), (post_delete, "delete")):
            signal.connect(jurisdictions.clear_cache, sender=Jurisdiction,
                           dispatch_uid=f"boundaries-jurisdiction-cache-{what}")
