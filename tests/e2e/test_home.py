"""The first page in headless Chromium: Quảng Ninh's communes drawn without any tile
server, a click on Bãi Cháy shows its codes and committee, English switchable."""

import pytest

from tests.boundaries._points import interior_point

pytestmark = pytest.mark.e2e  # the database comes with live_url (the plain db fixture)


@pytest.fixture(autouse=True)
def _sync_orm_beside_playwright(monkeypatch):
    # Playwright's sync API keeps an event loop in this thread; our ORM calls are sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _settle(page):
    """Wait until the map stands still: a province change flies the map to its bounds, and
    a view set during that flight is moved again when the flight ends (on a loaded machine
    the click then lands elsewhere)."""
    page.evaluate(
        "() => new Promise(done => { const m = window.geoPortalHome.map; let last = '';"
        " const tick = () => { const now = m.getCenter().toString() + m.getZoom();"
        " if (now === last && !m._animatingZoom && !(m._panAnim && m._panAnim._inProgress)) done();"
        " else { last = now; setTimeout(tick, 150); } }; tick(); })"
    )


def _show_and_click(page, lon, lat, zoom=13):
    """Centre the map on a point at ``zoom`` once it stands still, then click there."""
    _settle(page)
    page.evaluate("([lat, lon, z]) => window.geoPortalHome.map.setView([lat, lon], z, {animate: false})",
                  [lat, lon, zoom])
    _settle(page)
    _click_at(page, lon, lat)


def _click_at(page, lon, lat):
    """A real mouse click on the map at a geographic point."""
    xy = page.evaluate(
        "([lat, lon]) => { const p = window.geoPortalHome.map.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
        [lat, lon],
    )
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + xy[0], box["y"] + xy[1])


def test_home_map_click_bai_chay_then_english(live_url, page, tmp_path):
    external = []
    page.on(
        "request",
        lambda r: external.append(r.url) if not r.url.startswith(live_url) and not r.url.startswith("data:") else None,
    )
    page.goto(live_url + "/")
    page.wait_for_selector("#map[data-loaded='22']")
    assert page.locator("#province").input_value() == "22"
    # 54 communes drawn as SVG paths, with names as labels
    assert page.locator("#map path.leaflet-interactive").count() == 54
    assert page.locator(".commune-label", has_text="Phường Bãi Cháy").count() == 1
    # At the province's first view many communes are named, and no two names overlap.
    boxes = [b for b in (lab.bounding_box() for lab in page.locator(".commune-label").all()) if b]
    assert len(boxes) >= 10
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert (
                a["x"] + a["width"] <= b["x"] + 1
                or b["x"] + b["width"] <= a["x"] + 1
                or a["y"] + a["height"] <= b["y"] + 1
                or b["y"] + b["height"] <= a["y"] + 1
            ), (a, b)

    lon, lat = interior_point("06673")
    _show_and_click(page, lon, lat)
    panel = page.locator("#panel")
    panel.locator(".authority").first.wait_for()
    text = panel.inner_text()
    assert "Bãi Cháy" in text and "06673" in text and "22" in text
    assert "UBND Phường Bãi Cháy" in text
    assert "Cơ quan xử lý" in text
    assert panel.locator(".authority .kind").first.inner_text() == "Ủy ban nhân dân"
    # and who receives reports here, field by field
    assert "Công ty Điện lực Quảng Ninh" in panel.locator("ul.routing").inner_text()
    page.screenshot(path=str(tmp_path / "home-vi.png"))
    assert external == []  # no tile server, no CDN

    page.locator("button.lang[data-lang='en']").click()
    page.wait_for_selector("#map[data-loaded='22']")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("button.lang.current").inner_text() == "EN"
    _show_and_click(page, lon, lat)
    panel.locator(".authority").first.wait_for()
    assert "Commune" in panel.locator("dl").inner_text()  # the area type's English name
    kind_en = panel.locator(".authority .kind").first.inner_text()
    # The page's own text follows the English catalogue (built by the coordinator from
    # the wrapped Vietnamese source strings).
    from django.utils import translation

    source = "Xã, phường và cơ quan phụ trách"
    with translation.override("en"):
        english = translation.gettext(source)
    heading = page.locator(".home-side h1").inner_text()
    with translation.override("en"):
        assert kind_en == translation.gettext("Ủy ban nhân dân")
    if english == source:
        pytest.xfail("the English catalogue has no entry for the home page yet")
    assert heading == english


def test_home_on_a_phone_set_to_english_stays_vietnamese_and_another_province(live_url, browser):
    # A phone whose browser asks for English: the page (and what its API calls bring
    # back into the panel) stays Vietnamese until English is chosen with the switcher.
    context = browser.new_context(
        locale="en-US", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        page.goto(live_url + "/")
        page.wait_for_selector("#map[data-loaded='22']")
        map_box = page.locator("#map").bounding_box()
        assert map_box["width"] <= 390 and map_box["height"] > 300
        page.select_option("#province", "46")
        page.wait_for_selector("#map[data-loaded='46']")
        assert page.locator("#map path.leaflet-interactive").count() == 40
        assert page.locator(".commune-label", has_text="Phú Xuân").count() >= 1
        lon, lat = interior_point("19753")
        _show_and_click(page, lon, lat)
        page.locator("#panel .authority").first.wait_for()
        assert "Phú Xuân" in page.locator("#panel h2").inner_text()
        assert page.locator("#panel .authority .kind").first.inner_text() == "Ủy ban nhân dân"
        assert "Xã/Phường" in page.locator("#panel dl").inner_text()
    finally:
        context.close()


def test_admin_maps_draw_the_area_of_an_authority_and_a_rule(live_url, page, django_user_model):
    """The admin's map widget (our own Leaflet, no tiles) draws the polygon: the commune
    of a committee, the province of a rule. A map created in a zero-width cell used to
    project every vertex to one pixel: an empty box."""
    from boundaries.models import Authority, RoutingRule

    django_user_model.objects.create_superuser("e2e-admin", "e2e@example.org", "e2e-pass-12345")
    page.goto(live_url + "/admin/login/")
    page.fill("#id_username", "e2e-admin")
    page.fill("#id_password", "e2e-pass-12345")
    page.click("input[type=submit]")
    committee = Authority.objects.get(code="ubnd-06673")
    rule = RoutingRule.objects.filter(area__code="22", area__type__code="province").first()
    for url in (
        f"/admin/boundaries/area/{committee.jurisdiction_id}/change/",
        f"/admin/boundaries/authority/{committee.pk}/change/",
        f"/admin/boundaries/routingrule/{rule.pk}/change/",
    ):
        page.goto(live_url + url)
        drawn = page.locator("[id^=area-map] path.leaflet-interactive").first
        drawn.wait_for()
        box = drawn.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100, (url, box)
