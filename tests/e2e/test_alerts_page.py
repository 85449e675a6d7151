"""The area alerts page in headless Chromium under the CSP: a click on the map picks the
commune under it, the form subscribes, the confirmation mail goes out."""

import pytest
from django.core import mail

from alerts.models import AreaAlert
from tests.reports.conftest import BAI_CHAY, point_in

pytestmark = pytest.mark.e2e
T = 30000


@pytest.fixture(autouse=True)
def _env(settings, isolated_cache):
    settings.RATELIMIT_ENABLE = False
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def test_pick_a_commune_on_the_map_and_subscribe(live_url, page):
    problems = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.add_init_script("document.addEventListener('securitypolicyviolation', function (e) {"
                         " (window.__csp = window.__csp || []).push(e.violatedDirective); });")
    page.goto(live_url + "/canh-bao/", wait_until="load")
    lon, lat = point_in(BAI_CHAY)
    page.wait_for_function("() => window.alertsMap !== undefined", timeout=T)
    xy = page.evaluate(f"(function () {{ var m = window.alertsMap; m.setView([{lat}, {lon}], 14, {{animate: false}});"
                       f" var p = m.latLngToContainerPoint([{lat}, {lon}]);"
                       " var r = m.getContainer().getBoundingClientRect();"
                       " return [r.left + p.x, r.top + p.y]; })()")
    page.mouse.click(xy[0], xy[1])
    page.wait_for_function("() => document.getElementById('id_area').value !== ''", timeout=T)
    assert page.input_value("#id_area") == BAI_CHAY
    page.fill("#id_email", "ban.doc@example.vn")
    page.click("#alert-submit")
    page.wait_for_selector("#alert-done", timeout=T)
    sub = AreaAlert.objects.get()
    assert sub.area.code == BAI_CHAY and sub.confirmed_at is None
    assert [m.to for m in mail.outbox] == [["ban.doc@example.vn"]]
    assert problems == [] and page.evaluate("window.__csp || []") == []
