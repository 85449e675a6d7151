"""The report pages without a browser: who may see and act on the desk and the queue,
the intake page's submission, the public page's discretion, the demo generator."""

import pytest
from django.db.models import F

from reports import intake, workflow
from reports.models import Report, ReportEvent
from tests.reports.conftest import BAI_CHAY, new_key, report_data


@pytest.fixture
def forwarded(db, operator):
    report = intake.create_report(report_data(), {}, None, new_key())
    return workflow.transition(report, "forward", operator)


def test_officer_of_another_commune_gets_403_on_queue_page_and_actions(client, forwarded, officer, other_officer):
    client.force_login(other_officer)
    resp = client.get(f"/xu-ly/{forwarded.code}/")
    assert resp.status_code == 403
    assert "đơn vị khác" in resp.content.decode()
    resp = client.post(f"/xu-ly/{forwarded.code}/", {"action": "accept", "row_version": forwarded.row_version})
    assert resp.status_code == 403
    forwarded.refresh_from_db()
    assert forwarded.state == "forwarded"
    # Not in their queue either.
    assert forwarded.code not in client.get("/xu-ly/").content.decode()

    client.force_login(officer)
    resp = client.get(f"/xu-ly/{forwarded.code}/")
    assert resp.status_code == 200
    assert 'data-action="accept"' in resp.content.decode()
    assert forwarded.code in client.get("/xu-ly/").content.decode()
    resp = client.post(f"/xu-ly/{forwarded.code}/", {"action": "accept", "row_version": forwarded.row_version})
    assert resp.status_code == 302
    forwarded.refresh_from_db()
    assert forwarded.state == "accepted"


def test_leader_sees_the_desk_but_cannot_act(client, db, leader):
    report = intake.create_report(report_data(), {}, None, new_key())
    client.force_login(leader)
    resp = client.get("/dieu-hanh/")
    assert resp.status_code == 200
    assert report.code in resp.content.decode()
    resp = client.get(f"/dieu-hanh/{report.code}/")
    assert resp.status_code == 200
    body = resp.content.decode()
    assert 'id="no-actions"' in body
    assert 'data-action="forward"' not in body
    resp = client.post(f"/dieu-hanh/{report.code}/", {"action": "forward", "row_version": report.row_version})
    assert resp.status_code == 403
    report.refresh_from_db()
    assert report.state == "received"


def test_citizen_cannot_open_the_desk(client, citizen):
    client.force_login(citizen)
    assert client.get("/dieu-hanh/").status_code == 403
    assert client.get("/xu-ly/").status_code == 403


def test_desk_forwards_and_a_stale_page_gets_a_conflict_message(client, db, operator):
    report = intake.create_report(report_data(), {}, None, new_key())
    seen = report.row_version
    client.force_login(operator)
    resp = client.post(f"/dieu-hanh/{report.code}/", {"action": "forward", "row_version": seen,
                                                      "authority": "ubnd-06673"})
    assert resp.status_code == 302
    report.refresh_from_db()
    assert report.state == "forwarded" and report.authority.code == "ubnd-06673"
    # A second operator's page still shows the old version: clear conflict, nothing changes.
    resp = client.post(f"/dieu-hanh/{report.code}/", {"action": "reject", "row_version": seen,
                                                      "reason_code": "duplicate"})
    assert resp.status_code == 409
    assert "vừa được người khác cập nhật" in resp.content.decode()
    report.refresh_from_db()
    assert report.state == "forwarded"


def test_reject_without_reason_shows_field_error(client, db, operator):
    report = intake.create_report(report_data(), {}, None, new_key())
    client.force_login(operator)
    resp = client.post(f"/dieu-hanh/{report.code}/", {"action": "reject", "row_version": report.row_version})
    assert resp.status_code == 400
    assert "Hãy chọn lý do từ chối" in resp.content.decode()
    report.refresh_from_db()
    assert report.state == "received"


