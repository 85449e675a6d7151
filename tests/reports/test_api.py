"""The REST API: create (multipart, idempotency, errors, limits), GeoJSON lists with
filters, the public detail without the reporter's identity, actions with 409/403/400,
comments, rating, nearby, follow, categories, the OpenAPI docs offline."""

import json
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from reports import workflow
from reports.models import Report, Subscription
from tests.reports.conftest import BAI_CHAY, HONG_GAI, new_key, photo, point_in, report_data

pytestmark = pytest.mark.django_db
URL = "/api/v1/reports"
SECRET_NAME = "Trần Thị Bí Mật"
SECRET_PHONE = "0987654321"
SECRET_EMAIL = "bimat@example.org"


@pytest.fixture
def api():
    return APIClient(REMOTE_ADDR=f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}")


def client_for(user):
    c = APIClient()
    c.force_authenticate(user)
    return c


def post_report(api, key=None, files=None, **data):
    payload = report_data(**data)
    payload.setdefault("contact_name", SECRET_NAME)
    payload.update(contact_name=SECRET_NAME, contact_phone=SECRET_PHONE, contact_email=SECRET_EMAIL)
    if files:
        payload.update(files)
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return api.post(URL, payload, format="multipart", **headers)


def test_create_returns_geojson_feature_with_commune_authority_deadlines(api):
    resp = post_report(api, key=new_key(), files={"photos": [photo(), photo("b.jpg")]})
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["type"] == "Feature" and body["geometry"]["type"] == "Point"
    props = body["properties"]
    assert props["code"].startswith("PA-") and body["id"] == props["code"]
    assert props["commune"] == BAI_CHAY and props["authority"] == "ubnd-06673"
    assert props["forward_due"] and props["state"] == "received" and props["state_label"]
    assert len(props["media"]) == 2 and props["media"][0]["thumbnail_url"]
    assert props["routing_explanation"]
    # Not public yet: the receipt token reaches it (anonymous reporter).
    assert api.get(f"{URL}/{props['code']}").status_code == 404
    detail = api.get(f"{URL}/{props['code']}", {"t": props["receipt_token"]}).json()["properties"]
    assert detail["timeline"][0]["action"] == "receive" and len(detail["media"]) == 2


def test_retry_with_same_key_returns_200_and_same_report(api):
    key = new_key()
    first = post_report(api, key=key)
    second = post_report(api, key=key)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["properties"]["code"] == second.json()["properties"]["code"]
    assert Report.objects.filter(idempotency_key=key).count() == 1
    # The key may also come as a form field.
    third = api.post(URL, {**report_data(), "contact_name": SECRET_NAME, "contact_phone": SECRET_PHONE,
                           "contact_email": SECRET_EMAIL, "idempotency_key": key}, format="multipart")
    assert third.status_code == 200
    assert third.json()["properties"]["code"] == first.json()["properties"]["code"]


@pytest.mark.parametrize(
    "change, field",
    [({"category": ""}, "category"), ({"lat": "200"}, "lat"), ({"description": "y" * 10_000}, "description")],
)
def test_bad_input_is_400_with_field_errors_and_stores_nothing(api, change, field):
    before = Report.objects.count()
    resp = api.post(URL, report_data(**change), format="multipart")
    assert resp.status_code == 400
    body = resp.json()
    assert body["detail"] and body["errors"][field][0]
    assert Report.objects.count() == before


def test_executable_renamed_jpg_is_400(api):
    exe = SimpleUploadedFile("anh.jpg", b"MZ\x90\x00" + b"\x00" * 300 + b"This program cannot be run in DOS mode")
    before = Report.objects.count()
    resp = api.post(URL, {**report_data(), "photos": [exe]}, format="multipart")
    assert resp.status_code == 400 and "không phải ảnh" in resp.json()["errors"]["photos"][0]
    assert Report.objects.count() == before


def test_oversized_body_is_413_not_500(api, settings):
    resp = api.post(URL, report_data(), format="multipart", CONTENT_LENGTH=str(settings.REPORT_MAX_REQUEST_BYTES + 1))
    assert resp.status_code == 413 and "MB" in resp.json()["detail"]


