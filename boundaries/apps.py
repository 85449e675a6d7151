from django.apps import AppConfig


class BoundariesConfig(AppConfig):
    name = "boundaries"
    verbose_name = "Địa giới hành chính"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from boundaries import routing
        from boundaries.models import Authority, RoutingRule

        # The routing cache (boundaries.routing.route_cached) forgets a changed rule or authority.
        for model in (RoutingRule, Authority):
            for signal, what in ((post_save, "save"), (post_delete, "delete")):
                signal.connect(routing.clear_cache, sender=model, dispatch_uid=f"routing-cache-{what}-{model.__name__}")
