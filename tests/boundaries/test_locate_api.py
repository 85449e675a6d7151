"""GET /api/v1/locate, the boundary GeoJSON layers and the area detail."""

import json

import pytest

from tests.boundaries._points import interior_point

pytestmark = pytest.mark.django_db


def test_locate_with_category_gives_areas_authority_rule_and_explanation(client):
    lon, lat = interior_point("06673")
    r = client.get("/api/v1/locate", {"lat": lat, "lon": lon, "category": "xay-dung-trai-phep"})
    assert r.status_code == 200
    data = r.json()
    assert [(a["type"], a["code"]) for a in data["areas"]] == [("province", "22"), ("commune", "06673")]
    assert data["areas"][1]["name"] == "Phường Bãi Cháy" and data["areas"][1]["version"] == "vn-2025"
    assert data["snapped_m"] is None and data["reason"] == ""
    assert data["authority"]["code"] == "ubnd-06673"
    assert data["rule"]["id"] and data["rule"]["name"]
    assert "Bãi Cháy" in data["explanation"]


def test_locate_dated_before_the_reform(client):
    lon, lat = interior_point("06673")
    data = client.get("/api/v1/locate", {"lat": lat, "lon": lon, "at": "2025-03-01T09:00:00+07:00"}).json()
    assert [a["type"] for a in data["areas"]] == ["province", "district", "commune"]
    assert {a["version"] for a in data["areas"]} == {"vn-2009"}


def test_locate_snaps_and_refuses_far_points(client):
    data = client.get("/api/v1/locate", {"lat": 20.94, "lon": 107.05}).json()
    assert data["areas"][-1]["code"] == "06673" and 0 < data["snapped_m"] < 1000
    far = client.get("/api/v1/locate", {"lat": 20.5, "lon": 107.6, "category": "dien-mat-dien"}).json()
    assert far["areas"] == [] and far["reason"] == "too_far" and far["message"]
    assert far["authority"] is None


@pytest.mark.parametrize(
    "params,fields",
    [
        ({"lon": "107"}, {"lat"}),
        ({"lat": "", "lon": "107"}, {"lat"}),
        ({"lat": "abc", "lon": "107"}, {"lat"}),
        ({"lat": "20.9", "lon": "1e999"}, {"lon"}),
        ({"lat": "91", "lon": "107"}, {"lat"}),
        ({"lat": "20.9", "lon": "-181"}, {"lon"}),
        ({"lat": "20.9", "lon": "107", "at": "hôm qua"}, {"at"}),
        ({"lat": "20.9", "lon": "107", "category": "khong-co"}, {"category"}),
        ({"lat": "x", "lon": "y", "at": "2025-13-45", "category": "?"}, {"lat", "lon", "at", "category"}),
        ({"lat": "2_0", "lon": "107"}, {"lat"}),
        ({"lat": "20.9", "lon": "107", "category": "dien\x00"}, {"category"}),
        ({"lat": "20.9", "lon": "107", "category": "x" * 5000}, {"category"}),
        ({"lat": "20.9", "lon": "107", "at": "0001-01-01T00:00:00+14:00"}, {"at"}),
        ({"lat": "20.9", "lon": "107", "at": "9999-12-31T23:59:59-12:00"}, {"at"}),
    ],
)
def test_bad_input_is_a_400_with_a_message_per_field(client, params, fields):
    r = client.get("/api/v1/locate", params)
    assert r.status_code == 400
    errors = r.json()["errors"]
    assert set(errors) == fields
    assert all(isinstance(m, list) and m and m[0] for m in errors.values())


def test_messages_follow_the_language(client):
    r = client.get("/api/v1/locate", {"lon": "107"}, HTTP_ACCEPT_LANGUAGE="vi")
    assert r.json()["errors"]["lat"] == ["Thiếu tham số này."]


def test_province_communes_geojson_with_names_and_parent(client):
    r = client.get("/api/v1/boundaries/vn-2025/commune.geojson", {"province": "22", "zoom": 11})
    assert r.status_code == 200 and r["Content-Type"] == "application/geo+json"
    fc = json.loads(r.content)
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 54
    props = {f["properties"]["code"]: f["properties"] for f in fc["features"]}
    assert props["06673"]["name"] == "Phường Bãi Cháy" and props["06673"]["parent_code"] == "22"
    assert props["06673"]["name_en"]
    # simplified by zoom: the province at zoom 7 is much lighter than at zoom 13
    small = client.get("/api/v1/boundaries/vn-2025/commune.geojson", {"province": "22", "zoom": 7}).content
    big = client.get("/api/v1/boundaries/vn-2025/commune.geojson", {"province": "22", "zoom": 13}).content
    assert len(small) * 3 < len(big)
    bbox = client.get("/api/v1/boundaries/vn-2025/commune.geojson", {"bbox": "107.0,20.9,107.1,21.0", "zoom": 12})
    assert "06673" in {f["properties"]["code"] for f in json.loads(bbox.content)["features"]}


def test_geojson_bad_parameters(client):
    r = client.get("/api/v1/boundaries/vn-2025/commune.geojson", {"zoom": "99", "bbox": "1,2,3"})
    assert r.status_code == 400 and set(r.json()["errors"]) == {"zoom", "bbox"}
    assert client.get("/api/v1/boundaries/nope/commune.geojson").status_code == 400
    r = client.get("/api/v1/boundaries/vn-2025/commune.geojson", {"province": "22\x00"})
    assert r.status_code == 400 and set(r.json()["errors"]) == {"province"}
    r = client.get("/api/v1/areas/by-code/06673", {"version": "vn-2025\x00"})  # a NUL byte: refused, named
    assert r.status_code == 400 and set(r.json()["errors"]) == {"version"}


def test_area_detail_with_codes_parent_and_authorities(client):
    data = client.get("/api/v1/areas/by-code/06673", {"version": "vn-2025", "type": "commune"}).json()
    assert data["codes"] == {"commune": "06673", "province": "22"}
    assert data["parent"]["code"] == "22"
    assert [a["code"] for a in data["authorities"]] == ["ubnd-06673"]
    # who acts on each field here, in rule order: the province's bodies and the committee
    routing = {r["category_code"]: r["authority"]["code"] for r in data["routing"]}
    assert routing["dien"] == "dien-luc-22" and routing["an-ninh"] == "cong-an-22"
    assert routing["xay-dung"] == "ubnd-06673" and routing[""] == "ubnd-06673"
    assert all("46" not in r["authority"]["code"] for r in data["routing"])
    again = client.get(f"/api/v1/areas/{data['id']}").json()
    assert again["name"] == "Phường Bãi Cháy"
    assert client.get("/api/v1/areas/by-code/99999").status_code == 404
