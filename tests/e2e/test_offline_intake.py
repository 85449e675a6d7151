"""The installable, offline-tolerant intake in headless Chromium with its service worker:
a report sent with the network switched off waits on the phone ("saved, will be sent
when you are online") and is created exactly once, photos included, when the network
returns; the draft survives a reload (also offline); an answer lost on the way back is
retried with the same idempotency key and still makes one report; the app shell opens
with no network after one visit, and a page never kept shows the offline page.
Counts come from the database, never from the page."""

import time

import pytest
import requests
from PIL import Image
from playwright.sync_api import expect

from reports.models import Media, Report
from tests.reports.conftest import BAI_CHAY, point_in

pytestmark = pytest.mark.e2e
T = 30000  # ms: one request at a time on a shared 2-core machine
QUEUED = "Đã lưu, sẽ gửi khi có mạng"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(autouse=True)
def _isolated(isolated_site):
    isolated_site.NOTIFY_DISPATCH = "none"


@pytest.fixture
def photos(tmp_path):
    paths = []
    for i, colour in enumerate([(40, 120, 200), (200, 90, 30)]):
        path = tmp_path / f"anh-{i}.jpg"
        Image.new("RGB", (320, 240), colour).save(path, "JPEG", quality=80)
        paths.append(str(path))
    return paths


