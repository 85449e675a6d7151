from django.apps import AppConfig


class BoundariesConfig(AppConfig):
    name = "boundaries"
    verbose_name = "Địa giới hành chính"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from boundaries.geojson import bump_generation
        from boundaries.models import Area, BoundaryVersion

        # Cached GeoJSON layers (boundaries.geojson.bounded_layer) go stale on an edit.
        for model in (Area, BoundaryVersion):
            post_save.connect(bump_generation, sender=model, dispatch_uid=f"boundaries-layer-cache-save-{model.__name__}")
            post_delete.connect(bump_generation, sender=model, dispatch_uid=f"boundaries-layer-cache-del-{model.__name__}")
