"""A report's whole life in headless Chromium: the citizen pins it on the map and sees
the commune and the authority before sending, the desk forwards, the officer resolves
with a photo, the desk publishes, the citizen rates; the public page shows the timeline
and never the reporter's identity; HTML typed by the citizen stays text."""

import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from fixtures.staff import PASSWORD
from reports.models import Media, Report
from tests.reports.conftest import BAI_CHAY, jpeg_bytes, point_in

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("isolated_site")]

INJECTION = 'Đèn đường hỏng <img src=x onerror="document.body.dataset.pwned=1"><b id="inj">x</b>'


@pytest.fixture
def jpeg(tmp_path):
    path = tmp_path / "anh-hien-truong.jpg"
    Image.new("RGB", (320, 240), (40, 120, 200)).save(path, "JPEG", quality=80)
    return str(path)


def signed_in(browser, live_url, phone, width=1280):
    """A browser context signed in as the user through the login page (staff and the
    demo citizen have the demo password; citizens usually sign in with a code)."""
    ctx = browser.new_context(locale="vi-VN", viewport={"width": width, "height": 900})
    page = ctx.new_page()
    page.set_default_timeout(20000)
    page.goto(f"{live_url}/accounts/login/?next=/accounts/profile/")  # a light page, not the home map
    page.click("details summary")
    page.fill("#id_username", phone)
    page.fill("#id_password", PASSWORD)
    page.click("#password-form button[type=submit]")
    expect(page.locator(".site-header")).to_contain_text("Đăng xuất")
    return page


def act(page, action, fill=None, files=None):
    form = page.locator(f"form[data-action={action}]")
    if form.locator("summary").count():
        form.locator("summary").click()
    for name, value in (fill or {}).items():
        form.locator(f"[name={name}]").fill(value)
    for name, path in (files or {}).items():
        form.locator(f"input[name={name}]").set_input_files(path)
    form.locator("button[type=submit]").click()
    page.wait_for_selector(".messages")
    return page.locator(".messages").inner_text()


