"""The bins' colour scale (/api/v1/heatmaps/bins/scale/): for each zoom drawn as bins, the
99th percentile of the reports in a cell over the whole view, the top of the map's colour
ramp, the same for every tile. Before it, each tile's cells were coloured against the
busiest cell drawn so far, and seams showed between tiles loaded in another order.

Every case is counted by hand: the reports are placed 0.05° apart, more than a cell's side
at z7–z9 (0.044° at z7), so each place is one cell of its own there."""

import datetime as dt

import pytest
from django.utils import timezone

from heatmaps import aggregates as agg
from tests.heatmaps.conftest import insert_points

pytestmark = pytest.mark.django_db

STREET_LIGHTS, RUBBISH = "do-thi-chieu-sang", "moi-truong-rac-thai"
POWER_COMPANY = "dien-luc-22"
FINE_ZOOMS = ("7", "8", "9")  # each place its own cell (above)


def places(n, west=106.60, south=20.70):
    """n places 0.05° apart in rows of 10, inland and offshore of Quảng Ninh alike (the
    grid counts a report wherever it is)."""
    return [(west + (i % 10) * 0.05, south + (i // 10) * 0.05) for i in range(n)]


def pile(place, n):
    return [place] * n


def month_ago():
    return timezone.now() - dt.timedelta(days=45)


# (what the database holds: (points, category, created_at "now" or "old"[, authority]), query,
# the top at z7–z9)
CASES = [
    pytest.param([(places(100), STREET_LIGHTS, "now"), (pile((107.5, 21.5), 50), STREET_LIGHTS, "now")], {}, 1,
                 id="a pile-up of 50 in one cell does not pale 100 cells of 1: the 99th percentile is 1"),
    pytest.param([(places(3) * 7, STREET_LIGHTS, "now"), (pile((107.5, 21.5), 40), RUBBISH, "now")], {}, 40,
                 id="four cells (7, 7, 7, 40): the busiest sets the top"),
    pytest.param([(places(3) * 7, STREET_LIGHTS, "now"), (pile((107.5, 21.5), 40), RUBBISH, "now")],
                 {"category": STREET_LIGHTS}, 7, id="one category's view: its own cells only"),
    pytest.param([(places(2) * 5, STREET_LIGHTS, "now"), (pile((107.5, 21.5), 30), STREET_LIGHTS, "old")],
                 {"month": "now"}, 5, id="a month's view: that month's reports only"),
    pytest.param([(places(2) * 5, STREET_LIGHTS, "now"), (pile((107.5, 21.5), 30), STREET_LIGHTS, "old")],
                 {}, 30, id="all time: every month's"),
    pytest.param([(places(2) * 5, STREET_LIGHTS, "now")], {"month": "2020-01"}, 0,
                 id="a month without reports: no scale (0)"),
    pytest.param([(places(3) * 7, STREET_LIGHTS, "now", POWER_COMPANY),
                  (pile((107.5, 21.5), 40), STREET_LIGHTS, "now")], {"authority": POWER_COMPANY}, 7,
                 id="an authority's view: its reports' cells (read from the reports)"),
]


@pytest.mark.parametrize(("held", "query", "top"), CASES)
def test_the_scale_is_the_views_busiest_cells(client, held, query, top):
    for points, category, when, *authority in held:
        insert_points(points, category=category, state="forwarded", province_code="22",
                      created_at=timezone.now() if when == "now" else month_ago(),
                      authority=authority[0] if authority else None)
    agg.refresh_all()
    query = {k: timezone.localdate().strftime("%Y-%m") if v == "now" else v for k, v in query.items()}
    answer = client.get("/api/v1/heatmaps/bins/scale/", query)
    assert answer.status_code == 200
    body = answer.json()
    assert body["percentile"] == 99
    # every zoom drawn as bins has its figure, the points' zooms none
    assert set(body["zooms"]) == {str(z) for z in range(10)}
    assert {z: body["zooms"][z] for z in FINE_ZOOMS} == dict.fromkeys(FINE_ZOOMS, top)


def test_at_country_zoom_the_places_share_a_cell(client):
    """z3's cells are 0.703125° of longitude wide (78 km): the 100 places (106.90–107.35°E,
    20.70–21.15°N) and a pile of 50 at 107.5°E 21.2°N all fall in its cell (408, 286) (by
    Web Mercator's formula, worked out apart), 150 reports."""
    insert_points(places(100, west=106.90) + pile((107.5, 21.2), 50), state="forwarded", province_code="22")
    agg.refresh_all()
    zooms = client.get("/api/v1/heatmaps/bins/scale/").json()["zooms"]
    assert zooms["3"] == 150
    assert zooms["0"] == zooms["3"]  # below z3 the map draws z3's cells
    assert zooms["9"] == 1  # there, 101 cells: the pile is the 1 %


@pytest.mark.parametrize(("query", "field"), [
    ({"month": "2026-13"}, "month"),
    ({"category": "khong-co"}, "category"),
    ({"province": "zz"}, "province"),
    ({"start": "2026-05-01", "end": "2026-01-01"}, "end"),
])
def test_a_bad_view_is_a_field_error(client, query, field):
    answer = client.get("/api/v1/heatmaps/bins/scale/", query)
    assert answer.status_code == 400
    assert answer.json()["errors"][field]
