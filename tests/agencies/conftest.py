"""The reports tests' seeded staff and isolation (media, SMS outbox, rate limits off)."""

from tests.reports.conftest import _isolated, citizen, officer, operator, other_officer  # noqa: F401
