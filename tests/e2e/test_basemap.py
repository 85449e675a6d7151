"""The basemap on every map page in headless Chromium, with each GEO_PORTAL_BASEMAP option:

- pmtiles: an archive written in the test (earth, water, roads over Hạ Long), served by the
  portal with range requests (206) and drawn by protomaps-leaflet on canvases that hold the
  flavour's colours (several, not one blank fill);
- xyz: a raster tile server started in the test answering magenta PNGs; the tiles are
  asked and magenta shows on the map (the wall's dark style too);
- none: not one tile request, no basemap layer, the outlines as before.

Each page shows the basemap's attribution. Citizens' pages at a phone's width (390 px),
staff pages at a desktop's (1366 px). Nothing leaves the machine.
"""

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from PIL import Image
from playwright.sync_api import expect

from heatmaps import aggregates as agg
from reports import intake, workflow
from tests.basemap_tiles import RasterTileServer, write_archive
from tests.reports.conftest import BAI_CHAY, new_key, report_data

pytestmark = pytest.mark.e2e
T = 30000  # ms: one request at a time on a shared 2-core machine
SHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
OFFICER, OPERATOR, ADMIN = "+84900000002", "+84900000001", "basemap-admin"
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1366, "height": 800}

# (name, path, who signs in, viewport, the map's element)
PAGES = [
    ("home", "/", None, PHONE, "#map[data-loaded]"),
    ("intake", "/phan-anh/moi/", None, PHONE, "#map[data-communes]"),
    ("public-map", "/phan-anh/", None, PHONE, "#reports-map"),
    ("alerts", "/canh-bao/", None, PHONE, "#map"),
    ("officer-queue", "/xu-ly/", OFFICER, DESKTOP, "#reports-map"),
    ("officer-report", "/xu-ly/{code}/", OFFICER, DESKTOP, "#staff-map"),
    ("desk-report", "/dieu-hanh/{code}/", OPERATOR, DESKTOP, "#staff-map"),
    ("planners-map", "/ban-do/", None, DESKTOP, "#hm-map"),
    ("wall", "/ioc/?province=22&sse=once&rotate=600", OPERATOR, DESKTOP, "#ioc-map"),
    ("admin-area", "/admin/boundaries/area/{area}/change/", ADMIN, DESKTOP, ".admin-map"),
]


@pytest.fixture(autouse=True)
def _env(settings, isolated_cache):
    settings.NOTIFY_DISPATCH = "none"
    settings.RATELIMIT_ENABLE = False
    SHOTS.mkdir(parents=True, exist_ok=True)


@pytest.fixture
def world(db):
    """A report in Bãi Cháy forwarded to its ward: on the public map, the officer's queue,
    the officer's and the desk's report pages; an admin for the area's page."""
    from boundaries.models import Area

    operator = get_user_model().objects.get(username=OPERATOR)
    report = intake.create_report(report_data(BAI_CHAY), {}, None, new_key())
    workflow.transition(report, "forward", operator)
    agg.refresh_for_reports([report.pk])
    get_user_model().objects.create(username=ADMIN, is_staff=True, is_superuser=True)
    return {"code": report.code, "area": Area.objects.filter(code=BAI_CHAY).values_list("pk", flat=True).first()}


def open_page(browser, live_url, client, who, viewport):
    context = browser.new_context(locale="vi-VN", viewport=viewport)
    if who:
        client.force_login(get_user_model().objects.get(username=who))
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME,
                              "value": client.cookies[settings.SESSION_COOKIE_NAME].value, "url": live_url}])
    page = context.new_page()
    page.set_default_timeout(60000)
    return page


def colours_on_canvases(page, selector):
    """Distinct colours (quantised) and painted pixels on the basemap pane's canvases."""
    return page.evaluate("""(sel) => {
        const seen = new Set(); let painted = 0;
        document.querySelectorAll(sel + ' .leaflet-basemap-pane canvas').forEach((c) => {
            if (!c.width || !c.height) return;
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            for (let i = 0; i < d.length; i += 4 * 7) {
                if (d[i + 3] === 0) continue;
                painted++;
                seen.add((d[i] >> 4) + ',' + (d[i + 1] >> 4) + ',' + (d[i + 2] >> 4));
            }
        });
        return [seen.size, painted];
    }""", selector)


def magenta_share(png_path):
    """Share of a screenshot's pixels that are magenta-ish (the test server's tiles, also
    after the wall's dark filter and a thin wash of outlines)."""
    img = Image.open(png_path).convert("RGB")
    px = list(img.get_flattened_data())
    hits = sum(1 for r, g, b in px if r - g > 40 and b - g > 40)
    return hits / len(px)


