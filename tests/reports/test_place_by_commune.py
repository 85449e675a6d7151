"""A report without a pin: the citizen who cannot use the map chooses the commune and
describes the place in words. The report sits at a point inside that commune (checked
here with PostGIS against the commune's own polygon), is marked "placed by commune", is
routed like a pin in that commune, and the pages say so to the public and to officers.
Expected communes and authorities are the real 2025 units, written by hand."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from reports import intake, workflow
from reports.models import Report
from tests.reports.conftest import BAI_CHAY, HONG_GAI, new_key, point_in

pytestmark = pytest.mark.django_db

PLACE_WORDS = "trước số nhà 12 phố Lê Thánh Tông"


def by_commune(commune, category="do-thi-chieu-sang", **extra):
    data = {"category": category, "commune": commune, "address": PLACE_WORDS,
            "description": "Đèn đường hỏng hai tuần nay, buổi tối rất tối."}
    data.update(extra)
    return data


def inside_commune(point, code, version="vn-2025"):
    """PostGIS, independently: is the point inside (not on the edge of) the commune?"""
    with connection.cursor() as cur:
        cur.execute(
            """SELECT ST_Contains(a.geom, ST_GeomFromEWKT(%s)) FROM boundaries_area a
               JOIN boundaries_areatype t ON t.id = a.type_id
               JOIN boundaries_boundaryversion v ON v.id = a.version_id
               WHERE v.code = %s AND t.code = 'commune' AND a.code = %s""",
            [point.ewkt, version, code])
        return cur.fetchone()[0]


@pytest.mark.parametrize("commune,category,commune_name,authority,province", [
    (BAI_CHAY, "do-thi-chieu-sang", "Phường Bãi Cháy", "ubnd-06673", "22"),
    (HONG_GAI, "do-thi-chieu-sang", "Phường Hồng Gai", "ubnd-06685", "22"),
    (BAI_CHAY, "dien-mat-dien", "Phường Bãi Cháy", "dien-luc-22", "22"),  # a province-wide rule
    ("19753", "do-thi-chieu-sang", "Phường Phú Xuân", "ubnd-19753", "46"),  # Huế
])
def test_a_chosen_commune_places_and_routes_the_report(citizen, commune, category, commune_name, authority, province):
    report = intake.create_report(by_commune(commune, category), None, citizen, new_key())
    fresh = Report.objects.select_related("commune", "authority").get(pk=report.pk)
    assert fresh.commune.code == commune and fresh.commune.name == commune_name
    assert fresh.authority.code == authority and fresh.province_code == province
    assert fresh.location_precision == "commune"
    assert fresh.address == PLACE_WORDS
    assert inside_commune(fresh.location, commune)
    assert fresh.boundary_version.code == "vn-2025"
    assert fresh.events.get().data["commune"] == commune


def test_a_pin_is_a_point_and_wins_over_a_chosen_commune(citizen):
    lon, lat = point_in(HONG_GAI)
    report = intake.create_report(by_commune(BAI_CHAY, lat=str(lat), lon=str(lon)), None, citizen, new_key())
    assert report.commune.code == HONG_GAI and report.location_precision == "point"
    assert (round(report.location.x, 6), round(report.location.y, 6)) == (round(lon, 6), round(lat, 6))


@pytest.mark.parametrize("data,fields", [
    ({"commune": ""}, {"lat", "lon"}),  # neither a pin nor a commune
    ({"commune": "99999"}, {"commune"}),  # no such code
    ({"commune": "06649"}, {"commune"}),  # Phường Hà Khánh: a commune of the pre-2025 version only
    ({"commune": "193"}, {"commune"}),  # Thành phố Hạ Long: a pre-2025 district
    ({"commune": "22"}, {"commune"}),  # Quảng Ninh: a province, not a commune
    ({"commune": "0" * 41}, {"commune"}),
    ({"commune": "06673", "lat": "20.95"}, {"lon"}),  # half a pin is a pin with an error
])
def test_without_a_usable_place_nothing_is_stored(citizen, data, fields):
    before = Report.objects.count()
    with pytest.raises(ValidationError) as exc:
        intake.create_report({**by_commune(""), **data}, None, citizen, new_key())
    assert set(exc.value.message_dict) == fields
    assert all(m.strip() for f in fields for m in exc.value.message_dict[f])
    assert Report.objects.count() == before


def test_the_commune_is_part_of_the_idempotent_body(citizen):
    key = new_key()
    first = intake.create_report(by_commune(BAI_CHAY), None, citizen, key)
    again = intake.create_report(by_commune(BAI_CHAY), None, citizen, key)
    assert again.pk == first.pk and again.replayed
    with pytest.raises(intake.IdempotencyConflict):
        intake.create_report(by_commune(HONG_GAI), None, citizen, key)


def test_preview_by_commune_names_the_commune_and_the_authority(client):
    resp = client.get("/api/v1/reports/preview", {"commune": BAI_CHAY, "category": "do-thi-chieu-sang"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["commune"] == {"code": BAI_CHAY, "name": "Phường Bãi Cháy"}
    assert body["authority"]["code"] == "ubnd-06673"
    bad = client.get("/api/v1/reports/preview", {"commune": "06649"})
    assert bad.status_code == 400 and list(bad.json()["errors"]) == ["commune"]


def test_api_accepts_a_commune_without_a_pin_and_refuses_an_unknown_one(client):
    resp = client.post("/api/v1/reports", by_commune(BAI_CHAY), HTTP_IDEMPOTENCY_KEY=new_key())
    assert resp.status_code == 201, resp.content
    feature = resp.json()
    props = feature["properties"]
    assert (props["commune"], props["location_precision"], props["address"]) == (BAI_CHAY, "commune", PLACE_WORDS)
    assert props["authority"] == "ubnd-06673"
    stored = Report.objects.get(code=props["code"])
    assert feature["geometry"]["coordinates"] == [stored.location.x, stored.location.y]
    assert inside_commune(stored.location, BAI_CHAY)

    for commune in ("06649", "no-such-place"):
        bad = client.post("/api/v1/reports", by_commune(commune), HTTP_IDEMPOTENCY_KEY=new_key())
        assert bad.status_code == 400 and list(bad.json()["errors"]) == ["commune"], bad.content
    neither = client.post("/api/v1/reports", by_commune(""), HTTP_IDEMPOTENCY_KEY=new_key())
    assert neither.status_code == 400 and set(neither.json()["errors"]) == {"lat", "lon"}


def test_the_schema_documents_the_commune_and_the_precision(client):
    schema = client.get("/api/v1/schema/", {"format": "json"}).json()
    create = schema["components"]["schemas"]["ReportCreate"]
    assert "commune" in create["properties"] and "address" in create["properties"]
    assert "lat" not in create.get("required", []) and "lon" not in create.get("required", [])
    feature = json.dumps(schema["components"]["schemas"]["ReportFeature"])
    assert "location_precision" in feature and '"commune"' in feature


def test_the_form_without_script_takes_a_commune_and_the_pages_say_so(client, officer, operator):
    # The intake page lists the communes by province, named so a select's type-ahead finds them.
    page = client.get("/phan-anh/moi/").content.decode()
    assert '<optgroup label="Tỉnh Quảng Ninh">' in page
    assert f'<option value="{BAI_CHAY}">Bãi Cháy (phường)</option>' in page
    assert 'for="commune-choice"' in page and 'for="address"' in page

    resp = client.post("/phan-anh/moi/", {**by_commune(BAI_CHAY), "idempotency_key": new_key()})
    assert resp.status_code == 302
    report = Report.objects.get(address=PLACE_WORDS)
    receipt = client.get(resp["Location"]).content.decode()
    assert "vị trí theo xã/phường" in receipt and PLACE_WORDS in receipt

    public = client.get(f"/phan-anh/{report.code}/?t={report.receipt_token}").content.decode()
    assert 'id="placed-by-commune"' in public and PLACE_WORDS in public

    workflow.transition(report, "forward", operator)
    client.force_login(officer)
    queue = client.get("/xu-ly/").content.decode()
    assert report.code in queue and "vị trí theo xã/phường" in queue
    staff = client.get(f"/xu-ly/{report.code}/").content.decode()
    assert 'id="placed-by-commune"' in staff and PLACE_WORDS in staff

    # The desk finds the spot and puts the pin there: from then on it is a point.
    lon, lat = point_in(BAI_CHAY)
    report = workflow.transition(Report.objects.get(pk=report.pk), "move_pin", operator,
                                 {"lat": str(lat + 0.0005), "lon": str(lon)})
    assert Report.objects.get(pk=report.pk).location_precision == "point"


def test_a_category_change_keeps_a_commune_placed_report_in_its_commune(citizen, operator):
    report = intake.create_report(by_commune(HONG_GAI), None, citizen, new_key())
    report = workflow.transition(report, "change_category", operator, {"category": "dien-mat-dien"})
    fresh = Report.objects.get(pk=report.pk)
    assert fresh.location_precision == "commune" and fresh.commune.code == HONG_GAI
    assert fresh.authority.code == "dien-luc-22"


def test_the_page_shows_a_refused_commune_next_to_the_list(client):
    resp = client.post("/phan-anh/moi/", {**by_commune("06649"), "idempotency_key": new_key()})
    assert resp.status_code == 400
    body = resp.content.decode()
    assert 'id="err-commune" data-error-for="commune">Không có xã/phường mã “06649”' in body
    assert 'aria-describedby="commune-hint err-location err-lat err-commune" aria-invalid="true"' in body
    assert f'value="{PLACE_WORDS}"' in body  # what the citizen typed is kept
