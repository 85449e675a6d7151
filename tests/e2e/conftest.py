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


@pytest.fixture
def isolated_site(settings, tmp_path, monkeypatch):
    """What a browser test that submits reports needs: its own media and SMS folders,
    mail kept in memory, no per-IP limit (every request comes from 127.0.0.1) and
    notifications sent in the request. Playwright's sync API keeps an event loop in this
    thread; the test's own ORM calls (checking what the pages stored) are still
    synchronous and safe."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SMS_OUTBOX_DIR = tmp_path / "sms"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.RATELIMIT_ENABLE = False
    settings.NOTIFY_DISPATCH = "sync"
    return settings
