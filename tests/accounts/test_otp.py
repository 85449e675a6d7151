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
