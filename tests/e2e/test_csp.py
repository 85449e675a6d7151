"""Every page in headless Chromium under the portal's Content-Security-Policy: no
violation reported by the browser (an inline script, a handler attribute, a foreign
host would each be one), and the page's own scripts ran (no console error)."""

import pytest
from django.conf import settings

from reports import intake
from tests.reports.conftest import new_key, report_data

pytestmark = pytest.mark.e2e
T = 30000  # ms: one request at a time on a shared 2-core machine

OPERATOR, OFFICER, CITIZEN = "+84900000001", "+84900000002", "+84910000001"


@pytest.fixture(autouse=True)
def _env(settings, isolated_cache, tmp_path):
    settings.NOTIFY_DISPATCH = "none"
    settings.RATELIMIT_ENABLE = False
    settings.MEDIA_ROOT = tmp_path / "media"


def sign_in(page, live_url, client, phone):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username=phone))
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME,
                               "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                               "url": live_url}])


def visit(page, url):
    """Open the page; return the CSP violations and console errors it produced."""
    problems = []
    # A failed load is reported below with its URL (the browser's own /favicon.ico aside).
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', function (e) {"
        " (window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + e.blockedURI); });"
    )
    resp = page.goto(url, wait_until="load")
    assert resp.status == 200, url
    assert "script-src 'self'" in resp.headers["content-security-policy"]
    page.wait_for_timeout(1500)  # map tiles, charts and fetches after load
    problems += page.evaluate("window.__csp || []")
    return problems


@pytest.mark.parametrize("path", ["/", "/phan-anh/", "/phan-anh/moi/", "/ban-do/", "/tong-quan/", "/xep-hang/",
                                  "/api/v1/docs/", "/accounts/login/", "/api/v1/categories"])
def test_public_pages_run_under_the_csp(live_url, page, path):
    problems = visit(page, live_url + path)
    assert problems == [], problems


@pytest.mark.parametrize("phone,path", [
    (OPERATOR, "/dieu-hanh/"), (OFFICER, "/xu-ly/"), (CITIZEN, "/phan-anh/cua-toi/"),
    (OPERATOR, "/ioc/?province=22&sse=once"), (OPERATOR, "{report}"), (OPERATOR, "/dieu-hanh/{code}/"),
])
def test_signed_in_pages_run_under_the_csp(live_url, page, client, phone, path):
    from django.contrib.auth import get_user_model

    report = intake.create_report(report_data(), None, get_user_model().objects.get(username=CITIZEN), new_key())
    path = path.replace("{report}", f"/phan-anh/{report.code}/").replace("{code}", report.code)
    sign_in(page, live_url, client, phone)
    problems = visit(page, live_url + path)
    assert problems == [], problems


def test_admin_maps_run_under_the_csp(live_url, page, client):
    from django.contrib.auth import get_user_model

    from boundaries.models import Area

    admin = get_user_model().objects.create_superuser("csp-e2e-admin", password="x-secret-123")
    client.force_login(admin)
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME,
                               "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                               "url": live_url}])
    report = intake.create_report(report_data(), None, None, new_key())
    area = Area.objects.filter(type__code="commune", version__code="vn-2025").first()
    for url in (f"/admin/reports/report/{report.pk}/change/", f"/admin/boundaries/area/{area.pk}/change/"):
        problems = visit(page, live_url + url)
        assert problems == [], (url, problems)
        # The map was drawn by the static script: Leaflet's panes are in the box.
        assert page.locator("div.admin-map .leaflet-pane").count() > 0, url
