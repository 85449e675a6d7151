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


def test_draw_an_area_on_the_map_and_subscribe(live_url, page):
    """"Vùng tự vẽ": four clicks around a point of Bãi Cháy make the subscription's polygon."""
    from django.contrib.gis.geos import Point

    problems = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(live_url + "/canh-bao/", wait_until="load")
    lon, lat = point_in(BAI_CHAY)
    page.wait_for_function("() => window.alertsMap !== undefined", timeout=T)
    page.check("input[name=place][value=polygon]")
    page.evaluate(f"window.alertsMap.setView([{lat}, {lon}], 14, {{animate: false}})")
    page.locator("#map").scroll_into_view_if_needed()
    d = 0.004  # degrees: a square of about 900 m around the point
    for dlat, dlon in ((-d, -d), (-d, d), (d, d), (d, -d)):
        xy = page.evaluate(f"(function () {{ var m = window.alertsMap;"
                           f" var p = m.latLngToContainerPoint([{lat + dlat}, {lon + dlon}]);"
                           " var r = m.getContainer().getBoundingClientRect();"
                           " return [r.left + p.x, r.top + p.y]; })()")
        page.mouse.click(xy[0], xy[1])
        page.wait_for_timeout(600)  # one vertex per click: no double click (which zooms the map)
    page.wait_for_function("() => document.getElementById('id_polygon').value !== ''", timeout=T)
    page.fill("#id_email", "ve.vung@example.vn")
    page.click("#alert-submit")
    page.wait_for_selector("#alert-done", timeout=T)
    sub = AreaAlert.objects.get()
    assert sub.area is None and sub.center is None
    assert sub.polygon.num_coords == 5 and sub.polygon.contains(Point(lon, lat, srid=4326))
    assert not sub.polygon.contains(Point(lon + 2 * d, lat, srid=4326))
    assert problems == []
