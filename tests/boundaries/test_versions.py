"""BoundaryVersion.objects.current(): the one question "which boundaries now?"."""

import datetime as dt

import pytest
from django.utils import timezone

from boundaries.models import BoundaryVersion

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "at,jurisdiction,expected",
    [
        (None, None, "vn-2025"),  # today: the 2025 reform is in force
        (dt.date(2025, 3, 1), None, "vn-2009"),
        (dt.date(2025, 6, 30), "VN", "vn-2009"),  # last day of the old structure
        (dt.date(2025, 7, 1), "VN", "vn-2025"),  # first day of the new one
        # 23:30 in Hà Nội on 30 June is still the old day, whatever the UTC date
        (timezone.make_aware(dt.datetime(2025, 6, 30, 23, 30)), None, "vn-2009"),
        (None, "US-MA-BOS", "boston-wards"),
        (None, "XX", None),
    ],
)
def test_current_version(at, jurisdiction, expected):
    current = BoundaryVersion.objects.current(at=at, jurisdiction=jurisdiction)
    assert (current.code if current else None) == expected


def test_an_inactive_version_is_never_current():
    BoundaryVersion.objects.filter(code="vn-2025").update(active=False)
    assert BoundaryVersion.objects.current(at=dt.date(2025, 8, 1)) is None


def test_home_page_lists_the_current_versions_provinces(client):
    resp = client.get("/")
    assert resp.status_code == 200
    assert "Quảng Ninh" in resp.content.decode()


def test_the_pages_boundary_layer_is_the_current_versions(client):
    current = client.get("/api/v1/boundaries/current/province.geojson?zoom=6")
    named = client.get("/api/v1/boundaries/vn-2025/province.geojson?zoom=6")
    assert current.status_code == 200 and named.status_code == 200
    codes = sorted(f["properties"]["code"] for f in current.json()["features"])
    assert codes == sorted(f["properties"]["code"] for f in named.json()["features"]) == ["11", "22", "46", "96"]


@pytest.mark.parametrize("path", ["/phan-anh/moi/", "/canh-bao/"])
def test_pages_ask_for_the_current_version_never_a_named_one(client, path):
    # A newer version becomes current: every map page's layer follows at once (no page
    # names "vn-2025" itself).
    BoundaryVersion.objects.create(code="vn-2030", name="Thử", jurisdiction="VN",
                                   valid_from=timezone.localdate() - dt.timedelta(days=1))
    body = client.get(path).content.decode()
    assert "/api/v1/boundaries/vn-2030/commune.geojson" in body
    assert "vn-2025" not in body