def test_intake_page_same_key_makes_one_report_and_errors_are_per_field(client, db):
    data = report_data(description="Ổ gà <b id='x'>to</b>", category="giao-thong-mat-duong", idempotency_key=new_key())
    first = client.post("/phan-anh/moi/", data, HTTP_ACCEPT="application/json")
    assert first.status_code == 201, first.content
    again = client.post("/phan-anh/moi/", data, HTTP_ACCEPT="application/json")
    assert again.json()["code"] == first.json()["code"]
    assert Report.objects.filter(code=first.json()["code"]).count() == 1
    assert Report.objects.filter(idempotency_key=data["idempotency_key"]).count() == 1

    before = Report.objects.count()
    bad = client.post("/phan-anh/moi/", {**data, "category": "", "lat": "200", "idempotency_key": new_key()},
                      HTTP_ACCEPT="application/json")
    assert bad.status_code == 400
    errors = bad.json()["errors"]
    assert "category" in errors and "lat" in errors
    assert Report.objects.count() == before

    sent = client.get(first.json()["done"])
    assert first.json()["code"] in sent.content.decode()


def test_public_page_never_shows_reporter_and_escapes_html(client, db, citizen):
    data = report_data(description='Nước tràn <script>alert("x")</script><img src=x onerror=alert(1)>',
                       contact_name="Trần Thị Bí Mật", contact_phone="0987654321", contact_email="bimat@example.com")
    report = intake.create_report(data, {}, citizen, new_key())
    body = client.get(f"/phan-anh/{report.code}/?t={report.receipt_token}").content.decode()
    assert "Bãi Cháy" in body
    for secret in ("Trần Thị Bí Mật", "0987654321", "+84987654321", "bimat@example.com", citizen.username,
                   str(citizen)):
        assert secret not in body
    assert '<script>alert("x")</script>' not in body
    assert "&lt;script&gt;" in body
    assert "<img src=x" not in body


def test_public_list_and_points_show_only_reports_the_desk_let_through(client, forwarded, db):
    unchecked = intake.create_report(report_data(), {}, None, new_key())
    listing = client.get("/phan-anh/", {"commune": BAI_CHAY}).content.decode()
    assert forwarded.code in listing and unchecked.code not in listing
    points = client.get("/phan-anh/ban-do.json", {"commune": BAI_CHAY}).json()["points"]
    codes = {p[0] for p in points}
    assert forwarded.code in codes and unchecked.code not in codes


def test_my_reports_lists_the_citizens_own(client, db, citizen):
    mine = intake.create_report(report_data(), {}, citizen, new_key())
    other = intake.create_report(report_data(), {}, None, new_key())
    client.force_login(citizen)
    body = client.get("/phan-anh/cua-toi/").content.decode()
    assert mine.code in body and other.code not in body


def test_demo_generator_puts_70_percent_of_quang_ninh_in_ha_long_with_some_overdue(db):
    from fixtures.reports import HA_LONG_WARDS, generate_demo_reports
    from reports import policy, sla

    made = generate_demo_reports(count=1000)
    assert made == 1000
    demo = Report.objects.filter(source="demo")
    qn = demo.filter(province_code="22")
    share = qn.filter(commune__code__in=HA_LONG_WARDS).count() / qn.count()
    assert 0.65 <= share <= 0.75, share
    late = demo.filter(resolved_at__gt=F("resolve_due")).count() + demo.filter(policy.overdue_q()).count()
    assert 0.05 * made <= late <= 0.25 * made
    assert demo.filter(authority__isnull=True).count() == 0
    # Codes and ids follow the time received (the wall and the lists read in order).
    ordered = list(demo.order_by("created_at", "id").values_list("code", "id"))
    assert [c for c, _ in ordered] == sorted((c for c, _ in ordered), key=lambda c: int(c.rsplit("-", 1)[1]))
    assert [i for _, i in ordered] == sorted(i for _, i in ordered)
    # Nothing is received in the future (the wall's feed showed 19:59 at 16:15).
    from django.utils import timezone

    assert not demo.filter(created_at__gt=timezone.now()).exists()
    assert not ReportEvent.objects.filter(report__source="demo", created_at__gt=timezone.now()).exists()
    # Every report has its events, in order, ending in its state.
    sample = demo.filter(state="rated").first()
    events = list(sample.events.values_list("action", flat=True))
    assert events[:2] == ["receive", "forward"] and events[-1] == "rate"
    assert sample.rating is not None
    # The desk and the units act in office hours, not at 3 a.m.
    staff_steps = [e.astimezone(sla.LOCAL_TZ) for e in ReportEvent.objects.filter(
        report__source="demo", action__in=["accept", "start", "publish"]).values_list("created_at", flat=True)]
    in_hours = sum(1 for t in staff_steps if 7 <= t.hour < 17 and t.weekday() < 6)
    assert in_hours >= 0.97 * len(staff_steps)
    # Idempotent.
    assert generate_demo_reports(count=1000) == 0


