"""Open311 tests: the reports tests' isolation (media, SMS, limits off unless a test
turns them on) and their seeded staff."""

import io

import pytest

# The reports tests' fixtures: their isolation (media, SMS, e-mail, limits off, notifications
# in the request, autouse) and their seeded staff.
from tests.reports.conftest import _isolated, officer, operator  # noqa: F401


@pytest.fixture(autouse=True)
def _questions(db):
    """The demo questions (scripts/run seeds them with ``manage.py open311 seed``)."""
    from django.core.management import call_command

    call_command("open311", "seed", stdout=io.StringIO())
