import re

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from geo_portal.accounts import otp, sms


@pytest.fixture
def outbox(settings, tmp_path):
    settings.SMS_BACKEND = "geo_portal.accounts.sms.ConsoleSmsBackend"
    settings.SMS_OUTBOX_DIR = tmp_path
    otp.reset_ip_limit("127.0.0.1")
    yield tmp_path
    otp.reset_ip_limit("127.0.0.1")


def last_code(to):
    msgs = [m for m in sms.read_outbox() if m["to"] == to]
    return re.search(r"\b(\d{6})\b", msgs[-1]["text"]).group(1)


def test_vietnamese_numbers_are_normalised_and_foreign_accepted():
    assert otp.normalize_phone("0912 345 678") == "+84912345678"
    assert otp.normalize_phone("+84 912345678") == "+84912345678"
    assert otp.normalize_phone("+1 617 635 4500") == "+16176354500"
    with pytest.raises(ValidationError) as exc:
        otp.normalize_phone("12345")
    assert "phone" in exc.value.message_dict


def test_otp_sign_in_end_to_end_through_login_page(client, db, outbox):
    resp = client.post("/accounts/login/", {"action": "phone", "phone": "0912345678"})
    assert resp.status_code == 200
    assert "+84912345678" in resp.content.decode()
    code = last_code("+84912345678")
    bad = "000000" if code != "000000" else "111111"
    resp = client.post("/accounts/login/", {"action": "code", "code": bad})
    assert resp.status_code == 400
    assert "Mã không đúng" in resp.content.decode()
    resp = client.post("/accounts/login/", {"action": "code", "code": code})
    assert resp.status_code == 302
    user = get_user_model().objects.get(phone="+84912345678")
    assert user.username == "+84912345678"
    assert int(client.session["_auth_user_id"]) == user.pk
    # The code is single use.
    with pytest.raises(ValidationError):
        otp.verify_code("0912345678", code)


def test_codes_are_rate_limited_per_phone_with_429(client, db, outbox):
    for _ in range(3):
        assert client.post("/accounts/login/", {"action": "phone", "phone": "0987654321"}).status_code == 200
    resp = client.post("/accounts/login/", {"action": "phone", "phone": "0987654321"})
    assert resp.status_code == 429
    assert "quá nhiều" in resp.content.decode()


def test_five_wrong_attempts_lock_the_code(db, outbox):
    otp.request_code("0911111111")
    code = last_code("+84911111111")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        with pytest.raises(ValidationError):
            otp.verify_code("0911111111", wrong)
    with pytest.raises(ValidationError) as exc:
        otp.verify_code("0911111111", code)
    assert "quá nhiều" in str(exc.value)


def test_staff_password_sign_in(client, db):
    User = get_user_model()
    u = User.objects.create_user(username="+84900000099", phone="+84900000099", password="demo12345")
    resp = client.post("/accounts/login/", {"action": "password", "username": "0900000099", "password": "demo12345"})
    assert resp.status_code == 302
    assert int(client.session["_auth_user_id"]) == u.pk


def test_http_backend_raises_sms_error(settings):
    settings.SMS_BACKEND = "geo_portal.accounts.sms.HttpSmsBackend"
    settings.SMS_GATEWAY_URL = "http://127.0.0.1:9/nowhere"
    with pytest.raises(sms.SmsError):
        sms.send_sms("+84912345678", "x")


def test_api_client_gets_a_token_by_sms_code_and_uses_it(client, db, outbox, settings):
    settings.RATELIMIT_ENABLE = False  # the per-IP submission counter is shared with other tests
    asked = client.post("/accounts/api/token", {"phone": "0912345679"}, content_type="application/json")
    assert asked.status_code == 202 and "+84912345679" in asked.json()["detail"]
    wrong = client.post("/accounts/api/token", {"phone": "0912345679", "code": "12"}, content_type="application/json")
    assert wrong.status_code == 400 and "code" in wrong.json()["errors"]
    code = last_code("+84912345679")
    got = client.post("/accounts/api/token", {"phone": "0912345679", "code": code}, content_type="application/json")
    assert got.status_code == 200
    token = got.json()["token"]
    # The token signs the client in on the API: a report sent with it is the user's own.
    from reports.models import Report
    from tests.reports.conftest import new_key, report_data

    sent = client.post("/api/v1/reports", report_data(), HTTP_AUTHORIZATION=f"Token {token}",
                       HTTP_IDEMPOTENCY_KEY=new_key())
    assert sent.status_code == 201, sent.content
    report = Report.objects.get(code=sent.json()["properties"]["code"])
    assert report.reporter.username == "+84912345679"
    staff = client.post("/accounts/api/token", {"username": "+84900000001", "password": "demo12345"},
                        content_type="application/json")
    assert staff.status_code == 200 and staff.json()["token"] != token
    bad = client.post("/accounts/api/token", {"username": "+84900000001", "password": "x"},
                      content_type="application/json")
    assert bad.status_code == 400 and "không đúng" in bad.json()["errors"]["password"][0]