def test_comments_citizens_sign_in_and_officials_reply_as_their_authority(client, forwarded, officer, citizen):
    url = f"/phan-anh/{forwarded.code}/"
    assert client.post(url, {"action": "comment", "text": "Ai xử lý vậy?"}).status_code == 403
    client.force_login(citizen)
    assert client.post(url, {"action": "comment", "text": "Đèn vẫn hỏng <i>tối nay</i>"}).status_code == 302
    client.force_login(officer)
    assert client.post(url, {"action": "comment", "text": "Chiều mai đội điện sẽ thay."}).status_code == 302
    client.logout()
    body = client.get(url).content.decode()
    assert "Đèn vẫn hỏng &lt;i&gt;tối nay&lt;/i&gt;" in body
    assert "UBND Phường Bãi Cháy" in body and "Trả lời chính thức" in body
    assert str(officer) not in body and citizen.username not in body


def test_desk_moves_the_pin_and_the_report_is_rerouted(client, db, operator):
    from tests.reports.conftest import HONG_GAI, point_in

    report = intake.create_report(report_data(), {}, None, new_key())
    lon, lat = point_in(HONG_GAI)
    client.force_login(operator)
    resp = client.post(f"/dieu-hanh/{report.code}/", {"action": "move_pin", "row_version": report.row_version,
                                                       "lat": lat, "lon": lon})
    assert resp.status_code == 302
    report.refresh_from_db()
    assert report.commune.code == HONG_GAI and report.authority.code == "ubnd-06685"


def test_follow_instead_subscribes_and_shows_in_my_reports(client, forwarded, citizen):
    client.force_login(citizen)
    resp = client.post(f"/phan-anh/{forwarded.code}/theo-doi/")
    assert resp.status_code == 302
    assert 'id="following"' in client.get(f"/phan-anh/{forwarded.code}/").content.decode()
    assert forwarded.code in client.get("/phan-anh/cua-toi/").content.decode()


def test_intake_without_javascript_redirects_to_the_receipt_or_shows_errors(client, db):
    data = report_data(idempotency_key=new_key())
    bad = client.post("/phan-anh/moi/", {**data, "category": ""})
    assert bad.status_code == 400
    assert 'data-error-for="category">Hãy chọn lĩnh vực phản ánh.' in bad.content.decode()
    ok = client.post("/phan-anh/moi/", data)
    assert ok.status_code == 302 and "/da-gui/?t=" in ok["Location"]
    assert "Mã phản ánh của bạn" in client.get(ok["Location"]).content.decode()


def test_intake_page_shares_the_api_submission_limit(client, db, settings):
    settings.RATELIMIT_ENABLE = True
    settings.REPORT_SUBMIT_RATE = "2/m"
    import random

    ip = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"  # a fresh counter
    before = Report.objects.count()
    codes = [client.post("/phan-anh/moi/", report_data(idempotency_key=new_key()), REMOTE_ADDR=ip).status_code
             for _ in range(3)]
    assert codes == [302, 302, 429]
    again = client.post("/phan-anh/moi/", report_data(idempotency_key=new_key()), REMOTE_ADDR=ip)
    assert again.status_code == 429 and "quá nhiều phản ánh" in again.content.decode()
    assert Report.objects.count() == before + 2


def test_login_to_follow_follows_after_signing_in(client, forwarded, citizen):
    follow = f"/phan-anh/{forwarded.code}/theo-doi/"
    from django.urls import reverse

    assert client.get(follow)["Location"].startswith(reverse("login"))
    resp = client.post(reverse("login"), {"action": "password", "username": "+84910000001", "password": "demo12345",
                                       "next": follow})
    assert resp.status_code == 302 and resp["Location"] == follow
    landed = client.get(follow, follow=True)
    assert 'id="following"' in landed.content.decode()
    # A link from another site does not make a signed-in user follow anything.
    other = intake.create_report(report_data(), {}, None, new_key())
    client.get(f"/phan-anh/{other.code}/theo-doi/", HTTP_SEC_FETCH_SITE="cross-site")
    assert not other.subscriptions.filter(user=citizen).exists()


