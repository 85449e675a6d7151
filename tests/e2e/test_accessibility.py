"""Accessibility in headless Chromium: axe-core (tests/e2e/vendor/axe.min.js, WCAG 2.1 A
and AA rules) on every citizen-facing page and the officer's queue, on a 390 px phone
and a 1366 px screen: no violation of impact "serious" or "critical". And the whole
report flow with the keyboard alone, the place given by commune and in words (no map).

axe is loaded with ``BrowserContext.add_init_script``: Playwright injects init scripts
through the DevTools protocol, which the page's Content-Security-Policy
(``script-src 'self'``, no inline script) does not govern, so the portal's real CSP
stays on (no ``bypass_csp``) while axe runs."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from reports import intake, workflow
from reports.models import Report
from tests.reports.conftest import BAI_CHAY, new_key, photo, report_data

pytestmark = pytest.mark.e2e

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"serious", "critical"}
CITIZEN, OFFICER, OPERATOR = "+84910000001", "+84900000002", "+84900000001"
WIDTHS = [390, 1366]
PLACE_WORDS = "trước số nhà 12 phố Lê Thánh Tông"


@pytest.fixture(autouse=True)
def _env(settings, isolated_cache, tmp_path):
    settings.NOTIFY_DISPATCH = "none"
    settings.RATELIMIT_ENABLE = False
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SMS_OUTBOX_DIR = tmp_path / "sms"


def user(phone):
    return get_user_model().objects.get(username=phone)


@pytest.fixture
def reports(db):
    """A citizen's report walked to "published" (timeline, result photo, rating form)
    and a fresh anonymous one with its receipt token."""
    citizen, operator, officer = user(CITIZEN), user(OPERATOR), user(OFFICER)
    done = intake.create_report(report_data(), None, citizen, new_key())
    for action, actor, data in (("forward", operator, None), ("accept", officer, None), ("start", officer, None),
                                ("resolve", officer, {"result_text": "Đã thay bóng đèn.", "photos": [photo()]}),
                                ("publish", operator, None)):
        done = workflow.transition(done, action, actor, data)
    fresh = intake.create_report(report_data(description="Ổ gà lớn giữa đường"), None, None, new_key())
    queued = intake.create_report(report_data(description="Cây đổ chắn lối đi"), None, citizen, new_key())
    workflow.transition(queued, "forward", operator)
    return {"public": done.code, "code": fresh.code, "token": fresh.receipt_token, "queued": queued.code}


def open_context(browser, live_url, client, width, phone=None):
    context = browser.new_context(locale="vi-VN", viewport={"width": width, "height": 900})
    context.add_init_script(path=str(AXE))
    if phone:
        client.force_login(user(phone))
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME,
                              "value": client.cookies[settings.SESSION_COOKIE_NAME].value, "url": live_url}])
    page = context.new_page()
    page.set_default_timeout(30000)
    return page


def axe_problems(page):
    """The serious and critical WCAG 2.1 A/AA violations of the page as it is now, one
    readable line per node (rule, impact, the element, axe's help)."""
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags},"
                           " resultTypes: ['violations']})", WCAG_TAGS)
    lines = []
    for v in result["violations"]:
        if v["impact"] not in BLOCKING:
            continue
        for node in v["nodes"]:
            lines.append(f"{v['id']} ({v['impact']}): {' '.join(node['target'])} — {v['help']} "
                         f"[{node['failureSummary'].splitlines()[-1].strip() if node['failureSummary'] else ''}]")
    return lines


PAGES = [
    # (name, who, path); {public}, {code}, {token}, {queued} come from the ``reports`` fixture
    ("home", None, "/"),
    ("intake", None, "/phan-anh/moi/"),
    ("list", None, "/phan-anh/"),
    ("report", None, "/phan-anh/{public}/"),
    ("receipt", None, "/phan-anh/{code}/da-gui/?t={token}"),
    ("report-by-receipt", None, "/phan-anh/{code}/?t={token}"),
    ("planners-map", None, "/ban-do/"),
    ("dashboard", None, "/tong-quan/"),
    ("ranking", None, "/xep-hang/"),
    ("alerts", None, "/canh-bao/"),
    ("sign-in", None, "/accounts/login/"),
    ("intake-citizen", CITIZEN, "/phan-anh/moi/"),
    ("my-reports", CITIZEN, "/phan-anh/cua-toi/"),
    ("own-report", CITIZEN, "/phan-anh/{public}/"),
    ("profile", CITIZEN, "/accounts/profile/"),
    ("queue", OFFICER, "/xu-ly/"),
    ("queue-report", OFFICER, "/xu-ly/{queued}/"),
]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name,who,path", PAGES, ids=[p[0] for p in PAGES])
def test_no_serious_or_critical_axe_violation(live_url, browser, client, reports, name, who, path, width):
    page = open_context(browser, live_url, client, width, who)
    response = page.goto(live_url + path.format(**reports), wait_until="load")
    assert response.status == 200
    page.wait_for_load_state("networkidle")  # maps, charts and lists filled by scripts
    problems = axe_problems(page)
    page.context.close()
    assert problems == [], "\n".join([f"{name} at {width} px:"] + problems)


