"""The desk's blur editor in Chromium: the original with the detector's box drawn, a
box drawn with the mouse, one removed, one added from the keyboard's numeric fields,
saved — the public copy is rendered again and the trail says what was added and
removed. Under the CSP, without console errors."""

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from reports import intake, workflow
from reports.models import Media, ReportEvent
from tests.e2e.test_csp import CITIZEN, OPERATOR, sign_in, visit
from tests.reports.conftest import new_key, report_data

pytestmark = pytest.mark.e2e
T = 30000
ASTRONAUT = Path(__file__).resolve().parent.parent.parent / "fixtures" / "blur" / "astronaut.jpg"


@pytest.fixture(autouse=True)
def _env(settings, isolated_cache, tmp_path):
    settings.NOTIFY_DISPATCH = "none"
    settings.RATELIMIT_ENABLE = False
    settings.MEDIA_ROOT = tmp_path / "media"


def test_desk_draws_removes_and_types_boxes_and_saves(live_url, page, client, tmp_path):
    User = get_user_model()
    photo = SimpleUploadedFile("anh.jpg", ASTRONAUT.read_bytes(), content_type="image/jpeg")
    report = intake.create_report(report_data(), {"photos": [photo]}, User.objects.get(username=CITIZEN), new_key())
    report = workflow.transition(report.pk, "forward", User.objects.get(username=OPERATOR))
    m = Media.objects.get(report=report)
    sign_in(page, live_url, client, OPERATOR)
    problems = visit(page, f"{live_url}/dieu-hanh/{report.code}/")
    assert problems == [], problems

    form = page.locator(".blur-form")
    form.scroll_into_view_if_needed()
    # the detector's face box is drawn over the original
    assert form.locator(".blur-box.blur-face").count() == 1
    assert form.locator(".blur-list li").count() == 1
    # draw a box with the mouse over the helmet (lower right)
    stage = form.locator(".blur-stage").bounding_box()
    x0, y0 = stage["x"] + stage["width"] * 0.6, stage["y"] + stage["height"] * 0.7
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + stage["width"] * 0.15, y0 + stage["height"] * 0.1, steps=5)
    page.mouse.move(x0 + stage["width"] * 0.3, y0 + stage["height"] * 0.2, steps=5)
    page.mouse.up()
    assert form.locator(".blur-box").count() == 2
    # remove the face box (the first in the list)
    form.locator(".blur-list li").first.locator("button").click()
    assert form.locator(".blur-box.blur-face").count() == 0
    # one more from the keyboard: 5 % from the left, 5 % from the top, 20 % × 10 %
    for cls, value in ((".blur-x", "5"), (".blur-y", "5"), (".blur-w", "20"), (".blur-h", "10")):
        form.locator(cls).fill(value)
    form.locator(".blur-add").focus()
    page.keyboard.press("Enter")
    assert form.locator(".blur-box.blur-manual").count() == 2
    page.screenshot(path=str(tmp_path / "blur-editor.png"), full_page=True)
    with page.expect_navigation(timeout=T):
        form.locator("button[type=submit]").click()
    assert page.locator("ul.messages li.success").is_visible()

    m.refresh_from_db()
    got = sorted((r["kind"], round(r["x"], 2), round(r["y"], 2)) for r in m.blur_regions)
    assert got == [("manual", 0.05, 0.05), ("manual", 0.6, 0.7)]
    ev = ReportEvent.objects.get(report=report, action="edit_blur")
    assert [r["kind"] for r in ev.data["removed"]] == ["face"] and len(ev.data["added"]) == 2
