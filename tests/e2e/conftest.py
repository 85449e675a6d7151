import uuid

import pytest


@pytest.fixture
def isolated_cache(settings):
    """A fresh in-process cache per test: data versions and ETags repeat across
    rolled-back tests, so a shared Redis cache would serve one test another's tiles."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": str(uuid.uuid4())}}
    from heatmaps import tile_cache

    tile_cache.forget()  # the tiles' version and hot tiles this process keeps