# --- the report flow with the keyboard alone, the place without the map ---------------

# What has the focus, as a user would name it: the element's id (or its name and value
# for a radio), and whether a focus ring is drawn (its own outline, or the category
# tile's around a visually hidden radio).
FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return {key: "body", ring: false};
  const key = e.type === "radio" ? `${e.name}=${e.value}` : (e.id || e.tagName.toLowerCase());
  const outlined = el => {
    const s = getComputedStyle(el);
    return s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2;
  };
  const tile = e.closest(".cat-tile");
  return {key, ring: outlined(e) || (tile !== null && outlined(tile))};
}"""


def tab_to(page, key, limit=40, back=False):
    """Press Tab (Shift+Tab) until ``key`` has the focus; the keys met on the way, each
    checked to show a focus ring."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        now = page.evaluate(FOCUSED)
        assert now["ring"], f"no visible focus on {now['key']} (after {seen})"
        seen.append(now["key"])
        if now["key"] == key or (key.endswith("=*") and now["key"].startswith(key[:-1])):
            return seen
    raise AssertionError(f"{key} never got the focus: {seen}")


def press_until(page, key, selector, value, limit=300):
    for _ in range(limit):
        if page.eval_on_selector(selector, "e => e.value") == value:
            return
        page.keyboard.press(key)
    raise AssertionError(f"{selector} never became {value}")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_report_flow_with_the_keyboard_alone_and_without_the_map(live_url, browser, client, width):
    page = open_context(browser, live_url, client, width)
    page.goto(live_url + "/phan-anh/moi/")
    page.wait_for_selector("#map[data-communes]", state="attached")
    before = Report.objects.count()

    # The first Tab reaches the skip link; Enter skips the header's links.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.evaluate("document.activeElement.getBoundingClientRect().top") >= 0  # shown while focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    # In reading order: the photo step, then the place: province, "use my location", the
    # commune list and the place in words, before the map.
    assert tab_to(page, "commune-choice") == ["photos", "photos-gallery", "province", "use-location", "commune-choice"]
    label = page.evaluate("document.getElementById('commune-choice').labels[0].textContent")
    assert label.strip() == "Xã/phường"
    # A select's type-ahead: "b" jumps among the communes whose name starts with B.
    press_until(page, "b", "#commune-choice", BAI_CHAY, limit=40)
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)["key"] == "address"
    page.keyboard.type(PLACE_WORDS)

    # Enter in a text field sends the form: without a category and a text the errors are
    # announced (a status message), marked on their fields and linked to them, and the
    # focus goes to the first one.
    page.keyboard.press("Enter")
    expect(page.locator("#submit-status")).to_have_text("Vui lòng sửa các lỗi được đánh dấu.")
    assert page.get_attribute("#submit-status", "role") == "status"
    page.wait_for_function("() => document.activeElement && document.activeElement.name === 'category'")
    first = page.evaluate(FOCUSED)
    assert first["key"].startswith("category=") and first["ring"]
    for control, error in (("input[name=category]", "err-category"), ("#description", "err-description")):
        assert page.get_attribute(control, "aria-invalid") == "true"
        assert error in page.get_attribute(control, "aria-describedby").split()
        assert page.locator(f"#{error}").inner_text().strip()  # the message a screen reader reads
    assert Report.objects.count() == before
    problems = axe_problems(page)  # the page with its errors shown
    assert problems == [], "\n".join(problems)

    # The routing preview of the chosen commune is a status message too.
    expect(page.locator("#routing-commune")).to_contain_text("Bãi Cháy")
    assert page.get_attribute("#routing-text", "role") == "status"

    # Space checks the focused category, the arrow keys move through the group.
    page.keyboard.press("Space")
    press_until(page, "ArrowRight", "input[name=category]:checked", "do-thi-chieu-sang", limit=60)
    expect(page.locator("#routing-authority")).to_contain_text("UBND Phường Bãi Cháy")
    tab_to(page, "description")
    page.keyboard.type("Đèn đường hỏng hai tuần nay, buổi tối rất tối.")
    on_the_way = tab_to(page, "submit-btn")
    # (the "or sign in" link sits in the contact section's hint)
    assert on_the_way == ["video", "a", "contact_name", "contact_phone", "contact_email", "submit-btn"]
    # Shift+Tab goes back the same way.
    assert tab_to(page, "contact_email", back=True) == ["contact_email"]
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/phan-anh/PA-\d{4}-\d+/da-gui/\?t=[\w-]+$"))
    code = page.locator("#report-code").inner_text().strip()
    report = Report.objects.select_related("commune", "authority").get(code=code)
    assert report.commune.code == BAI_CHAY and report.location_precision == "commune"
    assert report.address == PLACE_WORDS and report.authority.code == "ubnd-06673"
    expect(page.locator("#placed-by-commune")).to_contain_text("vị trí theo xã/phường")
    problems = axe_problems(page)
    page.context.close()
    assert problems == [], "\n".join(problems)
