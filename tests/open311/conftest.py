"""Open311 tests: the reports tests' isolation (media, SMS, limits off unless a test
turns them on) and their seeded staff."""

import io

import pytest

from tests.reports.conftest import officer, operator  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SMS_OUTBOX_DIR = tmp_path / "sms"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SMS_BACKEND = "geo_portal.accounts.sms.ConsoleSmsBackend"
    settings.RATELIMIT_ENABLE = False
    settings.NOTIFY_DISPATCH = "sync"


@pytest.fixture(autouse=True)
def _questions(db):
    """The demo questions (scripts/run seeds them with ``manage.py open311 seed``)."""
    from django.core.management import call_command

    call_command("open311", "seed", stdout=io.StringIO())
