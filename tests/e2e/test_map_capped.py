"""The planners' map says when a tile holds more points than it shows (the tile's
"capped" layer), and stops saying it where no tile is capped."""

from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from heatmaps import aggregates as agg
from tests.heatmaps.conftest import insert_points

pytestmark = pytest.mark.e2e
T = 30000  # ms: a shared 2-core machine
SHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"


@pytest.fixture(autouse=True)
def _env(settings, isolated_cache):
    settings.HEATMAP_TILE_MAX_POINTS = 5


# z14: a tile rendered when asked; z12: the month's tile the refresh stored
# (heatmaps.models.PointTile), which carries the same "capped" layer.
@pytest.mark.parametrize("zoom", [14, 12])
def test_map_shows_a_notice_where_a_tile_is_capped(live_url, page, zoom):
    lon, lat = 107.0800, 20.9550  # Hạ Long
    # 12 public reports within ~50 m: more than the cap of 5 in the tile at this zoom
    agg.refresh_for_reports(insert_points([(lon + i * 4e-5, lat) for i in range(12)], state="forwarded",
                                          province_code="22"))
    page.set_default_timeout(60000)
    page.goto(live_url + "/ban-do/", wait_until="domcontentloaded")
    notice = page.locator("#hm-capped")
    expect(notice).to_be_hidden(timeout=T)
    # The map frames the busiest province once its areas arrive: move it after that,
    # or the framing moves it back.
    expect(page.locator("path.hm-area")).not_to_have_count(0, timeout=T)
    page.locator(".leaflet-hm-tiles-pane canvas").first.wait_for(state="attached", timeout=T)
    page.wait_for_timeout(1000)
    page.evaluate(f"hmMap.setView([{lat}, {lon}], {zoom})")
    expect(notice).to_be_visible(timeout=T)
    assert page.evaluate("hmMap.getZoom()") == zoom
    expect(notice).to_contain_text("5")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"map-capped-z{zoom}.png"))
    # far from any report at the same zoom: no capped tile on the map, no notice
    page.evaluate(f"hmMap.setView([21.30, 107.90], {zoom})")
    expect(notice).to_be_hidden(timeout=T)
