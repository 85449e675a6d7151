"""locate(): real PostGIS, the real boundaries of the four demo provinces and Boston."""

import datetime as dt

import pytest
from django.contrib.gis.geos import Point

from boundaries.lookup import locate
from tests.boundaries._points import distance_to_nearest_commune, interior_point, shared_vertex

pytestmark = pytest.mark.django_db

# (commune code, name, province code)
PLACES = [
    ("06673", "Bãi Cháy", "22"),
    ("06685", "Hồng Gai", "22"),
    ("06709", "Móng Cái 2", "22"),
    ("19753", "Phú Xuân", "46"),
    ("03127", "Điện Biên Phủ", "11"),
    ("32002", "An Xuyên", "96"),
]


@pytest.mark.parametrize("code,name,province", PLACES)
def test_interior_point_finds_its_commune_and_province(code, name, province):
    lon, lat = interior_point(code)
    result = locate(Point(lon, lat, srid=4326))
    assert result.reason == "" and result.snapped_m is None
    assert [a.type.code for a in result.areas] == ["province", "commune"]
    assert result.commune.code == code and name in result.commune.name
    assert result.province.code == province
    assert result.version.code == "vn-2025"


def test_tuple_point_and_date_before_the_reform_give_old_commune_and_district():
    lon, lat = interior_point("06673")
    now = locate((lon, lat))
    before = locate((lon, lat), at=dt.date(2025, 3, 1))
    assert now.commune.code == "06673" and now.district is None
    assert before.version.code == "vn-2009"
    assert [a.type.code for a in before.areas] == ["province", "district", "commune"]
    assert "Bãi Cháy" in before.commune.name
    assert "Hạ Long" in before.district.name
    assert before.province.code == "22"
    # the day the new structure starts, and a datetime late on the last old day (local time)
    assert locate((lon, lat), at=dt.date(2025, 7, 1)).version.code == "vn-2025"
    from django.utils import timezone

    late = timezone.make_aware(dt.datetime(2025, 6, 30, 23, 30))
    assert locate((lon, lat), at=late).version.code == "vn-2009"


def test_point_on_a_shared_border_goes_to_the_lowest_code():
    # Bãi Cháy (06673) borders Việt Hưng (06661): a vertex both cover.
    lon, lat = shared_vertex("06673", "06661")
    result = locate((lon, lat))
    communes = [a for a in result.areas if a.type.code == "commune"]
    assert len(communes) == 1
    assert communes[0].code == "06661"  # lowest code of the two
    # deterministic: asking again gives the same
    assert locate((lon, lat)).commune.code == "06661"


def test_pin_in_ha_long_bay_near_bai_chay_snaps_with_distance():
    # In the bay south of Bãi Cháy's shore, ~620 m out (checked below against the data).
    lon, lat = 107.05, 20.94
    dist = distance_to_nearest_commune((lon, lat), "06673")
    assert 500 < dist < 750
    result = locate((lon, lat))
    assert result.commune is not None and result.commune.code == "06673"
    assert result.province.code == "22"
    assert 0 < result.snapped_m < 1000
    assert result.snapped_m == pytest.approx(dist, abs=2)
    assert result.reason == ""


def test_pin_far_offshore_is_not_routed_and_says_why():
    # Gulf of Tonkin, ~28 km south-east of Vân Đồn's islands (no island there).
    result = locate((107.6, 20.5))
    assert result.areas == [] and result.snapped_m is None
    assert result.reason == "too_far"
    assert result.nearest_m > 20_000
    assert "km" in result.message


def test_outside_every_jurisdiction_and_no_version():
    result = locate((2.35, 48.85))  # Paris
    assert result.areas == [] and result.reason == "outside" and result.message
    none = locate((107.03, 20.96), jurisdiction="XX")
    assert none.reason == "no_version" and none.areas == []


def test_boston_ward_found_in_its_own_jurisdiction():
    result = locate((-71.0867, 42.3504))  # Hereford St, Back Bay: Ward 5
    assert [a.type.code for a in result.areas] == ["city-ward"]
    assert result.areas[0].code == "5"
    assert locate((-71.0867, 42.3504), jurisdiction="VN").reason == "outside"


def test_invalid_coordinates_are_refused():
    with pytest.raises(ValueError):
        locate((200, 10))
    with pytest.raises(ValueError):
        locate((float("nan"), 10))
