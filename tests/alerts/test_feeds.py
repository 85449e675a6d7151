"""Atom and RSS feeds: valid shapes (the elements RFC 4287 requires), only public
reports, only public events, no reporter data."""

import xml.etree.ElementTree as ET

import pytest
from django.test import Client

from tests.reports.conftest import BAI_CHAY, point_in

A = "{http://www.w3.org/2005/Atom}"
REPORTER_NAME, REPORTER_PHONE = "Nguyễn Văn A", "0912345678"


def atom(resp):
    assert resp.status_code == 200, resp.content[:500]
    assert resp["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(resp.content)
    assert root.tag == f"{A}feed"
    for required in ("id", "title", "updated"):
        assert root.find(f"{A}{required}") is not None and root.find(f"{A}{required}").text, required
    entries = root.findall(f"{A}entry")
    # RFC 4287: an author in the feed or in every entry
    assert root.find(f"{A}author/{A}name") is not None or all(e.find(f"{A}author") is not None for e in entries)
    for e in entries:
        for required in ("id", "title", "updated"):
            assert e.find(f"{A}{required}") is not None and e.find(f"{A}{required}").text, required
        assert e.find(f"{A}link").get("href")
    body = resp.content.decode()
    assert REPORTER_NAME not in body and REPORTER_PHONE not in body
    return entries


@pytest.fixture
def two(make_report):
    return make_report(), make_report(public=False)


@pytest.mark.django_db
def test_area_feed_lists_only_public_reports(two):
    public, hidden = two
    entries = atom(Client().get(f"/feeds/area/{BAI_CHAY}.atom"))
    titles = " ".join(e.find(f"{A}title").text for e in entries)
    assert public.code in titles and hidden.code not in titles


@pytest.mark.django_db
def test_rss_variant(two):
    public, hidden = two
    resp = Client().get(f"/feeds/area/{BAI_CHAY}.rss")
    assert resp.status_code == 200
    channel = ET.fromstring(resp.content).find("channel")
    assert all(channel.find(x) is not None for x in ("title", "link", "description"))
    titles = [i.find("title").text for i in channel.findall("item")]
    assert any(public.code in t for t in titles) and not any(hidden.code in t for t in titles)


@pytest.mark.django_db
def test_report_feed_is_its_public_timeline(two, resolve_and_publish):
    public, hidden = two
    resolve_and_publish(public)
    entries = atom(Client().get(f"/feeds/report/{public.code}.atom"))
    # received, forward, accept, start, resolve, publish: six public steps
    assert len(entries) == 6
    assert Client().get(f"/feeds/report/{hidden.code}.atom").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("query,status", [
    ("lat={lat}&lon={lon}&r=2000", 200),
    ("lat={lat}&lon={lon}", 200),
    ("lat={lat}&lon={lon}&r=50000", 400),
    ("lat=abc&lon={lon}", 400),
    ("lon={lon}", 400),
])
def test_near_feed(two, query, status):
    public, hidden = two
    lon, lat = point_in(BAI_CHAY)
    resp = Client().get("/feeds/near.atom?" + query.format(lat=lat, lon=lon))
    assert resp.status_code == status
    if status == 200:
        titles = " ".join(e.find(f"{A}title").text for e in atom(resp))
        assert public.code in titles and hidden.code not in titles


@pytest.mark.django_db
def test_far_away_and_unknown(two):
    assert Client().get("/feeds/area/khong-co.atom").status_code == 404
    assert Client().get(f"/feeds/area/{BAI_CHAY}.json").status_code == 404
    entries = atom(Client().get("/feeds/near.atom?lat=10.0&lon=105.0&r=1000"))
    assert entries == []


@pytest.mark.django_db
def test_an_area_code_means_the_newest_boundaries():
    """Bãi Cháy's code 06673 exists in the 2009 and the 2025 boundaries: the feed is the 2025 commune's."""
    root = ET.fromstring(Client().get(f"/feeds/area/{BAI_CHAY}.atom").content)
    assert root.find(f"{A}id").text.endswith(f":vn-2025:commune:{BAI_CHAY}")
