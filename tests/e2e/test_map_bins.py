"""The planners' map colours its bins against one scale per zoom (the view's, from
/api/v1/heatmaps/bins/scale/), whatever order its tiles load in: the same count has the
same colour in every tile, and the legend says which counts each colour holds.

Before, each tile's cells were coloured against the busiest cell drawn so far: a tile
drawn before the busy one kept redder colours, and seams showed between tiles."""

from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from heatmaps import aggregates as agg
from tests.heatmaps.conftest import insert_points

pytestmark = pytest.mark.e2e
T = 30000  # ms: a shared 2-core machine
SHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
Z = 8  # bins; a tile is 1.40625° wide

# Four piles at 21°N, each in a z8 tile of its own (tile x = floor((lon + 180) / 1.40625)):
# 10 reports in Hạ Long (x 204) and at 106.0°E (x 203), drawn first; 100 at 90.5°E
# (x 192) and 10 more at 88.5°E (x 190), drawn after the map moves west. The busy pile is
# beyond every view the map draws before (the country at z6, 92.5–120.5°E, or the busiest
# province), so a scale taken from the tiles drawn so far could not know it.
HA_LONG, EAST, BUSY, WEST = (107.08, 21.0), (106.0, 21.0), (90.5, 21.0), (88.5, 21.0)
# The scale at z8 is the 99th percentile of the cells (10, 10, 100, 10): 100. The ramp's
# classes hold n >= 100 * (k / 5)^2 (k = 0…4): 1, 4, 16, 36, 64. So 10 reports are the
# second colour and 100 the last (map.js BIN_STOPS).
TEN, HUNDRED = (0xF0, 0x3B, 0x20), (0x7F, 0x00, 0x00)
LEGEND = ["1–3", "4–15", "16–35", "36–63", "≥ 64"]

PIXEL_AT = """([lat, lon]) => {
    const p = hmMap.latLngToContainerPoint([lat, lon]), box = hmMap.getContainer().getBoundingClientRect();
    const x = box.left + p.x, y = box.top + p.y;
    for (const c of document.querySelectorAll('.leaflet-hm-tiles-pane canvas')) {
        const r = c.getBoundingClientRect();
        if (x < r.left || x >= r.right || y < r.top || y >= r.bottom) continue;
        const d = c.getContext('2d').getImageData(Math.floor((x - r.left) * c.width / r.width),
                                                  Math.floor((y - r.top) * c.height / r.height), 1, 1).data;
        if (d[3] > 0) return [d[0], d[1], d[2]];
    }
    return null;
}"""


@pytest.fixture(autouse=True)
def _env(isolated_cache):
    SHOTS.mkdir(parents=True, exist_ok=True)


def four_piles():
    ids = []
    for place, n in ((HA_LONG, 10), (EAST, 10), (BUSY, 100), (WEST, 10)):
        ids += insert_points([place] * n, state="forwarded", province_code="22")
    agg.refresh_for_reports(ids)


def near(rgb, expected):
    return rgb is not None and all(abs(a - b) <= 3 for a, b in zip(rgb, expected, strict=True))


def colour_at(page, lon_lat):
    return page.evaluate(PIXEL_AT, [lon_lat[1], lon_lat[0]])


def test_the_same_count_has_the_same_colour_in_every_tile(live_url, page):
    four_piles()
    page.set_default_timeout(60000)
    page.goto(live_url + "/ban-do/", wait_until="domcontentloaded")
    # the map frames the busiest province once its areas arrive: move it after that
    expect(page.locator("path.hm-area")).not_to_have_count(0, timeout=T)
    page.locator(".leaflet-hm-tiles-pane canvas").first.wait_for(state="attached", timeout=T)
    page.wait_for_timeout(1000)

    # East first: the two piles of 10 are drawn before the busy tile is on the map
    page.evaluate(f"hmMap.setView([21.0, 108.5], {Z})")
    for place in (HA_LONG, EAST):
        page.wait_for_function(f"({PIXEL_AT})([{place[1]}, {place[0]}]) !== null", timeout=T)
    page.screenshot(path=str(SHOTS / "map-bins-one-scale-east.png"))
    first = [colour_at(page, HA_LONG), colour_at(page, EAST)]
    assert all(near(c, TEN) for c in first), first
    # then west: the busy pile and a third pile of 10, in tiles drawn after
    page.evaluate(f"hmMap.setView([21.0, 89.5], {Z})")
    for place in (BUSY, WEST):
        page.wait_for_function(f"({PIXEL_AT})([{place[1]}, {place[0]}]) !== null", timeout=T)
    page.screenshot(path=str(SHOTS / "map-bins-one-scale-west.png"))
    west, busy = colour_at(page, WEST), colour_at(page, BUSY)
    assert near(west, TEN), west  # the colour of the piles of 10 drawn before the busy tile
    assert near(busy, HUNDRED), busy
    # the legend: what the current zoom's colours hold
    expect(page.locator("#hm-legend .hm-bin-class")).to_have_text(LEGEND, timeout=T)
    expect(page.locator("#hm-legend .hm-legend-title")).to_have_text("Phản ánh mỗi ô")
    # at the points' zooms there are no bins, and no bins' legend
    page.evaluate("hmMap.setView([21.0, 90.5], 12)")
    expect(page.locator("#hm-legend .hm-bin-class")).to_have_count(0, timeout=T)


def test_a_scale_that_comes_late_colours_the_tiles_again(live_url, page):
    """The map waits 3 s for the scale; a slower one (a view's first scale on a big
    database) finds tiles drawn with the scale it had: they are drawn again with it."""
    four_piles()

    # the scale's answer held 5 s in the page (a route handler would hold this thread too)
    page.add_init_script("""(() => { const fetched = window.fetch;
        window.fetch = (url, options) => String(url).includes('/bins/scale/')
            ? new Promise(done => setTimeout(done, 5000)).then(() => fetched(url, options)) : fetched(url, options);
    })()""")
    page.set_default_timeout(60000)
    page.goto(live_url + "/ban-do/", wait_until="domcontentloaded")
    page.wait_for_function("() => window.hmMap !== undefined", timeout=T)
    page.evaluate(f"hmMap.setView([21.0, 108.5], {Z})")
    # first drawn against the least top (20: 10 reports are the fourth colour), then again
    # against the view's 100 once it came
    ten = "[" + ", ".join(str(c) for c in TEN) + "]"
    page.wait_for_function(
        f"() => {{ const c = ({PIXEL_AT})([{HA_LONG[1]}, {HA_LONG[0]}]);"
        f" return c !== null && c.every((v, i) => Math.abs(v - {ten}[i]) <= 3); }}", timeout=T)
    expect(page.locator("#hm-legend .hm-bin-class")).to_have_text(LEGEND, timeout=T)