def test_oversized_video_is_400(api):
    big = SimpleUploadedFile("v.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * (51 * 1024 * 1024))
    resp = api.post(URL, {**report_data(), "video": big}, format="multipart")
    assert resp.status_code == 400 and "50 MB" in resp.json()["errors"]["video"][0]


def test_submission_rate_limit_is_429(api, settings):
    settings.RATELIMIT_ENABLE = True
    settings.REPORT_SUBMIT_RATE = "2/m"
    codes = [api.post(URL, report_data(), format="multipart").status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    assert "quá nhiều" in api.post(URL, report_data(), format="multipart").json()["detail"]


def test_html_description_comes_back_as_plain_text(api):
    text = "<img src=x onerror=alert(1)>Cống tắc"
    resp = post_report(api, description=text)
    assert resp.json()["properties"]["description"] == text
    assert resp["Content-Type"].startswith("application/json")


def test_public_outputs_never_carry_reporter_identity(api, operator, citizen):
    code = post_report(api).json()["properties"]["code"]
    report = Report.objects.get(code=code)
    workflow.transition(report, "forward", operator)
    anonymous = APIClient()
    outputs = [
        anonymous.get(f"{URL}/{code}").content,
        anonymous.get(URL).content,
        anonymous.get(f"{URL}/{code}/comments").content,
        client_for(citizen).get(f"{URL}/{code}").content,
        anonymous.get(f"{URL}/nearby", {"lat": report.location.y, "lon": report.location.x}).content,
    ]
    for raw in outputs:
        text = raw.decode()
        for secret in (SECRET_NAME, SECRET_PHONE, "+84987654321", SECRET_EMAIL):
            assert secret not in text
    assert code in outputs[1].decode()
    # The unit's own staff do see the contact, on the private view.
    private = client_for(operator).get(f"{URL}/{code}/private").json()
    assert private["properties"]["reporter"]["phone"] == "+84987654321"


def test_officer_of_another_commune_gets_403(api, operator, other_officer, officer):
    code = post_report(api).json()["properties"]["code"]
    workflow.transition(Report.objects.get(code=code), "forward", operator)
    other = client_for(other_officer)
    assert other.get(f"{URL}/{code}/private").status_code == 403
    resp = other.post(f"{URL}/{code}/actions/accept", {"row_version": 1}, format="json")
    assert resp.status_code == 403 and resp.json()["detail"]
    assert client_for(officer).get(f"{URL}/{code}/private").status_code == 200


def test_actions_409_on_stale_version_and_400_on_invalid(api, operator, officer):
    code = post_report(api).json()["properties"]["code"]
    desk = client_for(operator)
    resp = desk.post(f"{URL}/{code}/actions/forward", {"row_version": 0}, format="json")
    assert resp.status_code == 200 and resp.json()["properties"]["state"] == "forwarded"
    assert resp.json()["properties"]["row_version"] == 1
    unit = client_for(officer)
    ok = unit.post(f"{URL}/{code}/actions/accept", {"row_version": 1}, format="json")
    stale = unit.post(f"{URL}/{code}/actions/start", {"row_version": 1}, format="json")
    assert ok.status_code == 200 and stale.status_code == 409
    assert stale.json()["row_version"] == 2 and "tải lại" in stale.json()["detail"]
    bad = unit.post(f"{URL}/{code}/actions/publish", {"row_version": 2}, format="json")
    assert bad.status_code == 400
    # resolve with a photo through multipart
    unit.post(f"{URL}/{code}/actions/start", {"row_version": 2}, format="json")
    missing = unit.post(f"{URL}/{code}/actions/resolve", {"row_version": 3, "result_text": "Xong"}, format="multipart")
    assert missing.status_code == 400 and "photos" in missing.json()["errors"]
    done = unit.post(f"{URL}/{code}/actions/resolve", {"row_version": 3, "result_text": "Xong", "photos": [photo()]},
                     format="multipart")
    assert done.status_code == 200 and done.json()["properties"]["state"] == "resolved"


def test_rating_by_reporter_only_and_result_public_after_publish(operator, officer, citizen):
    mine = client_for(citizen)
    code = mine.post(URL, report_data(), format="multipart").json()["properties"]["code"]
    report = Report.objects.get(code=code)
    for action, actor, data in [
        ("forward", operator, {}), ("accept", officer, {}), ("start", officer, {}),
        ("resolve", officer, {"result_text": "Đã sửa xong", "photos": [photo()]}),
    ]:
        report = workflow.transition(report, action, actor, data)
    assert APIClient().get(f"{URL}/{code}").json()["properties"]["result_text"] is None
    workflow.transition(report, "publish", operator)
    public = APIClient().get(f"{URL}/{code}").json()["properties"]
    assert public["result_text"] == "Đã sửa xong" and any(m["stage"] == "result" for m in public["media"])
    assert client_for(officer).post(f"{URL}/{code}/rating", {"level": 5}, format="json").status_code == 403
    assert mine.post(f"{URL}/{code}/rating", {"level": 9}, format="json").status_code == 400
    resp = mine.post(f"{URL}/{code}/rating", {"level": 4, "reason": "Tốt"}, format="json")
    assert resp.status_code == 200 and resp.json()["properties"]["state"] == "rated"


def test_list_is_a_paginated_feature_collection_with_filters(api, operator):
    codes = {}
    for commune, category in ((BAI_CHAY, "do-thi-chieu-sang"), (HONG_GAI, "moi-truong-rac-thai"),
                              (BAI_CHAY, "dien-mat-dien")):
        code = post_report(api, commune=commune, category=category).json()["properties"]["code"]
        workflow.transition(Report.objects.get(code=code), "forward", operator)
        codes[(commune, category)] = code
    hidden = post_report(api).json()["properties"]["code"]  # still "received": not on the public map

    def codes_of(**params):
        body = api.get(URL, {"page_size": 500, **params}).json()
        assert body["type"] == "FeatureCollection" and "count" in body
        return {f["properties"]["code"] for f in body["features"]}

    all_codes = codes_of()
    assert set(codes.values()) <= all_codes and hidden not in all_codes
    assert codes_of(commune=HONG_GAI) & set(codes.values()) == {codes[(HONG_GAI, "moi-truong-rac-thai")]}
    assert codes[(BAI_CHAY, "dien-mat-dien")] in codes_of(category="dien")
    assert codes[(BAI_CHAY, "do-thi-chieu-sang")] not in codes_of(category="dien")
    assert set(codes.values()) <= codes_of(province="22", state="forwarded")
    assert not (set(codes.values()) & codes_of(state="published"))
    lon, lat = point_in(HONG_GAI)
    box = codes_of(bbox=f"{lon - 0.0005},{lat - 0.0005},{lon + 0.0005},{lat + 0.0005}")
    assert box & set(codes.values()) == {codes[(HONG_GAI, "moi-truong-rac-thai")]}
    assert set(codes.values()) <= (codes_of(authority="ubnd-06673") | codes_of(authority="dien-luc-22")
                                   | codes_of(authority="ubnd-06685"))
    today = Report.objects.get(code=hidden).created_at.astimezone(__import__("reports.sla").sla.LOCAL_TZ).date()
    assert set(codes.values()) <= codes_of(date_from=today.isoformat(), date_to=today.isoformat())
    assert not (codes_of(date_to="2020-01-01") & set(codes.values()))
    assert api.get(URL, {"bbox": "1,2,3"}).status_code == 400
    assert api.get(URL, {"state": "sleeping"}).status_code == 400
    page = api.get(URL, {"page_size": 1}).json()
    assert len(page["features"]) == 1 and page["next"]
    # The desk's queue includes the received one.
    queue = client_for(operator).get(URL, {"scope": "queue", "page_size": 500}).json()
    assert hidden in {f["properties"]["code"] for f in queue["features"]}


def test_nearby_same_category_and_follow(api, citizen, operator):
    code = post_report(api).json()["properties"]["code"]
    workflow.transition(Report.objects.get(code=code), "forward", operator)  # unchecked ones are not nearby
    lon, lat = point_in(BAI_CHAY)
    near = api.get(f"{URL}/nearby", {"lat": lat + 0.0009, "lon": lon, "category": "do-thi-chieu-sang"}).json()
    hit = next(r for r in near["results"] if r["code"] == code)
    assert 90 < hit["distance_m"] < 110  # 0.0009° of latitude ≈ 100 m
    far = api.get(f"{URL}/nearby", {"lat": lat + 0.003, "lon": lon, "category": "do-thi-chieu-sang"}).json()
    assert code not in {r["code"] for r in far["results"]}
    other = api.get(f"{URL}/nearby", {"lat": lat, "lon": lon, "category": "dien-mat-dien"}).json()
    assert code not in {r["code"] for r in other["results"]}
    assert api.get(f"{URL}/nearby", {"lat": 200, "lon": lon}).status_code == 400
    assert api.post(f"{URL}/{code}/follow").status_code == 403
    resp = client_for(citizen).post(f"{URL}/{code}/follow")
    assert resp.status_code == 201 and Subscription.objects.filter(report__code=code, user=citizen).exists()


def test_comments_official_reply_as_authority(api, operator, officer, citizen):
    code = post_report(api).json()["properties"]["code"]
    workflow.transition(Report.objects.get(code=code), "forward", operator)
    assert client_for(citizen).post(f"{URL}/{code}/comments", {"text": "Ở đây rất tối"},
                                    format="json").status_code == 201
    resp = client_for(officer).post(f"{URL}/{code}/comments", {"text": "Đã ghi nhận"}, format="json")
    assert resp.status_code == 201 and resp.json()["official"] and "Bãi Cháy" in resp.json()["author"]
    assert APIClient().post(f"{URL}/{code}/comments", {"text": "ẩn danh"}, format="json").status_code == 403
    listed = APIClient().get(f"{URL}/{code}/comments").json()
    assert [c["text"] for c in listed] == ["Ở đây rất tối", "Đã ghi nhận"]


def test_preview_and_categories(api):
    lon, lat = point_in(HONG_GAI)
    body = api.get(f"{URL}/preview", {"lat": lat, "lon": lon, "category": "do-thi-chieu-sang"}).json()
    assert body["commune"]["code"] == HONG_GAI and body["authority"]["code"] == "ubnd-06685"
    assert api.get(f"{URL}/preview", {"lat": 48.85, "lon": 2.35}).status_code == 400
    cats = api.get("/api/v1/categories").json()
    assert {"code", "name", "group", "icon", "color", "resolve_days"} <= set(cats[0])
    assert any(c["code"] == "dien-mat-dien" and c["group"] == "dien" for c in cats)


def test_unknown_report_is_404_and_unchecked_one_visible_with_its_receipt(api):
    assert api.get(f"{URL}/PA-1999-000000").status_code == 404
    props = post_report(api).json()["properties"]
    assert api.get(f"{URL}/{props['code']}").status_code == 404  # a guessed code finds nothing
    assert api.get(f"{URL}/{props['code']}", {"t": props["receipt_token"]}).status_code == 200  # the receipt works


def test_openapi_schema_and_offline_docs(api):
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    assert "/api/v1/reports" in paths and "/api/v1/reports/{code}/actions/{action}" in paths
    docs = api.get("/api/v1/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html and "cdn.jsdelivr" not in html


def test_healthz_reports_the_database():
    resp = APIClient().get("/healthz")
    assert resp.status_code == 200 and resp.json()["db"] == "ok"
    live = APIClient().get("/livez")
    assert live.status_code == 200 and live.content == b"ok"


def test_token_authentication_for_the_desk(api, operator):
    from rest_framework.authtoken.models import Token

    code = post_report(api).json()["properties"]["code"]
    token = Token.objects.create(user=operator)
    desk = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}")
    resp = desk.post(f"{URL}/{code}/actions/forward", {"row_version": 0}, format="json")
    assert resp.status_code == 200 and resp.json()["properties"]["state"] == "forwarded"
    assert APIClient(HTTP_AUTHORIZATION="Token wrong").post(f"{URL}/{code}/actions/accept").status_code in (401, 403)


def test_receipt_has_the_same_fields_as_the_documented_serializer(api):
    from reports.serializers import ReportReceiptSerializer, receipt_feature

    code = post_report(api, files={"photos": [photo()]}).json()["properties"]["code"]
    report = Report.objects.get(code=code)
    by_hand = receipt_feature(report)
    documented = ReportReceiptSerializer(report).data
    assert set(by_hand["properties"]) == set(documented["properties"])
    assert by_hand["geometry"]["coordinates"] == list(documented["geometry"]["coordinates"])
    for key in ("commune", "authority", "forward_due", "state_label", "routing_explanation"):
        assert by_hand["properties"][key] == documented["properties"][key]


def test_oversized_body_on_a_page_is_413_before_reading(client, settings):
    resp = client.post("/phan-anh/moi/", {"description": "x"},
                       CONTENT_LENGTH=str(settings.REPORT_MAX_REQUEST_BYTES + 1))
    assert resp.status_code == 413 and "quá lớn" in resp.content.decode()


def test_photo_hint_offers_exif_place_and_public_copy_has_none(api, operator):
    from tests.reports.conftest import jpeg_bytes

    gps = SimpleUploadedFile("g.jpg", jpeg_bytes(gps=(20.9512, 107.0436)))
    hint = api.post(f"{URL}/photo-hint", {"photo": gps}, format="multipart").json()
    assert abs(hint["lat"] - 20.9512) < 1e-3 and abs(hint["lon"] - 107.0436) < 1e-3
    assert api.post(f"{URL}/photo-hint", {"photo": photo()}, format="multipart").json() == {"lat": None, "lon": None}
    exe = SimpleUploadedFile("x.jpg", b"MZ" + b"\x00" * 100)
    assert api.post(f"{URL}/photo-hint", {"photo": exe}, format="multipart").status_code == 400
    # A photo taken elsewhere (Ho Chi Minh City): the place stays private.
    far = SimpleUploadedFile("g.jpg", jpeg_bytes(gps=(10.7769, 106.7009)))
    code = post_report(api, files={"photos": [far]}).json()["properties"]["code"]
    public = APIClient().get(f"{URL}/{code}").content.decode()
    assert "10.776" not in public and "106.700" not in public and "exif" not in public
    private = client_for(operator).get(f"{URL}/{code}/private").json()["properties"]
    assert abs(private["exif_hints"][0]["lat"] - 10.7769) < 1e-3