def test_citizen_to_rating_through_the_browser(db, live_url, browser, jpeg):
    citizen_phone = "+84910000001"
    lon, lat = point_in(BAI_CHAY)

    # The citizen, on a 360 px phone, pins the report inside Bãi Cháy.
    cit = signed_in(browser, live_url, citizen_phone, width=360)
    cit.goto(f"{live_url}/phan-anh/moi/")
    cit.wait_for_selector("#map[data-communes]", state="attached")
    cit.fill("#commune-search", "bai chay")
    cit.click("#commune-results button")
    cit.wait_for_timeout(600)  # let the zoom to the commune finish
    cit.evaluate(f"window.intakeMap.setView([{lat}, {lon}], 15, {{animate: false}})")
    cit.locator("#map").scroll_into_view_if_needed()  # below the photo step on a phone
    cit.wait_for_timeout(300)
    x, y = cit.evaluate(
        f"""(() => {{ const p = window.intakeMap.latLngToContainerPoint([{lat}, {lon}]);
             const r = document.getElementById('map').getBoundingClientRect();
             return [p.x + r.left, p.y + r.top]; }})()""")
    cit.mouse.click(x, y)
    # The pin is where the citizen clicked (within a few metres at zoom 15).
    assert abs(float(cit.input_value("#lat")) - lat) < 0.0003
    assert abs(float(cit.input_value("#lon")) - lon) < 0.0003
    cit.click("label.cat-tile:has(input[value=do-thi-chieu-sang])")
    expect(cit.locator("#routing-authority")).to_contain_text("UBND Phường Bãi Cháy")
    expect(cit.locator("#routing-commune")).to_contain_text("Bãi Cháy")
    cit.fill("#description", INJECTION)
    cit.set_input_files("#photos", jpeg)
    cit.click("#submit-btn")
    cit.wait_for_url(re.compile(r"/phan-anh/PA-\d{4}-\d+/da-gui/\?t=[\w-]+$"))  # the receipt carries its token
    code = cit.locator("#report-code").inner_text().strip()
    report = Report.objects.get(code=code)
    assert report.commune.code == BAI_CHAY and report.authority.code == "ubnd-06673"
    assert report.reporter.username == citizen_phone
    assert Media.objects.filter(report=report, stage="report", kind="photo").count() == 1

    # The desk forwards.
    desk = signed_in(browser, live_url, "+84900000001")
    desk.goto(f"{live_url}/dieu-hanh/")
    desk.click(f"a:text('{code}')")
    assert "Đã thực hiện" in act(desk, "forward")
    expect(desk.locator("#state")).to_contain_text("Đã chuyển xử lý")

    # The officer of Bãi Cháy accepts, starts and resolves with a photo.
    off = signed_in(browser, live_url, "+84900000002")
    off.goto(f"{live_url}/xu-ly/")
    off.click(f"a:text('{code}')")
    act(off, "accept")
    act(off, "start")
    msg = act(off, "resolve", fill={"result_text": "Đã thay bóng đèn và kiểm tra lại cả tuyến."},
              files={"photos": jpeg})
    assert "Báo cáo kết quả" in msg
    report.refresh_from_db()
    assert report.state == "resolved"
    assert Media.objects.filter(report=report, stage="result").count() == 1

    # The desk publishes; the citizen rates on the public page.
    desk.reload()
    act(desk, "publish")
    cit.goto(f"{live_url}/phan-anh/{code}/")
    cit.check("input[name=level][value='5']")
    cit.fill("#rate-reason", "Xử lý nhanh")
    cit.click("#rate button[type=submit]")
    expect(cit.locator("#rating")).to_contain_text("Rất hài lòng")
    report.refresh_from_db()
    assert report.state == "rated" and report.rating_level == 5

    # Anyone: the timeline in order, the result with its photo, never the reporter.
    anon_ctx = browser.new_context(locale="vi-VN", viewport={"width": 360, "height": 800})
    anon = anon_ctx.new_page()
    anon.goto(f"{live_url}/phan-anh/{code}/")
    actions = anon.locator("#timeline li").evaluate_all("els => els.map(e => e.dataset.action)")
    assert actions == ["receive", "forward", "accept", "start", "resolve", "publish", "rate"]
    assert "UBND Phường Bãi Cháy" in anon.locator("#timeline").inner_text()
    assert anon.locator("#result img").count() == 1
    html = anon.content()
    for secret in (citizen_phone, "0910000001", "Người dân (demo)"):
        assert secret not in html
    # The HTML the citizen typed is shown as text, never run.
    assert "<img src=x" in anon.locator("#description").inner_text()
    assert anon.locator("#inj").count() == 0
    assert anon.locator("#description img").count() == 0
    assert anon.evaluate("document.body.dataset.pwned") is None
    for p in (cit, desk, off, anon):
        p.context.close()


def test_intake_exif_hint_double_click_makes_one_report_and_field_errors(db, live_url, page, tmp_path):
    lon, lat = point_in(BAI_CHAY)
    page.goto(f"{live_url}/phan-anh/moi/")
    page.wait_for_selector("#map[data-communes]", state="attached")
    # Sending without a pin or a category: errors next to the fields, nothing stored.
    before = Report.objects.count()
    page.click("#submit-btn")
    assert page.locator('[data-error-for="location"]').inner_text().strip()
    # A photo with GPS in its EXIF: the page offers its place as the pin.
    gps = tmp_path / "gps.jpg"
    gps.write_bytes(jpeg_bytes(gps=(lat, lon)))
    page.set_input_files("#photos", str(gps))
    page.click("#use-suggested")
    assert abs(float(page.input_value("#lat")) - lat) < 0.0001
    page.fill("#description", "Rác tồn đọng ba ngày")
    page.click("#submit-btn")
    expect(page.locator("[data-error-for=category]")).to_have_text(re.compile(r"\S"))
    assert Report.objects.count() == before
    page.click("label.cat-tile:has(input[value=moi-truong-rac-thai])")
    page.locator("#submit-btn").dblclick()
    page.wait_for_url(re.compile(r"/da-gui/\?t=[\w-]+$"))
    assert Report.objects.count() == before + 1
