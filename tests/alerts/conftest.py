"""Fixtures of the alert tests: the reports tests' isolation (locmem mail, SMS outbox,
media), the seeded staff, and helpers that walk real reports through intake and the
workflow."""

import pytest

from reports import intake, workflow
from tests.reports.conftest import _isolated, new_key, officer, operator, photo, report_data  # noqa: F401


@pytest.fixture
def make_report(request):
    """A report in a commune; public=True forwards it (the desk lets it through)."""
    desk = request.getfixturevalue("operator")

    def make(commune="06673", category="do-thi-chieu-sang", public=True, **extra):
        report = intake.create_report(report_data(commune=commune, category=category, **extra), {}, None, new_key())
        if public:
            report = workflow.transition(report, "forward", desk)
        return report

    return make


@pytest.fixture
def resolve_and_publish(request):
    desk, unit = request.getfixturevalue("operator"), request.getfixturevalue("officer")

    def run(report):
        for action, actor, data in [("accept", unit, {}), ("start", unit, {}),
                                    ("resolve", unit, {"result_text": "Đã thay bóng đèn.", "photos": [photo()]}),
                                    ("publish", desk, {})]:
            report = workflow.transition(report, action, actor, data)
        return report

    return run
