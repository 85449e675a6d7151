"""The public ranking page (/xep-hang/) in pages, with a search: nationally 3,695
authorities were one 725 KB page. Three units of Quảng Ninh and reports no unit holds
yet, two rows a page: what a citizen sees on each page and for each search, counted by
hand from the reports made below."""

import re
import uuid

import pytest

from heatmaps import aggregates as agg
from heatmaps import views
from tests.heatmaps.conftest import HA_LONG, insert_points, rated_reports

pytestmark = pytest.mark.django_db

ROWS = re.compile(r'<tr class="(ranked|unranked)" data-authority="([^"]+)"><td>([^<]*)</td>')


@pytest.fixture
def ranking(settings, monkeypatch):
    settings.HEATMAP_RANKING_MIN_VOLUME = 20
    monkeypatch.setattr(views, "RANKING_PAGE_ROWS", 2)
    rated_reports("ubnd-06673", 25, on_time=20, rating=4)  # Bãi Cháy: 80 % on time → first
    rated_reports("ubnd-06685", 30, on_time=15, rating=3)  # Hồng Gai: 50 % on time → second
    rated_reports("dien-luc-22", 2, on_time=2, rating=5)  # too few to be ranked
    insert_points([HA_LONG] * 4, province_code="22")  # with the desk: no unit holds them
    agg.refresh_all()


# query → (rows as (authority, rank shown), the reports no unit holds shown, pager text)
CASES = [
    ({}, [("ubnd-06673", "1"), ("ubnd-06685", "2")], False, "Trang 1/2 · 3 cơ quan"),
    ({"page": "2"}, [("dien-luc-22", "–")], True, "Trang 2/2 · 3 cơ quan"),
    # a page that is not there: the last, as the report lists do
    ({"page": "99"}, [("dien-luc-22", "–")], True, "Trang 2/2 · 3 cơ quan"),
    ({"page": "abc"}, [("ubnd-06673", "1"), ("ubnd-06685", "2")], False, "Trang 1/2 · 3 cơ quan"),
    # a search keeps each unit's rank in the whole table
    ({"q": "hong gai"}, [("ubnd-06685", "2")], False, None),
    ({"q": "HỒNG GAI"}, [("ubnd-06685", "2")], False, None),
    ({"q": "  Hồng   Gai "}, [("ubnd-06685", "2")], False, None),
    ({"q": "dien luc"}, [("dien-luc-22", "–")], False, None),
    ({"q": "06673"}, [("ubnd-06673", "1")], False, None),
    ({"q": "ubnd"}, [("ubnd-06673", "1"), ("ubnd-06685", "2")], False, None),
    ({"q": "Móng Cái"}, [], False, None),
]


@pytest.mark.parametrize("query, rows, unassigned, pager", CASES, ids=[str(c[0]) for c in CASES])
def test_the_ranking_page_in_pages_and_searched(client, ranking, query, rows, unassigned, pager):
    resp = client.get("/xep-hang/", {"province": "22", **query})
    assert resp.status_code == 200
    page = resp.content.decode()
    assert [(authority, rank) for _kind, authority, rank in ROWS.findall(page)] == rows
    assert ('class="unassigned"' in page) is unassigned
    if unassigned:
        assert re.search(r'class="unassigned"><td>–</td><td>[^<]+</td><td colspan="2">4</td>', page)
    if pager:
        assert pager in page
    else:
        assert 'class="pager"' not in page
    if query.get("q") and not rows:
        assert "Không có cơ quan nào có tên chứa “Móng Cái”." in page


def test_the_pager_keeps_the_filters(client, ranking):
    page = client.get("/xep-hang/", {"province": "22", "start": "2020-01-01"}).content.decode()
    assert 'href="?province=22&amp;start=2020-01-01&amp;page=2" rel="next"' in page
    second = client.get("/xep-hang/", {"province": "22", "start": "2020-01-01", "page": "2"}).content.decode()
    assert 'href="?province=22&amp;start=2020-01-01&amp;page=1" rel="prev"' in second


def test_the_ranking_page_in_english(client, ranking):
    client.post("/i18n/setlang/", {"language": "en", "next": "/xep-hang/"})  # the language switcher
    page = client.get("/xep-hang/", {"province": "22"}).content.decode()
    assert "Page 1/2 · 3 agencies" in page
    assert 'placeholder="Name or code, e.g. Hồng Gai"' in page


def test_the_kept_ranking_follows_the_data_and_the_language(client, ranking, settings):
    """The league table is kept in the shared cache (per data version, view and language):
    a refresh with new reports shows them at once, and a visitor in English never gets
    the Vietnamese notes a visitor before them was shown, nor the other way round."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"league-{uuid.uuid4().hex}"}}

    def received(authority):
        table = client.get("/api/v1/stats/ranking/", {"province": "22"}).json()
        return next(e["received"] for e in table["ranked"] + table["unranked"] if e["authority"] == authority)

    second = client.get("/xep-hang/", {"province": "22", "page": "2"}).content.decode()
    assert "Chưa xếp hạng (dưới 20 phản ánh)" in second
    assert received("ubnd-06685") == 30
    client.post("/i18n/setlang/", {"language": "en", "next": "/xep-hang/"})
    english = client.get("/xep-hang/", {"province": "22", "page": "2"}).content.decode()
    assert "Not ranked (fewer than 20 reports)" in english and "Chưa xếp hạng" not in english
    client.post("/i18n/setlang/", {"language": "vi", "next": "/xep-hang/"})

    rated_reports("ubnd-06685", 5, on_time=5, rating=5)
    agg.refresh_all()
    assert received("ubnd-06685") == 35
    page = client.get("/xep-hang/", {"province": "22", "q": "hong gai"}).content.decode()
    assert re.search(r'data-authority="ubnd-06685"><td>\d</td><td>[^<]+</td><td>[\d.,]+</td><td>35</td>', page)
