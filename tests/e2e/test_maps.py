"""The planners' map in headless Chromium: the layer controls, every mode drawing its
layer (vector tiles on canvas, heat canvas, hexagon and area SVG paths), the province →
commune drill-down, the hotspot overlay and the export of the current view."""

import subprocess
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from django.conf import settings
from django.db import connection
from playwright.sync_api import expect

from heatmaps import aggregates as agg
from heatmaps.synthetic import generate
from reports.models import Category

pytestmark = pytest.mark.e2e
T = 30000  # ms: one request at a time on a shared 2-core machine
SHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"


@pytest.fixture(autouse=True)
def _env(settings, isolated_cache):
    SHOTS.mkdir(parents=True, exist_ok=True)


def count(sql, params=()):
    with connection.cursor() as cur:
        cur.execute(sql, list(params))
        return cur.fetchone()[0]


def test_planners_map_modes_layers_drilldown_hotspots_export(live_url, page):
    generate(900, seed=0.77, days=90)
    agg.refresh_all()
    page.set_default_timeout(60000)  # one request at a time on a shared 2-core machine
    page.goto(live_url + "/ban-do/", wait_until="domcontentloaded")

    # controls: 4 modes, one toggle per category group, the month slider
    expect(page.locator("input[name=mode]")).to_have_count(4, timeout=T)
    groups = Category.objects.filter(parent__isnull=True, active=True).count()
    expect(page.locator("input[name=category]")).to_have_count(groups, timeout=T)
    expect(page.locator("#hm-month-label")).not_to_be_empty(timeout=T)
    # base: the four provinces as SVG paths; points mode: vector tiles drawn on canvases
    expect(page.locator("path.hm-area")).to_have_count(4, timeout=T)
    page.locator(".leaflet-hm-tiles-pane canvas").first.wait_for(state="attached", timeout=T)
    page.screenshot(path=str(SHOTS / "map-points.png"))
    # it opens framed on the busiest province, not on the whole country where a month's
    # bins are specks
    busiest = count("SELECT province_code FROM reports_report GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
    lon, lat = count(
        """SELECT ARRAY[ST_X(p), ST_Y(p)] FROM (SELECT ST_PointOnSurface(a.geom) p FROM boundaries_area a
           JOIN boundaries_areatype t ON t.id = a.type_id AND t.code = 'province' WHERE a.code = %s) x""", [busiest])
    assert page.evaluate(f"hmMap.getBounds().contains([{lat}, {lon}]) && hmMap.getZoom() >= 7")
    # at street zoom a report's point is drawn above its area (not hidden under its fill)
    r = count("SELECT ARRAY[ST_X(location), ST_Y(location)] FROM reports_report WHERE province_code = %s ORDER BY "
              "created_at DESC LIMIT 1", [busiest])
    page.evaluate(f"hmMap.setView([{r[1]}, {r[0]}], 13)")
    page.wait_for_timeout(1500)
    top = page.evaluate(f"""(function () {{ var p = hmMap.latLngToContainerPoint([{r[1]}, {r[0]}]),
            b = hmMap.getContainer().getBoundingClientRect();
        var e = document.elementFromPoint(b.left + p.x, b.top + p.y);
        return e.tagName + ' ' + e.closest('.leaflet-pane').className; }})()""")
    assert top.startswith("CANVAS") and "hm-tiles" in top, top
    page.evaluate("hmMap.setView([16.5, 106.5], 6)")

    # choropleth by province, then a click on Quảng Ninh drills into its 54 communes
    page.check("input[name=mode][value=choropleth]")
    expect(page.locator("path.hm-area")).to_have_count(4, timeout=T)
    legend = page.locator("#hm-legend div")
    expect(legend).to_have_count(5, timeout=T)
    page.locator("path.hm-area-22").dispatch_event("click")
    expect(page.locator("path.hm-area")).to_have_count(54, timeout=T)
    expect(page.locator("#hm-province")).to_have_value("22", timeout=T)
    expect(page.locator("#hm-up")).to_be_visible(timeout=T)
    page.screenshot(path=str(SHOTS / "map-choropleth-communes.png"))

    # heat and hexagons over the current view
    page.check("input[name=mode][value=heat]")
    expect(page.locator("canvas.leaflet-heatmap-layer")).to_have_count(1, timeout=T)
    page.check("input[name=mode][value=hex]")
    page.locator("path.hm-hex").first.wait_for(state="attached", timeout=T)
    page.screenshot(path=str(SHOTS / "map-hexagons.png"))

    # Gi* hotspots of the province
    page.check("#hm-hotspots")
    page.locator("path.hm-hotspot").first.wait_for(state="attached", timeout=T)
    page.screenshot(path=str(SHOTS / "map-hotspots.png"))

    # export of the current view: GeoJSON with every report of the view and month
    href = page.get_attribute("#hm-export-geojson", "href")
    q = parse_qs(urlparse(href).query)
    w, s, e, n = (float(v) for v in q["bbox"][0].split(","))
    resp = page.request.get(live_url + href)
    assert resp.ok and "attachment" in resp.headers["content-disposition"]
    fc = resp.json()
    f = agg.Filters.from_params({k: v[0] for k, v in q.items()})
    where, params = f.raw_sql("r")
    # the public export: the reports the desk has let through (not the unchecked ones)
    from reports.policy import PUBLIC
    PUBLIC_STATES = PUBLIC.values

    expected = count(
        f"SELECT count(*) FROM reports_report r WHERE r.location && ST_MakeEnvelope(%s, %s, %s, %s, 4326) AND {where}"
        " AND r.state = ANY(%s)",
        [w, s, e, n, *params, list(PUBLIC_STATES)],
    )
    assert len(fc["features"]) == expected > 0
    html = page.request.get(live_url + page.get_attribute("#hm-export-html", "href")).text()
    assert "L.map(" in html and "cdn.jsdelivr" not in html  # folium map, Leaflet inlined
    csv = page.request.get(live_url + page.get_attribute("#hm-export-csv", "href")).text()
    assert len(csv.strip().splitlines()) == expected + 1
    # the same view as a GeoPackage (QGIS): GDAL reads as many features
    with tempfile.NamedTemporaryFile(suffix=".gpkg") as gpkg:
        gpkg.write(page.request.get(live_url + page.get_attribute("#hm-export-gpkg", "href")).body())
        gpkg.flush()
        info = subprocess.run(["ogrinfo", "-so", gpkg.name, "reports"], capture_output=True, text=True,
                              check=True).stdout
    assert f"Feature Count: {expected}" in info


def test_planners_map_of_boston_asks_for_boston_only(live_url, page, tmp_path):
    """/ban-do/?jurisdiction=boston: Boston's 22 wards as the areas, framed on Boston, and
    every data request of the page (areas, tiles, hexagons, exports) scoped to Boston."""
    from heatmaps.importer import import_records, load_mapping
    from tests.boundaries.test_jurisdictions import _boston_sample

    _frame, path = _boston_sample(tmp_path)
    import_records(str(path), load_mapping("boston311"))
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/api/v1/" in r.url or "/tiles/" in r.url else None)
    page.set_default_timeout(60000)
    page.goto(live_url + "/ban-do/?jurisdiction=boston", wait_until="domcontentloaded")
    page.check("input[name=mode][value=choropleth]")
    wards = count("""SELECT count(*) FROM boundaries_area a JOIN boundaries_boundaryversion v ON v.id = a.version_id
                     WHERE v.code = 'boston-wards'""")
    expect(page.locator("path.hm-area")).to_have_count(wards, timeout=T)
    assert page.evaluate("hmMap.getBounds().contains([42.3594, -71.0587])")  # City Hall
    page.check("input[name=mode][value=hex]")
    expect(page.locator("path.hm-hex").first).to_be_attached(timeout=T)
    assert "jurisdiction=boston" in page.get_attribute("#hm-export-gpkg", "href")
    data = [u for u in asked if "/api/v1/heatmaps/version/" not in u]
    assert data and all(parse_qs(urlparse(u).query).get("jurisdiction") == ["boston"] for u in data), data