def visit(browser, live_url, client, name, path, who, viewport, box, world, kind):
    page = open_page(browser, live_url, client, who, viewport)
    asked = []
    page.on("request", lambda r: asked.append((r.url, r.headers.get("range"))))
    answers = []
    page.on("response", lambda r: answers.append((r.url, r.status)))
    refused = []  # the page's Content-Security-Policy must let the basemap in
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.refused = refused
    page.goto(live_url + path.format(**world), wait_until="domcontentloaded")
    # the map's own data is drawn (pages that mark it) before the basemap is judged
    expect(page.locator(box)).to_have_attribute("data-basemap", kind, timeout=T)
    page.wait_for_timeout(1500)
    return page, asked, answers


@pytest.mark.parametrize("name,path,who,viewport,box", PAGES, ids=[p[0] for p in PAGES])
def test_pmtiles_basemap_is_served_by_the_portal_and_drawn(
        live_url, browser, client, settings, tmp_path, world, name, path, who, viewport, box):
    archive = tmp_path / "ha-long.pmtiles"
    write_archive(archive)
    settings.GEO_PORTAL_BASEMAP = f"pmtiles:{archive}"
    page, asked, answers = visit(browser, live_url, client, name, path, who, viewport, box, world,
                                 "pmtiles")
    # protomaps-leaflet reads the archive in ranges from the portal, and nothing else is fetched off-site
    page.wait_for_function(
        "(sel) => document.querySelectorAll(sel + ' .leaflet-basemap-pane canvas').length > 0", arg=box, timeout=T)
    page.wait_for_timeout(1500)  # the canvases paint after their tiles' data arrives
    ranged = [a for a in asked if "/basemap/ha-long.pmtiles" in a[0]]
    assert ranged and all(r and r.startswith("bytes=") for _, r in ranged), asked
    # the answers arrive after their requests (on the wall, beside its event stream, later still)
    for _ in range(T // 250):
        if any("/basemap/ha-long.pmtiles" in u and s == 206 for u, s in answers):
            break
        page.wait_for_timeout(250)
    assert any("/basemap/ha-long.pmtiles" in u and s == 206 for u, s in answers), answers
    assert all(u.startswith((live_url, "data:", "blob:")) for u, _ in asked), [u for u, _ in asked]
    # earth, sea and roads in the flavour's colours: several colours, not one blank fill
    distinct, painted = colours_on_canvases(page, box)
    assert painted > 1000 and distinct >= 3, (distinct, painted)
    expect(page.locator(box + " .leaflet-control-attribution")).to_contain_text("OpenStreetMap", timeout=T)
    expect(page.locator(box + " .leaflet-control-attribution a", has_text="OpenStreetMap")).to_have_attribute(
        "href", "https://www.openstreetmap.org/copyright")
    page.locator(box).screenshot(path=str(SHOTS / f"basemap-pmtiles-{name}.png"))
    assert not page.refused, page.refused
    page.context.close()


@pytest.mark.parametrize("name,path,who,viewport,box", PAGES, ids=[p[0] for p in PAGES])
def test_raster_basemap_tiles_are_asked_and_drawn(
        live_url, browser, client, settings, tmp_path, world, name, path, who, viewport, box):
    with RasterTileServer() as tiles:
        settings.GEO_PORTAL_BASEMAP = "xyz:" + tiles.template
        settings.GEO_PORTAL_BASEMAP_ATTRIBUTION = "© Sở TN&MT thử nghiệm"
        page, asked, answers = visit(browser, live_url, client, name, path, who, viewport, box,
                                     world, "xyz")
        page.wait_for_function(
            "(sel) => [...document.querySelectorAll(sel + ' .leaflet-basemap-pane img')]"
            ".some((i) => i.complete && i.naturalWidth === 256)", arg=box, timeout=T)
        page.wait_for_timeout(1000)
        assert any(p.endswith(".png") for p in tiles.requests), tiles.requests
        shot = tmp_path / f"{name}.png"
        page.locator(box).screenshot(path=str(shot))
        page.locator(box).screenshot(path=str(SHOTS / f"basemap-xyz-{name}.png"))
        assert magenta_share(shot) > 0.05, magenta_share(shot)
        expect(page.locator(box + " .leaflet-control-attribution")).to_contain_text("© Sở TN&MT thử nghiệm")
        assert not page.refused, page.refused
        page.context.close()


@pytest.mark.parametrize("name,path,who,viewport,box", PAGES, ids=[p[0] for p in PAGES])
def test_no_basemap_makes_no_tile_request(
        live_url, browser, client, settings, world, name, path, who, viewport, box):
    settings.GEO_PORTAL_BASEMAP = "none"
    page, asked, answers = visit(browser, live_url, client, name, path, who, viewport, box, world, "none")
    page.wait_for_timeout(1500)
    assert not [u for u, _ in asked if "/basemap/" in u or not u.startswith((live_url, "data:", "blob:"))], asked
    expect(page.locator(box + " .leaflet-basemap-pane *")).to_have_count(0)
    # the attribution control is there (Leaflet's own credit) though no basemap is credited
    expect(page.locator(box + " .leaflet-control-attribution")).to_be_visible()
    page.context.close()