def wait_until(page, expression, timeout_s=T / 1000):
    """Poll a page expression (page.wait_for_function evaluates strings, which the CSP forbids)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout_s} s: {expression}"
        time.sleep(0.2)


@pytest.fixture
def open_intake(browser, live_url):
    """A fresh browser (no cache, no service worker yet) on the intake page, once its
    service worker controls the page and the commune map is drawn."""
    contexts = []

    def opener(viewport=PHONE):
        ctx = browser.new_context(locale="vi-VN", viewport=viewport, service_workers="allow")
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(T)
        page.goto(f"{live_url}/phan-anh/moi/")
        page.wait_for_selector("#map[data-communes]", state="attached")
        wait_until(page, "navigator.serviceWorker.controller !== null")
        # The visit is complete once the page and its province's boundaries are kept.
        wait_until(page, """Promise.all([caches.open('gp-pages').then(c => c.keys()),
                                        caches.open('gp-boundaries').then(c => c.keys())])
                            .then(([p, b]) => p.length > 0 && b.length > 0)""")
        return page

    yield opener
    for ctx in contexts:
        ctx.close()


def fill(page, photos, description="Cột đèn đổ chắn ngang đường Hạ Long"):
    lon, lat = point_in(BAI_CHAY)
    page.evaluate("([lat, lon]) => window.intakePage.setPin(lat, lon)", [lat, lon])
    page.click("label.cat-tile:has(input[value=do-thi-chieu-sang])")
    page.fill("#description", description)
    page.set_input_files("#photos", photos)
    # The draft is in IndexedDB once its photos are (saved 0.3 s after the last change).
    wait_until(page, f"""IntakeOutbox.getDraft().then(d => !!d && d.files.length === {len(photos)}
                               && d.fields.some(f => f[0] === 'description' && f[1].length > 0))""")
    return lat, lon


def reports_like(description):
    return Report.objects.filter(description=description)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_sent_offline_is_queued_then_created_once_with_its_photos(db, open_intake, photos, viewport):
    page = open_intake(viewport)
    text = f"Cột đèn đổ ({viewport['width']} px)"
    fill(page, photos, text)

    page.context.set_offline(True)
    page.click("#submit-btn")
    expect(page.locator("#outbox-panel .outbox-queued")).to_contain_text(QUEUED)
    expect(page.locator("#outbox-panel .outbox-queued")).to_contain_text(text)
    assert reports_like(text).count() == 0

    page.context.set_offline(False)
    receipt = page.locator("#outbox-panel .outbox-sent")
    expect(receipt).to_be_visible()
    report = reports_like(text).get()  # exactly one
    expect(receipt.locator(".outbox-code")).to_have_text(report.code)
    assert report.commune.code == BAI_CHAY
    assert Media.objects.filter(report=report, stage="report", kind="photo").count() == 2
    # Nothing is left to send: the outbox and the draft are empty.
    assert page.evaluate("IntakeOutbox.listOutbox().then(items => items.length)") == 0
    assert page.evaluate("IntakeOutbox.getDraft().then(d => d === undefined)")
    # The receipt's link opens the report's receipt page.
    receipt.locator("a").click()
    expect(page.locator("#report-code")).to_have_text(report.code)


def test_draft_survives_an_offline_reload_and_is_sent_once(db, open_intake, photos):
    page = open_intake()
    lat, lon = fill(page, photos[:1], "Ổ gà sâu trước cổng chợ")
    key = page.input_value("#idempotency_key")

    # No network: the page itself, its scripts and the map's communes come from the phone.
    page.context.set_offline(True)
    page.reload()
    page.wait_for_selector("#map[data-communes]", state="attached")
    expect(page.locator("#draft-note")).to_be_visible()
    assert page.input_value("#description") == "Ổ gà sâu trước cổng chợ"
    assert page.is_checked("input[name=category][value=do-thi-chieu-sang]")
    assert abs(float(page.input_value("#lat")) - lat) < 1e-5 and abs(float(page.input_value("#lon")) - lon) < 1e-5
    assert page.evaluate("document.getElementById('photos').files.length") == 1
    assert page.evaluate("document.getElementById('photos').files[0].name") == "anh-0.jpg"
    assert page.input_value("#idempotency_key") == key  # the draft's key, made when it was created

    page.click("#submit-btn")
    expect(page.locator("#outbox-panel .outbox-queued")).to_contain_text(QUEUED)
    expect(page.locator("#draft-note")).to_be_hidden()  # the draft is in the outbox now
    # The queue survives a reload: still one queued report, none sent.
    page.reload()
    expect(page.locator("#outbox-panel .outbox-queued")).to_have_count(1)
    assert reports_like("Ổ gà sâu trước cổng chợ").count() == 0

    page.context.set_offline(False)
    expect(page.locator("#outbox-panel .outbox-sent")).to_be_visible()
    report = reports_like("Ổ gà sâu trước cổng chợ").get()
    assert report.idempotency_key == key
    assert Media.objects.filter(report=report, stage="report", kind="photo").count() == 1


def test_an_answer_lost_on_the_way_back_is_retried_into_the_same_report(db, open_intake, photos, live_url):
    page = open_intake()
    fill(page, photos[:1], "Cây đổ sau bão")
    page.context.set_offline(True)
    page.click("#submit-btn")
    expect(page.locator("#outbox-panel .outbox-queued")).to_contain_text(QUEUED)

    # The queued report once reached the server, which created it, and the answer never
    # reached the phone: the same request (key, device, CSRF, fields, photo bytes) sent here.
    item = page.evaluate("""IntakeOutbox.listOutbox().then(async ([i]) => ({
        key: i.key, device: i.deviceId, url: i.url, csrf: i.csrf, fields: i.fields,
        photos: await Promise.all(i.files.map(async ([n, f]) => [f.name, Array.from(new Uint8Array(
            await f.arrayBuffer()))]))}))""")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    lost = requests.post(live_url + item["url"], data=item["fields"], cookies=cookies, timeout=60,
                         files=[("photos", (name, bytes(b), "image/jpeg")) for name, b in item["photos"]],
                         headers={"Accept": "application/json", "Idempotency-Key": item["key"],
                                  "X-Device-Id": item["device"], "X-CSRFToken": item["csrf"],
                                  "Referer": live_url + item["url"]})
    assert lost.status_code == 201
    report = reports_like("Cây đổ sau bão").get()

    # The connection returns: the phone sends it again with the same key and shows the
    # receipt of the report the lost answer was about.
    page.context.set_offline(False)
    expect(page.locator("#outbox-panel .outbox-code")).to_have_text(report.code)
    assert reports_like("Cây đổ sau bão").count() == 1
    assert Media.objects.filter(report=report, stage="report", kind="photo").count() == 1


def test_refused_report_shows_field_errors_and_keeps_the_draft(db, open_intake, photos):
    page = open_intake()
    fill(page, photos[:1], "x")
    page.fill("#description", "   ")  # only spaces: the server asks for a description
    page.click("#submit-btn")
    expect(page.locator('[data-error-for="description"]')).to_contain_text("Hãy mô tả sự việc")
    page.reload()
    page.wait_for_selector("#map[data-communes]", state="attached")
    expect(page.locator("#draft-note")).to_be_visible()
    assert page.evaluate("document.getElementById('photos').files.length") == 1
    assert Report.objects.filter(description="x").count() == 0


def test_shell_opens_offline_and_unkept_pages_show_the_offline_page(db, open_intake, live_url):
    page = open_intake(DESKTOP)
    page.context.set_offline(True)
    page.goto(f"{live_url}/phan-anh/moi/")
    page.wait_for_selector("#map[data-communes]", state="attached")
    assert int(page.get_attribute("#map", "data-communes")) > 10  # Quảng Ninh's communes, from the phone
    page.goto(f"{live_url}/phan-anh/")  # never visited: not kept
    expect(page.locator("#offline-page h1")).to_have_text("Không có kết nối mạng")
    page.context.set_offline(False)
    page.goto(f"{live_url}/phan-anh/")
    expect(page.locator("#offline-page")).to_have_count(0)
