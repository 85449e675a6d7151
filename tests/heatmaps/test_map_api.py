"""The map's data endpoints: hexagons that hold exactly the reports of the view, and bad
parameters answered with a clear field error (never a 500, never minutes of CPU)."""

import json

from django.contrib.gis.geos import GEOSGeometry

from tests.heatmaps.conftest import HA_LONG, insert_points, raw_count

VIEW = "106.9,20.8,107.3,21.1"


def test_hexagons_hold_every_report_of_the_view_once(client, synthetic):
    insert_points([(HA_LONG[0] + i * 1e-5, HA_LONG[1]) for i in range(7)], state="in_progress")
    from reports.policy import PUBLIC
    PUBLIC_STATES = PUBLIC.values

    fc = client.get(f"/api/v1/heatmaps/hex/?bbox={VIEW}&zoom=12").json()
    expected = raw_count("r.location && ST_MakeEnvelope(106.9, 20.8, 107.3, 21.1, 4326) AND r.state = ANY(%s)",
                         [list(PUBLIC_STATES)])
    assert sum(f["properties"]["n"] for f in fc["features"]) == expected > 7
    # the busiest hexagon's count is the number of reports inside its polygon
    top = max(fc["features"], key=lambda f: f["properties"]["n"])
    poly = GEOSGeometry(json.dumps(top["geometry"]), srid=4326)
    assert raw_count("ST_Intersects(%s::geometry, r.location)", [poly.ewkt]) == top["properties"]["n"] >= 7


def test_bad_parameters_are_clear_400s(client, db):
    cases = {
        "/tiles/reports/99/0/0.pbf": "tile",
        "/tiles/bins/5/40/0.pbf": "tile",
        "/tiles/rivers/5/0/0.pbf": "layer",
        "/tiles/bins/5/25/14.pbf?category=khong-co": "category",
        "/tiles/bins/5/25/14.pbf?month=2026-13": "month",
        "/api/v1/heatmaps/heat/?bbox=rac,rac": "bbox",
        "/api/v1/heatmaps/heat/?bbox=200,0,201,1": "bbox",
        "/api/v1/heatmaps/heat/?bbox=106,20,108,22&zoom=99": "zoom",
        # the world at street zoom: ~10^11 hexagons, minutes of CPU before this check
        "/api/v1/heatmaps/hex/?bbox=-180,-90,180,90&zoom=22": "zoom",
        "/api/v1/heatmaps/areas/?version=khong-co": "version",
        "/api/v1/heatmaps/hotspots/?province=zz": "province",
        "/api/v1/heatmaps/export.xml?bbox=106,20,108,22": "format",
        "/api/v1/heatmaps/export.csv": "bbox",
        "/api/v1/stats/?start=2026-05-01&end=2026-01-01": "end",
        "/api/v1/stats/ranking/?min=-1": "min",
        "/api/v1/stats/?province=zz": "province",
        "/api/v1/stats/province/zz/": "province",
    }
    for url, field in cases.items():
        resp = client.get(url)
        assert resp.status_code == 400, url
        assert resp.json()["errors"][field], url
    # the pages too: the form re-rendered with the error, status 400
    assert client.get("/tong-quan/?province=zz").status_code == 400
    assert client.get("/xep-hang/?start=2026-05-01&end=2026-01-01").status_code == 400


def test_dashboard_chart_names_the_field_groups(client, synthetic):
    import re

    html = client.get("/tong-quan/").content.decode()
    data = json.loads(re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', html, re.S).group(1))
    assert "Điện" in data["groups"] and "dien" not in data["groups"]
    assert sum(data["group_received"]) == synthetic
