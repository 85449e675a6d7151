"""The permission service seen from outside: the desk stays in its province, codes
cannot be guessed, the receipt link works, nearby hides unchecked reports, comments
show citizens as "Người dân", and the staff screens refuse a province not served."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from reports import intake, workflow
from reports.models import Report
from tests.reports.conftest import BAI_CHAY, new_key, point_in, report_data, user

HUE_COMMUNE = "19753"
HUE_AUTHORITY = "ubnd-19753"
URL = "/api/v1/reports"


def client_for(u=None):
    c = APIClient()
    if u is not None:
        c.force_authenticate(u)
    return c


def snapshot(report):
    r = Report.objects.get(pk=report.pk)
    return (r.state, r.authority_id, r.merged_into_id, r.row_version, r.events.count())


@pytest.fixture
def qn_received(db, citizen):
    return intake.create_report(report_data(), {}, citizen, new_key())


@pytest.fixture
def hue_report(db):
    return intake.create_report(report_data(commune=HUE_COMMUNE), {}, None, new_key())


@pytest.mark.parametrize("state_before,action,data,field,hue_state,says", [
    ("received", "forward", {"authority": HUE_AUTHORITY}, "authority", "received", "tỉnh/thành phố"),
    ("forwarded", "transfer", {"authority": HUE_AUTHORITY}, "authority", "received", "tỉnh/thành phố"),
    # a published Huế report: its code is public, the refusal may say where it is
    ("received", "merge", {"into": "HUE"}, "into", "forwarded", "tỉnh/thành phố"),
    # an unpublished one: answered as a code that does not exist (nothing to learn by guessing)
    ("received", "merge", {"into": "HUE"}, "into", "received", "Không tìm thấy phản ánh"),
])
def test_desk_of_quang_ninh_stays_in_its_province(operator, qn_received, hue_report, state_before, action, data, field,
                                                   hue_state, says):
    if state_before == "forwarded":
        workflow.transition(qn_received, "forward", operator)
    if hue_state == "forwarded":
        Report.objects.filter(pk=hue_report.pk).update(state=hue_state)
    data = {k: (hue_report.code if v == "HUE" else v) for k, v in data.items()}
    before = snapshot(qn_received)
    resp = client_for(operator).post(f"{URL}/{qn_received.code}/actions/{action}", data, format="json")
    assert resp.status_code == 400
    message = " ".join(resp.json()["errors"][field])
    assert says in message and ("tỉnh/thành phố" in message) == (says == "tỉnh/thành phố")
    assert snapshot(qn_received) == before  # nothing changed, no event
    assert snapshot(hue_report)[0] == hue_state


def test_desk_may_still_forward_and_merge_within_its_province(operator, qn_received, db):
    other = intake.create_report(report_data(), {}, None, new_key())
    ok = client_for(operator).post(f"{URL}/{qn_received.code}/actions/forward", {"authority": "ubnd-06685"},
                                   format="json")
    assert ok.status_code == 200 and ok.json()["properties"]["authority"] == "ubnd-06685"
    merged = client_for(operator).post(f"{URL}/{other.code}/actions/merge", {"into": qn_received.code}, format="json")
    assert merged.status_code == 200 and merged.json()["properties"]["state"] == "merged"


def test_sequential_codes_of_unpublished_reports_are_not_found(db, operator):
    made = [intake.create_report(report_data(), {}, None, new_key()) for _ in range(6)]
    workflow.transition(made[2], "forward", operator)  # one becomes public
    workflow.transition(made[4], "reject", operator, {"reason_code": "duplicate"})
    anon, page = APIClient(), Client()
    seen = {}
    for r in made:
        api_status = anon.get(f"{URL}/{r.code}").status_code
        page_status = page.get(f"/phan-anh/{r.code}/").status_code
        comments = anon.get(f"{URL}/{r.code}/comments").status_code
        seen[r.code] = (api_status, page_status, comments)
    expected = {r.code: (200, 200, 200) if r is made[2] else (404, 404, 404) for r in made}
    assert seen == expected
    # An unknown code answers exactly the same
    assert anon.get(f"{URL}/PA-2000-999999").status_code == 404


def test_receipt_token_reaches_the_report_until_it_is_public(db):
    resp = APIClient().post(URL, report_data(idempotency_key=new_key()), format="multipart")
    assert resp.status_code == 201
    props = resp.json()["properties"]
    code, token = props["code"], props["receipt_token"]
    assert len(token) >= 20 and f"/phan-anh/{code}/?t=" in props["receipt_url"]
    anon, page = APIClient(), Client()
    assert anon.get(f"{URL}/{code}", {"t": token}).status_code == 200
    assert anon.get(f"{URL}/{code}", HTTP_X_RECEIPT_TOKEN=token).status_code == 200
    assert anon.get(f"{URL}/{code}", {"t": token[:-2] + "xx"}).status_code == 404
    assert page.get(f"/phan-anh/{code}/", {"t": token}).status_code == 200
    assert page.get(f"/phan-anh/{code}/").status_code == 404
    # The page intake's receipt page links to the tokened page.
    form = page.post("/phan-anh/moi/", report_data(idempotency_key=new_key()))
    assert form.status_code == 302 and "?t=" in form["Location"]
    sent = page.get(form["Location"]).content.decode()
    new_code = form["Location"].split("/")[2]
    new_token = Report.objects.get(code=new_code).receipt_token
    assert f"/phan-anh/{new_code}/?t={new_token}" in sent
    assert page.get(f"/phan-anh/{new_code}/da-gui/").status_code == 404  # the code alone is not enough


def test_reporter_signed_in_sees_own_report_and_gets_its_receipt_link_in_my_reports(citizen, qn_received):
    c = Client()
    c.force_login(citizen)
    assert c.get(f"/phan-anh/{qn_received.code}/").status_code == 200
    mine = c.get("/phan-anh/cua-toi/").content.decode()
    assert f"/phan-anh/{qn_received.code}/?t={qn_received.receipt_token}" in mine


@pytest.mark.parametrize("who,sees_received", [
    (None, False), ("+84910000001", False),  # anonymous; the reporter (a citizen) too
    ("+84900000003", False),  # an officer of another unit of the province
    ("+84900102001", False),  # the desk of Huế
    ("+84900000001", True), ("+84900000002", True), ("+84900000004", True),  # desk, unit, leader of 22
])
def test_nearby_shows_unchecked_reports_only_to_their_staff(db, citizen, operator, who, sees_received):
    received = intake.create_report(report_data(), {}, citizen, new_key())
    forwarded = intake.create_report(report_data(), {}, None, new_key())
    workflow.transition(forwarded, "forward", operator)
    lon, lat = point_in(BAI_CHAY)
    body = client_for(user(who) if who else None).get(f"{URL}/nearby", {"lat": lat, "lon": lon}).json()
    codes = {r["code"] for r in body["results"]}
    assert forwarded.code in codes
    assert (received.code in codes) == sees_received


def test_comments_show_citizens_as_nguoi_dan_unless_they_chose_their_name(db, citizen, operator, officer):
    report = intake.create_report(report_data(), {}, None, new_key())
    workflow.transition(report, "forward", operator)
    assert citizen.display_name  # the demo citizen has one: it must not show by default
    c = client_for(citizen)
    assert c.post(f"{URL}/{report.code}/comments", {"text": "Vẫn tối"}, format="json").status_code == 201
    assert c.post(f"{URL}/{report.code}/comments", {"text": "Tôi ký tên", "show_name": True},
                  format="json").status_code == 201
    assert client_for(officer).post(f"{URL}/{report.code}/comments", {"text": "Đã ghi nhận"},
                                    format="json").status_code == 201
    listed = APIClient().get(f"{URL}/{report.code}/comments").json()
    assert [(x["text"], x["author"]) for x in listed][:2] == [("Vẫn tối", "Người dân"),
                                                               ("Tôi ký tên", citizen.display_name)]
    assert listed[2]["official"] and "Bãi Cháy" in listed[2]["author"]
    page = Client().get(f"/phan-anh/{report.code}/").content.decode()
    assert page.count("Người dân") >= 1 and page.count(citizen.display_name) == 1
    # The detail's comments say the same.
    detail = APIClient().get(f"{URL}/{report.code}").json()["properties"]["comments"]
    assert [x["author"] for x in detail][:2] == ["Người dân", citizen.display_name]


@pytest.mark.parametrize("path", ["/api/v1/ioc/state/?province=46", "/api/v1/heatmaps/overdue/?province=46",
                                  "/ioc/events?once=1&province=46", "/ioc/?province=46"])
def test_staff_screens_refuse_a_province_not_served_with_a_message(db, operator, path):
    c = Client()
    c.force_login(operator)
    resp = c.get(path)
    assert resp.status_code == 403
    assert "46" in resp.content.decode() and "không phụ trách" in resp.content.decode()


def test_public_export_of_another_province_holds_its_public_reports_only(db, operator, hue_report):
    User = get_user_model()
    hue_desk = User.objects.get(username="+84900102001")
    forwarded = intake.create_report(report_data(commune=HUE_COMMUNE), {}, None, new_key())
    workflow.transition(forwarded, "forward", hue_desk)
    lon, lat = point_in(HUE_COMMUNE)
    bbox = f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}"
    c = Client()
    c.force_login(operator)  # the desk of Quảng Ninh
    body = c.get("/api/v1/heatmaps/export.csv", {"bbox": bbox}).content.decode()
    assert forwarded.code in body and hue_report.code not in body
    c.force_login(hue_desk)
    body = c.get("/api/v1/heatmaps/export.csv", {"bbox": bbox}).content.decode()
    assert forwarded.code in body and hue_report.code in body


@pytest.mark.parametrize("phone,province,authority,allowed", [
    ("+84900000002", "22", "ubnd-06673", True),   # officer of Bãi Cháy: own unit, own province
    ("+84900000002", "22", "ubnd-06685", False),  # … not Hồng Gai's committee
    ("+84900000002", "46", "", False),
    ("+84900000001", "22", "ubnd-06685", True),   # the desk of 22: any authority of 22
    ("+84900000001", "46", "ubnd-19753", False),
    ("+84900000004", "", "dien-luc-22", True),    # the leader of 22
    ("+84900000004", "", "dien-luc-46", False),
    ("+84900102001", "46", "ubnd-19753", True),   # the desk of Huế
])
def test_require_province_and_authority(db, phone, province, authority, allowed):
    from django.core.exceptions import PermissionDenied

    from reports.policy import access

    u = user(phone)

    def check():
        access.require_province(u, province)
        access.require_authority(u, authority)

    if allowed:
        check()
    else:
        with pytest.raises(PermissionDenied, match="không phụ trách"):
            check()


def test_hexagons_count_only_what_the_user_may_see(db, operator, citizen):
    received = intake.create_report(report_data(), {}, citizen, new_key())
    forwarded = intake.create_report(report_data(), {}, None, new_key())
    workflow.transition(forwarded, "forward", operator)
    lon, lat = point_in(BAI_CHAY)
    params = {"bbox": f"{lon - 0.002},{lat - 0.002},{lon + 0.002},{lat + 0.002}", "zoom": 16}

    def total(u):
        c = Client()
        if u is not None:
            c.force_login(u)
        return sum(f["properties"]["n"] for f in c.get("/api/v1/heatmaps/hex/", params).json()["features"])

    assert Report.objects.filter(pk__in=[received.pk, forwarded.pk]).count() == 2
    assert total(None) == 1 and total(user("+84900000003")) == 1  # anonymous; an officer of another unit
    assert total(operator) == 2 and total(citizen) == 2  # the desk of 22; the reporter (own report)
