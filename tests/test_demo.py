"""scripts/run loads the demo (`manage.py load_demo --auto`) into a new database or the
demo's own, never beside reports it did not make: started on a province's database, or
on a benchmark's million reports, it must not add 6,000 made-up reports and accounts
whose password is in the README."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from fixtures.demo import demo_refusal
from reports import intake
from reports.models import Report
from tests.reports.conftest import new_key, report_data

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.NOTIFY_DISPATCH = "none"
    settings.RATELIMIT_ENABLE = False


def add_reports(sources):
    for source in sources:
        intake.create_report(report_data(), {}, None, new_key(), source=source)


def run_load_demo_auto():
    out = io.StringIO()
    call_command("load_demo", "--auto", stdout=out)
    return out.getvalue()


# (the reports already there, GEO_PORTAL_DEMO, whether scripts/run loads the demo)
CASES = [
    ((), "auto", True),  # a new database
    (("demo",), "auto", True),  # the demo's own, started again
    (("demo", "web"), "auto", True),  # a demo someone tried out
    (("web",), "auto", False),  # a real portal's first report
    (("import:boston311", "web", "api"), "auto", False),  # an import, a benchmark's data
    (("web",), "1", True),
    ((), "0", False),  # a real deployment, before its first report
    (("demo",), "0", False),
]


@pytest.mark.parametrize("sources, setting, loads", CASES)
def test_the_run_command_loads_the_demo_only_into_a_new_or_demo_database(db, settings, sources, setting, loads):
    settings.GEO_PORTAL_DEMO = setting
    add_reports(sources)
    refused = {"auto": "none from the demo", "0": "GEO_PORTAL_DEMO=0"}.get(setting)
    refusal = demo_refusal()
    assert (refusal is None) == loads, refusal
    if not loads:
        assert refused in refusal


def test_a_database_of_real_reports_is_left_as_it_was(db, settings):
    """The command itself, on a portal with 3 reports of its own: nothing is added, no
    account with the demo's password, and it says why."""
    settings.GEO_PORTAL_DEMO = "auto"
    add_reports(["web", "web", "api"])
    users_before = get_user_model().objects.count()

    said = run_load_demo_auto()

    assert "this database holds 3 reports and none from the demo" in said
    assert "GEO_PORTAL_DEMO=1" in said
    assert Report.objects.count() == 3
    assert not Report.objects.filter(source="demo").exists()
    assert not get_user_model().objects.filter(username="admin").exists()
    assert get_user_model().objects.count() == users_before


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_an_unknown_demo_setting_stops_the_start_with_its_name(value):
    proc = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "GEO_PORTAL_DEMO": value, "DEBUG": "1"})
    assert proc.returncode != 0
    assert "GEO_PORTAL_DEMO must be auto, 1 or 0" in proc.stderr