def test_intake_page_bad_input_is_a_message_under_the_field_and_keeps_the_text(client, db):
    before = Report.objects.count()
    resp = client.post("/phan-anh/moi/", report_data(lat="abc", description="Cống tắc trước nhà số 5",
                                                     idempotency_key=new_key()))
    body = resp.content.decode()
    assert resp.status_code == 400
    assert 'data-error-for="lat">Tọa độ phải là số.' in body
    assert "Cống tắc trước nhà số 5</textarea>" in body
    broken = client.generic("POST", "/phan-anh/moi/", b"garbage", content_type="multipart/form-data")
    assert broken.status_code == 400 and "Không đọc được dữ liệu gửi lên" in broken.content.decode()
    huge = client.generic("POST", "/phan-anh/moi/", b"", content_type="multipart/form-data; boundary=x",
                          CONTENT_LENGTH=str(500 * 2**20))
    assert huge.status_code == 413 and "quá lớn" in huge.content.decode()
    api = client.generic("POST", "/api/v1/reports", b"{bad", content_type="application/json")
    assert api.status_code == 400 and "Không đọc được" in api.json()["detail"]
    past_the_end = client.get("/api/v1/reports", {"page": "99999"})
    assert past_the_end.status_code == 404 and past_the_end.json()["detail"] == "Trang không hợp lệ."
    assert Report.objects.count() == before


def test_reporter_without_account_signs_in_by_phone_and_rates(client, db, operator, officer, settings):
    import re

    from geo_portal.accounts import otp, sms
    from tests.reports.conftest import photo

    settings.RATELIMIT_ENABLE = False
    report = intake.create_report(report_data(contact_phone="0912 345 670"), {}, None, new_key())
    for action, actor, data in (("forward", operator, None), ("accept", officer, None), ("start", officer, None),
                                ("resolve", officer, {"result_text": "Đã thay bóng đèn.", "photos": [photo("kq.jpg")]}),
                                ("publish", operator, None)):
        report = workflow.transition(report, action, actor, data)
    url = f"/phan-anh/{report.code}/"
    assert 'id="rate-sign-in"' in client.get(url).content.decode()
    otp.reset_ip_limit("127.0.0.1")
    client.post("/accounts/login/", {"action": "phone", "phone": "0912345670", "next": url})
    text = [m for m in sms.read_outbox() if m["to"] == "+84912345670"][-1]["text"]
    code = re.search(r"\b(\d{6})\b", text).group(1)
    signed = client.post("/accounts/login/", {"action": "code", "code": code, "next": url})
    assert signed.status_code == 302 and signed["Location"] == url
    page = client.get(url).content.decode()
    assert 'id="rate"' in page
    assert client.post(url, {"action": "rate", "level": "4", "row_version": report.row_version}).status_code == 302
    report.refresh_from_db()
    assert report.state == "rated" and report.rating_level == 4
    assert report.code in client.get("/phan-anh/cua-toi/").content.decode()


def test_public_map_says_when_it_shows_only_the_newest_reports(client, forwarded, operator, monkeypatch):
    from reports import views_pages

    second = workflow.transition(intake.create_report(report_data(), {}, None, new_key()), "forward", operator)
    monkeypatch.setattr(views_pages, "MAP_POINT_LIMIT", 1)
    data = client.get("/phan-anh/ban-do.json").json()
    assert [p[0] for p in data["points"]] == [second.code]
    assert "mới nhất trong tổng số" in data["note"]
    monkeypatch.setattr(views_pages, "MAP_POINT_LIMIT", 5000)
    assert client.get("/phan-anh/ban-do.json").json()["note"] == ""


def test_a_bad_filter_is_shown_under_its_field_and_the_others_still_apply(client, forwarded, operator):
    other = workflow.transition(intake.create_report(report_data(category="moi-truong-rac-thai"), {}, None, new_key()),
                                "forward", operator)
    resp = client.get("/phan-anh/", {"date_from": "hôm qua", "category": "do-thi-chieu-sang"})
    body = resp.content.decode()
    assert resp.status_code == 400
    assert 'data-error-for="date_from">' in body
    assert forwarded.code in body and other.code not in body
