"""The IOC wall in headless Chromium: the province map with its communes, hotspots and
overdue reports, counters equal to the database's, and a report created during the
test appearing on the wall through server-sent events, without reloading."""

from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from heatmaps import aggregates as agg
from heatmaps import stats
from heatmaps.synthetic import generate
from tests.reports.conftest import BAI_CHAY, report_data

pytestmark = pytest.mark.e2e
T = 30000  # ms: one request at a time on a shared 2-core machine
SHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"


@pytest.fixture(autouse=True)
def _env(settings, isolated_cache):
    settings.NOTIFY_DISPATCH = "none"
    settings.RATELIMIT_ENABLE = False
    SHOTS.mkdir(parents=True, exist_ok=True)


OPERATOR, LEADER, CITIZEN = "+84900000001", "+84900000004", "+84910000001"


def pct(rate):
    return "–" if rate is None else f"{round(rate * 100)}%"


def sign_in(page, live_url, client, phone):
    """The browser carries the session of a staff user (signed in by the test client:
    the login page itself is tested with the accounts)."""
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username=phone))
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME,
                               "value": client.cookies[settings.SESSION_COOKIE_NAME].value, "url": live_url}])


def test_wall_counters_map_and_a_new_report_via_sse(live_url, page, client):
    generate(600, seed=0.55, days=60, province="22")
    agg.refresh_all()
    sign_in(page, live_url, client, OPERATOR)
    page.set_viewport_size({"width": 1920, "height": 1080})
    # sse=once: each events response answers one poll and ends (EventSource reconnects
    # every second), so the single-threaded test server is never held by the stream.
    page.set_default_timeout(60000)  # one request at a time on a shared 2-core machine
    page.goto(live_url + "/ioc/?province=22&sse=once&rotate=60", wait_until="domcontentloaded")

    c = stats.live_counters("22")
    expect(page.locator("#c-today")).to_have_text(str(c["today"]), timeout=T)
    expect(page.locator("#c-open")).to_have_text(str(c["open"]), timeout=T)
    expect(page.locator("#c-overdue")).to_have_text(str(c["overdue"]), timeout=T)
    expect(page.locator("#c-ontime")).to_have_text(pct(c["on_time_rate"]), timeout=T)
    assert c["open"] > 0 and c["overdue"] > 0

    # framed on the province before any layer arrives: Hạ Long (107.08, 20.95) in view
    assert page.evaluate("iocMap.getBounds().contains([20.95, 107.08])")
    expect(page.locator("path.ioc-area")).to_have_count(54, timeout=T)
    expect(page.locator("path.ioc-overdue")).to_have_count(min(300, c["overdue"]), timeout=T)
    page.locator("path.ioc-hotspot").first.wait_for(state="attached", timeout=T)
    expect(page.locator("#ioc-ranking tr").first).to_be_attached(timeout=T)
    expect(page.locator("#ioc-feed li")).to_have_count(10, timeout=T)
    page.screenshot(path=str(SHOTS / "ioc-wall.png"))

    from reports.intake import create_report

    report = create_report(report_data(BAI_CHAY, description="Cây đổ chắn ngang đường Hạ Long, cần xử lý gấp."))
    assert report.province_code == "22"
    new = page.locator(f"#ioc-feed li[data-code='{report.code}']")
    expect(new).to_be_visible(timeout=10000)
    expect(page.locator("#c-today")).to_have_text(str(c["today"] + 1), timeout=T)
    expect(page.locator("path.ioc-new")).to_have_count(1, timeout=T)
    page.screenshot(path=str(SHOTS / "ioc-wall-new-report.png"))


def test_wall_views_rotate(live_url, page, client):
    sign_in(page, live_url, client, LEADER)
    page.goto(live_url + "/ioc/?province=22&sse=once&rotate=3", wait_until="domcontentloaded")
    seen = []
    for _ in range(30):  # every 0.5 s for up to 15 s: one view at a time, each in turn
        expect(page.locator(".ioc-view.active")).to_have_count(1)
        view = page.locator(".ioc-view.active").get_attribute("data-view")
        if not seen or seen[-1] != view:
            seen.append(view)
        if len(seen) >= 3:
            break
        page.wait_for_timeout(500)
    assert seen[:3] == ["feed", "ranking", "overdue"]
    expect(page.locator("#ioc-dots")).to_have_text("○ ○ ●")
    # stop the wall's polling before the test's transaction is rolled back under it
    page.goto("about:blank")
    page.wait_for_timeout(1000)


def test_events_stream_is_bounded_and_resumes_from_the_last_id(client, db):
    from reports.models import Report

    generate(60, seed=0.1, days=5, province="22")  # at least one per commune: 54+
    total = Report.objects.filter(province_code="22").count()
    assert total > 50
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username=OPERATOR))
    resp = client.get("/ioc/events?province=22&once=1&last_id=0")
    assert resp["Content-Type"] == "text/event-stream"
    body = resp.content.decode()
    assert body.count("event: report") == 50 and "event: counters" in body  # one batch
    last = max(int(line[4:]) for line in body.splitlines() if line.startswith("id: "))
    again = client.get("/ioc/events?province=22&once=1", HTTP_LAST_EVENT_ID=str(last)).content.decode()
    assert again.count("event: report") == total - 50
    assert client.get("/ioc/events?max_s=9999").status_code == 400


def test_the_wall_is_for_staff_only(client, db):
    """The wall lists reports the desk has not checked yet: anonymous visitors are sent to
    the login page, its data answers 401 (403 to a citizen); a leader sees it."""
    from django.contrib.auth import get_user_model

    resp = client.get("/ioc/?province=22")
    assert resp.status_code == 302 and resp["Location"].startswith("/accounts/login/?next=/ioc/")
    for url in ("/api/v1/ioc/state/?province=22", "/ioc/events?province=22&once=1",
                "/api/v1/heatmaps/overdue/?province=22"):
        resp = client.get(url)
        assert resp.status_code == 401 and "cán bộ" in resp.json()["errors"]["auth"]
    users = get_user_model().objects
    client.force_login(users.get(username=CITIZEN))
    assert client.get("/ioc/?province=22").status_code == 403
    assert client.get("/api/v1/ioc/state/?province=22").status_code == 403
    client.force_login(users.get(username=LEADER))
    resp = client.get("/ioc/?province=22")
    assert resp.status_code == 200 and "Quảng Ninh" in resp.content.decode()
    assert client.get("/api/v1/ioc/state/?province=22").json()["counters"]["open"] >= 0
    # public pages stay public, and none of them shows a reporter's name or phone
    client.logout()
    for url in ("/ban-do/", "/xep-hang/", "/tong-quan/"):
        assert client.get(url).status_code == 200, url

