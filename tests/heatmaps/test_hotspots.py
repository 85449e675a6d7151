"""A hotspot appears where a cluster was injected, and nowhere else."""

import math

from django.db import connection

from heatmaps import aggregates as agg
from heatmaps import hotspots
from heatmaps.aggregates import Filters
from tests.heatmaps.conftest import insert_points

# Điện Biên Phủ, inside the province 11 (Điện Biên)
CLUSTER = (103.0200, 21.3860)


def uniform_points(province, n, seed):
    with connection.cursor() as cur:
        cur.execute("SELECT setseed(%s)", [seed])
        cur.execute(
            """SELECT ST_X(g), ST_Y(g) FROM (
                 SELECT (ST_Dump(ST_GeneratePoints(ST_Union(a.geom), %s, 7))).geom AS g
                 FROM boundaries_area a JOIN boundaries_area p ON p.id = a.parent_id
                 JOIN boundaries_boundaryversion v ON v.id = a.version_id AND v.code = 'vn-2025'
                 WHERE p.code = %s) x""",
            [n, province],
        )
        return cur.fetchall()


def test_hot_spot_where_the_cluster_is_and_not_elsewhere(db):
    background = uniform_points("11", 500, 0.5)
    rng = __import__("random").Random(3)
    cluster = [(CLUSTER[0] + rng.uniform(-0.004, 0.004), CLUSTER[1] + rng.uniform(-0.004, 0.004)) for _ in range(120)]
    insert_points(background)
    insert_points(cluster, category="moi-truong-rac-thai")
    agg.refresh_all()

    result = hotspots.hotspots(Filters(), province="11")
    level, cells = result["level"], result["cells"]
    assert len(cells) > 500  # the province's land cells, empty ones included
    size = agg.cell_size(level)
    cx, cy = agg.bbox_to_cells(level, CLUSTER[0], CLUSTER[1], CLUSTER[0], CLUSTER[1])[::2]
    at_cluster = next(c for c in cells if (c["cx"], c["cy"]) == (cx, cy))
    assert at_cluster["kind"] == "hot" and at_cluster["confidence"] == 99
    assert at_cluster["p"] < 0.01
    far_hot = [c for c in cells if c["kind"] == "hot" and c["confidence"] >= 95
               and math.hypot(c["cx"] - cx, c["cy"] - cy) > 2.5]
    assert far_hot == [], far_hot[:3]
    assert size > 0

    # the same without the cluster: a uniform scatter has no significant hot spot
    only_category = Filters.from_params({"category": "do-thi"})
    calm = hotspots.hotspots(only_category, province="11")["cells"]
    assert sum(c["n"] for c in calm) == 500
    assert not [c for c in calm if c["kind"] == "hot" and c["confidence"] >= 95]


def test_hotspots_geojson_api(client, db):
    insert_points([(CLUSTER[0] + i * 1e-4, CLUSTER[1]) for i in range(60)] + uniform_points("11", 200, 0.2),
                  province_code="11")
    agg.refresh_all()
    fc = client.get("/api/v1/heatmaps/hotspots/?province=11").json()
    assert fc["type"] == "FeatureCollection"
    hot = [f for f in fc["features"] if f["properties"]["kind"] == "hot"]
    assert hot and all(f["properties"]["confidence"] in (90, 95, 99) for f in hot)
    ring = hot[0]["geometry"]["coordinates"][0]
    assert len(ring) == 5
    assert client.get("/api/v1/heatmaps/hotspots/").status_code == 400
