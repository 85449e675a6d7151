"""The IOC wall in headless Chromium: the province map with its communes, hotspots and
overdue reports, counters equal to the database's, and a report created during the
test appearing on the wall through server-sent events, without reloading."""

import uuid
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
def _env(settings, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # a fresh in-process cache per test (data versions repeat across rolled-back tests)
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": str(uuid.uuid4())}}
    settings.NOTIFY_DISPATCH = "none"
    settings.RATELIMIT_ENABLE = False
    SHOTS.mkdir(parents=True, exist_ok=True)


def pct(rate):
    return "–" if rate is None else f"{round(rate * 100)}%"


def test_wall_counters_map_and_a_new_report_via_sse(live_url, page):
    generate(600, seed=0.55, days=60, province="22")
    agg.refresh_all()
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

    expect(page.locator("path.ioc-area")).to_have_count(54, timeout=T)
    expect(page.locator("path.ioc-overdue")).to_have_count(min(300, c["overdue"]), timeout=T)
    page.wait_for_function("document.querySelectorAll('path.ioc-hotspot').length > 0", timeout=T)
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


def test_events_stream_is_bounded_and_resumes_from_the_last_id(client, db):
    from reports.models import Report

    generate(60, seed=0.1, days=5, province="22")  # at least one per commune: 54+
    total = Report.objects.filter(province_code="22").count()
    assert total > 50
    resp = client.get("/ioc/events?province=22&once=1&last_id=0")
    assert resp["Content-Type"] == "text/event-stream"
    body = b"".join(resp.streaming_content).decode()
    assert body.count("event: report") == 50 and "event: counters" in body  # one batch
    last = max(int(line[4:]) for line in body.splitlines() if line.startswith("id: "))
    again = b"".join(client.get("/ioc/events?province=22&once=1", HTTP_LAST_EVENT_ID=str(last)).streaming_content).decode()
    assert again.count("event: report") == total - 50
    assert client.get("/ioc/events?max_s=9999").status_code == 400
