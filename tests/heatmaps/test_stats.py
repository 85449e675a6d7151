"""Key figures and the ranking: a unit with 2 reports does not top the table."""

import re
import uuid

from heatmaps import aggregates as agg
from heatmaps import stats
from heatmaps.aggregates import Filters
from tests.heatmaps.conftest import rated_reports as make


def test_ranking_needs_the_minimum_volume(db, client, settings):
    settings.HEATMAP_RANKING_MIN_VOLUME = 20
    make("ubnd-06673", 25, on_time=20, rating=4)  # 80 % on time
    make("ubnd-06685", 30, on_time=15, rating=3)  # 50 % on time
    make("dien-luc-22", 2, on_time=2, rating=5)  # perfect, but only 2
    agg.refresh_all()
    table = stats.league_table(Filters())
    ranked = [e["authority"] for e in table["ranked"]]
    assert ranked == ["ubnd-06673", "ubnd-06685"]
    assert table["ranked"][0]["rank"] == 1
    assert table["ranked"][0]["on_time_rate"] == 0.8
    small = next(e for e in table["unranked"] if e["authority"] == "dien-luc-22")
    assert small["rank"] is None and small["received"] == 2 and "20" in small["note"]
    # score formula: 0.6 on time + 0.3 satisfaction + 0.1 volume
    first = table["ranked"][0]
    import math

    assert first["score"] == round(100 * (0.6 * 0.8 + 0.3 * 0.75 + 0.1 * math.log1p(25) / math.log1p(30)), 1)

    page = client.get("/xep-hang/").content.decode()
    assert page.index("UBND") < page.index("Chưa xếp hạng")
    api = client.get("/api/v1/stats/ranking/").json()
    assert [e["authority"] for e in api["ranked"]] == ranked


def test_figures_for_an_authority_province_commune_category(db, client):
    make("ubnd-06673", 10, on_time=7, rating=5)
    agg.refresh_all()
    fig = client.get("/api/v1/stats/authority/ubnd-06673/").json()["figures"]
    assert fig["received"] == 10 and fig["resolved"] == 10
    assert fig["resolved_on_time"] == 7 and fig["on_time_rate"] == 0.7
    assert fig["satisfaction"] == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 10}
    assert fig["median_handling_hours"] is not None
    prov = client.get("/api/v1/stats/province/22/").json()["figures"]
    assert prov["received"] == 10
    cat = client.get("/api/v1/stats/category/do-thi/").json()["figures"]
    assert cat["received"] == 10
    assert client.get("/api/v1/stats/authority/khong-co/").status_code == 400
    assert "start" in client.get("/api/v1/stats/?start=hôm-qua").json()["errors"]


def test_dashboard_counters_equal_the_database(db, client):
    make("ubnd-06673", 12, on_time=6, rating=2)
    agg.refresh_all()
    html = client.get("/tong-quan/").content.decode()
    assert 'id="n-received">12<' in html
    assert 'id="n-ontime">50%<' in html


def test_the_kept_dashboard_follows_the_data(db, client, settings):
    """The dashboard's figures are kept in the shared cache per data version: a refresh
    with new reports shows them on the next visit."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"dashboard-{uuid.uuid4().hex}"}}
    make("ubnd-06673", 25, on_time=20, rating=4)
    agg.refresh_all()
    for _visit in range(2):
        assert 'id="n-received">25<' in client.get("/tong-quan/", {"province": "22"}).content.decode()
    make("ubnd-06685", 5, on_time=5, rating=5)
    agg.refresh_all()
    page = client.get("/tong-quan/", {"province": "22"}).content.decode()
    assert 'id="n-received">30<' in page
    assert re.search(r'<tr data-province="22"><td>[^<]+</td><td>30</td>', page)
