"""What one caller can cost (issue 8, item 3): rate limits answer 429 with Retry-After,
lockouts grow, one-time codes are counted atomically, images have a decoding budget,
heavy reads are bounded, SMS goes only to verified phones, idempotency keys belong to
their caller. Counters live in the real Redis cache (a namespace per test)."""

import io
import re
import time
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from PIL import Image
from rest_framework.test import APIClient

from geo_portal import ratelimit
from geo_portal.accounts import otp, sms
from geo_portal.accounts.models import OneTimeCode
from reports import intake, notify, workflow
from reports.models import Notification, Report
from tests.reports.conftest import (
    BAI_CHAY,
    in_thread,
    jpeg_bytes,
    new_key,
    photo,
    point_in,
    report_data,
    run_in_threads,
    user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(db):
    return user("+84900000001")


@pytest.fixture
def citizen(db):
    return user("+84910000001")


@pytest.fixture(autouse=True)
def _limits_on(settings, tmp_path):
    settings.RATELIMIT_ENABLE = True
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SMS_OUTBOX_DIR = tmp_path / "sms"
    settings.SMS_BACKEND = "geo_portal.accounts.sms.ConsoleSmsBackend"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.NOTIFY_DISPATCH = "sync"


def own_ip():
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


def codes_sent_to(phone):
    return [m for m in sms.read_outbox() if m["to"] == phone]


def last_code(phone):
    return re.search(r"\b(\d{6})\b", codes_sent_to(phone)[-1]["text"]).group(1)


# --- each limit: N allowed, then 429 with Retry-After --------------------------------


def _photo_hint(c, i):
    return c.post("/api/v1/reports/photo-hint", {"photo": photo(f"a{i}.jpg")})


def _report_api(c, i):
    return c.post("/api/v1/reports", report_data(description=f"Đèn hỏng số {i}"), HTTP_IDEMPOTENCY_KEY=new_key())


def _report_page(c, i):
    return c.post("/phan-anh/moi/", {**report_data(description=f"Đèn hỏng số {i}"), "idempotency_key": new_key()})


def _otp_send_page(c, i):
    return c.post("/accounts/login/", {"action": "phone", "phone": "0987654321"})


def _otp_send_api(c, i):
    return c.post("/accounts/api/token", {"phone": "0987654322"}, content_type="application/json")


@pytest.mark.parametrize(
    "send, settings_change, allowed, ok_status",
    [
        (_photo_hint, {"RATE_LIMITS": {"photo-hint": "3/m"}}, 3, 200),
        (_report_api, {"REPORT_SUBMIT_RATE": "2/m"}, 2, 201),
        (_report_page, {"REPORT_SUBMIT_RATE": "2/m"}, 2, 302),
        (_otp_send_page, {}, 3, 200),  # 3 codes per phone per 10 minutes
        (_otp_send_api, {}, 3, 202),
    ],
    ids=["photo-hint", "report-api", "report-page", "otp-send-page", "otp-send-api"],
)
def test_limit_answers_429_with_retry_after_after_n(send, settings_change, allowed, ok_status, settings):
    for name, value in settings_change.items():
        setattr(settings, name, value)
    c = Client(REMOTE_ADDR=own_ip())
    statuses = [send(c, i).status_code for i in range(allowed)]
    assert statuses == [ok_status] * allowed
    refused = send(c, allowed)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 600
    assert "quá nhiều" in refused.content.decode().lower()


def test_report_limit_is_per_client_ip(settings):
    settings.REPORT_SUBMIT_RATE = "1/m"
    first, second = Client(REMOTE_ADDR=own_ip()), Client(REMOTE_ADDR=own_ip())
    assert _report_api(first, 0).status_code == 201
    assert _report_api(first, 1).status_code == 429
    assert _report_api(second, 2).status_code == 201


# --- password sign-in: a growing lockout per username and per IP ---------------------


@pytest.mark.parametrize("where", ["page", "token-api"])
def test_wrong_passwords_lock_the_username_even_for_the_right_one(where, operator):
    c = Client(REMOTE_ADDR=own_ip())

    def attempt(password):
        if where == "page":
            return c.post("/accounts/login/", {"action": "password", "username": "0900000001", "password": password})
        return c.post("/accounts/api/token", {"username": "+84900000001", "password": password},
                      content_type="application/json")

    assert [attempt("sai-roi").status_code for _ in range(4)] == [400] * 4
    fifth = attempt("sai-roi")
    assert fifth.status_code == 429 and 250 <= int(fifth["Retry-After"]) <= 300
    right = attempt("demo12345")  # the right password, during the lock
    assert right.status_code == 429 and "sai quá nhiều lần" in right.content.decode()
    assert "_auth_user_id" not in c.session
    # Another address does not unlock the username.
    other = Client(REMOTE_ADDR=own_ip())
    assert other.post("/accounts/login/", {"action": "password", "username": "0900000001",
                                           "password": "demo12345"}).status_code == 429


def test_concurrent_wrong_passwords_cannot_pass_the_lockout_together(operator):
    """20 guesses at once for one username: at most 5 are tried against the password
    (the lockout's limit), the others are refused untried (and count); then the right
    one is refused too, as after 20 guesses in a row."""
    from django.test import RequestFactory

    from geo_portal.accounts import passwords

    username = "+84900000001"
    passwords.BY_USERNAME.forget(username.casefold())

    def guess(i):
        request = RequestFactory().post("/accounts/api/token", REMOTE_ADDR=f"10.77.{i}.{uuid.uuid4().int % 250}")
        return passwords.sign_in(request, username, f"sai-{i}")

    try:
        results = run_in_threads(*[lambda i=i: guess(i) for i in range(20)])
        wrong = [r for r in results if isinstance(r, ValidationError) and not isinstance(r, otp.RateLimited)]
        refused = [r for r in results if isinstance(r, otp.RateLimited)]
        assert len(wrong) <= 5 and len(wrong) + len(refused) == 20, results
        right = RequestFactory().post("/accounts/api/token", REMOTE_ADDR=own_ip())
        with pytest.raises(otp.RateLimited):
            passwords.sign_in(right, username, "demo12345")
    finally:
        passwords.BY_USERNAME.forget(username.casefold())


def test_many_usernames_from_one_ip_lock_the_ip(db):
    c = Client(REMOTE_ADDR=own_ip())
    statuses = [c.post("/accounts/login/", {"action": "password", "username": f"khong-co-{i}",
                                            "password": "x"}).status_code
                for i in range(21)]
    assert statuses[:19] == [400] * 19 and statuses[19:] == [429, 429]


def test_lockout_grows_each_time():
    lock = ratelimit.Lockout(f"t-{uuid.uuid4().hex}", failures=2, window=60, base=1, longest=60)
    assert lock.fail("x").allowed
    first = lock.fail("x")
    assert not first.allowed and first.retry_after == 1
    time.sleep(1.1)
    assert lock.check("x").allowed
    lock.fail("x")
    second = lock.fail("x")
    assert not second.allowed and second.retry_after == 2


# --- one-time codes: at most N per phone even at once; verify locks out ----------------


def test_eight_concurrent_code_requests_send_at_most_three():
    phone = "+84987000" + f"{uuid.uuid4().int % 1000:03d}"
    try:
        results = run_in_threads(*[lambda i=i: otp.request_code(phone, ip=f"10.9.9.{i}") for i in range(8)])
        sent = codes_sent_to(phone)
        refused = [r for r in results if isinstance(r, otp.RateLimited)]
        assert len(sent) == 3, results
        assert len(refused) == 5 and all(r.retry_after > 0 for r in refused)
        assert in_thread(lambda: OneTimeCode.objects.filter(phone=phone).count()) == 3
    finally:
        in_thread(lambda: OneTimeCode.objects.filter(phone=phone).delete())


def test_repeated_wrong_codes_lock_the_phone_for_an_hour():
    phone = "+84912000777"
    ip = own_ip()
    wrong_answers = []
    for _round in range(2):  # two codes, five wrong guesses each
        otp.request_code(phone, ip=ip)
        code = last_code(phone)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        for _ in range(5):
            try:
                otp.verify_code(phone, wrong, ip=ip)
            except otp.RateLimited as exc:
                wrong_answers.append(("locked", exc.retry_after))
            except Exception:  # noqa: BLE001 - a wrong code
                wrong_answers.append(("wrong", None))
    assert [a for a, _ in wrong_answers] == ["wrong"] * 9 + ["locked"]
    assert wrong_answers[-1][1] == 3600
    otp.request_code(phone, ip=ip)  # a third code, the right one: still locked
    c = Client(REMOTE_ADDR=ip)
    session = c.session
    session["otp_phone"] = phone
    session.save()
    resp = c.post("/accounts/login/", {"action": "code", "code": last_code(phone)})
    assert resp.status_code == 429 and 3500 < int(resp["Retry-After"]) <= 3600
    assert "_auth_user_id" not in c.session


# --- images: a decoding budget -----------------------------------------------------------


def _image(size, mode="RGB", fmt="PNG"):
    out = io.BytesIO()
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    Image.new(mode, size).save(out, fmt)
    return out.getvalue()


def _png(size, mode="RGB"):
    return _image(size, mode)


# The budget (REPORT_IMAGE_DECODE_MAX_BYTES, 128 MB) keeps every accepted photo's peak
# under 200 MB (bench/upload_memory.py measures it per case).
@pytest.mark.parametrize(
    "data, name, ok",
    [
        (_png((7000, 7000)), "p.png", False),  # 49 MP in ~150 KB: refused from the header
        (_png((6400, 6400)), "p.png", False),  # 41 MP
        (_png((6000, 6000), "RGBA"), "p.png", False),  # 36 MP with alpha: over the memory budget
        # 25 MP with alpha, resized in one pass: premultiplied + half-way image (~280 MB before)
        (_png((5000, 5000), "RGBA"), "p.png", False),
        (_png((5119, 5119)), "p.png", False),  # 26 MP: the one-pass resize's half-way image
        (_image((4000, 4000), fmt="WEBP"), "p.webp", False),  # 16 MP WebP: three copies (~260 MB before)
        (_image((5000, 3500), fmt="HEIF"), "p.heic", False),  # 17.5 MP HEIC: two copies
        (_png((3000, 2000)), "p.png", True),
        (_png((3400, 3400), "RGBA"), "p.png", True),
        (_image((3000, 2600), fmt="WEBP"), "p.webp", True),
        (_image((4000, 3000), fmt="HEIF"), "p.heic", True),  # a 12 MP phone photo
    ],
    ids=["png-49mp", "png-41mp", "png-36mp-rgba", "png-25mp-rgba", "png-26mp", "webp-16mp", "heic-17mp",
         "png-6mp", "png-12mp-rgba", "webp-8mp", "heic-12mp"],
)
def test_photo_hint_refuses_oversized_images_with_a_field_error(data, name, ok):
    c = Client(REMOTE_ADDR=own_ip())
    resp = c.post("/api/v1/reports/photo-hint", {"photo": SimpleUploadedFile(name, data)})
    if ok:
        assert resp.status_code == 200
    else:
        assert resp.status_code == 400
        assert "điểm ảnh" in resp.json()["errors"]["photo"][0]


def test_photos_decoded_at_once_are_bounded_per_process_and_more_are_503_to_retry(settings):
    """While the process's decoding slots are taken (other requests decoding photos),
    a photo waits REPORT_IMAGE_DECODE_WAIT_S, then gets 503 + Retry-After (not a
    thread held for ever, not a 500); nothing is stored; a free slot serves it."""
    from reports import media

    settings.REPORT_IMAGE_DECODE_SLOTS, settings.REPORT_IMAGE_DECODE_WAIT_S = 1, 0.2
    c = Client(REMOTE_ADDR=own_ip())
    with media.decode_slot():  # another request decoding a photo
        hint = c.post("/api/v1/reports/photo-hint", {"photo": photo()})
        create = c.post("/api/v1/reports", {**report_data(description="Ảnh lúc bận"), "photos": [photo()]},
                        HTTP_IDEMPOTENCY_KEY=new_key())
        page = c.post("/phan-anh/moi/", {**report_data(description="Ảnh lúc bận"), "photos": [photo()]})
    for resp in (hint, create):
        assert resp.status_code == 503 and int(resp["Retry-After"]) > 0
        assert resp.json()["code"] == "busy" and "ảnh" in resp.json()["detail"]
    assert page.status_code == 503 and "Retry-After" in page
    assert not Report.objects.filter(description="Ảnh lúc bận").exists()
    assert c.post("/api/v1/reports/photo-hint", {"photo": photo()}).status_code == 200


def test_large_jpeg_is_decoded_reduced_and_keeps_its_gps():
    data = jpeg_bytes(size=(7200, 5400), gps=(20.9512, 107.0436))  # 38.9 MP
    c = Client(REMOTE_ADDR=own_ip())
    resp = c.post("/api/v1/reports/photo-hint", {"photo": SimpleUploadedFile("big.jpg", data)})
    assert resp.status_code == 200, resp.content
    assert abs(resp.json()["lat"] - 20.9512) < 1e-3


def test_report_with_a_41_mp_photo_is_400_on_photos():
    c = Client(REMOTE_ADDR=own_ip())
    resp = c.post("/api/v1/reports", {**report_data(), "photos": [SimpleUploadedFile("p.png", _png((6400, 6400)))]},
                  HTTP_IDEMPOTENCY_KEY=new_key())
    assert resp.status_code == 400 and "điểm ảnh" in resp.json()["errors"]["photos"][0]
    assert not Report.objects.filter(description=report_data()["description"], idempotency_key__isnull=False).exists()


# --- heavy reads: clamped zoom, feature caps, exports capped -----------------------------


def test_boundaries_above_zoom_14_are_zoom_14():
    c = Client()
    z14 = c.get("/api/v1/boundaries/vn-2025/commune.geojson?province=22&zoom=14")
    z22 = c.get("/api/v1/boundaries/vn-2025/commune.geojson?province=22&zoom=22")
    assert z14.status_code == z22.status_code == 200
    assert z14.content == z22.content and len(z14.json()["features"]) > 40


def test_boundaries_feature_cap_is_a_400_naming_the_field(monkeypatch):
    from boundaries import geojson

    monkeypatch.setattr(geojson, "MAX_DETAILED_FEATURES", 60)
    c = Client()
    whole = c.get("/api/v1/boundaries/vn-2025/commune.geojson?zoom=12")
    assert whole.status_code == 400 and "tối đa 60" in whole.json()["errors"]["zoom"][0]
    one_province = c.get("/api/v1/boundaries/vn-2025/commune.geojson?zoom=12&province=22")
    assert one_province.status_code == 200
    low_zoom = c.get("/api/v1/boundaries/vn-2025/commune.geojson?zoom=6")  # compact: a higher cap
    assert low_zoom.status_code == 200


def test_areas_zoom_is_clamped_and_capped(monkeypatch):
    from heatmaps import views

    c = Client()
    z12 = c.get("/api/v1/heatmaps/areas/?type=commune&parent=22&zoom=12")
    z22 = c.get("/api/v1/heatmaps/areas/?type=commune&parent=22&zoom=22")
    assert z12.status_code == z22.status_code == 200 and z12.json() == z22.json()
    monkeypatch.setattr(views, "AREAS_MAX_DETAILED", 60)
    resp = c.get("/api/v1/heatmaps/areas/?type=commune&zoom=12")
    assert resp.status_code == 400 and "parent" in resp.json()["errors"]


@pytest.mark.parametrize("url", [
    "/api/v1/heatmaps/areas/?type=commune&parent=22&zoom=22",
    "/api/v1/heatmaps/export.html?bbox=106.9,20.9,107.2,21.1",
    "/api/v1/heatmaps/hotspots/?province=22&all=1",
])
def test_a_parameter_nothing_reads_cannot_bypass_the_cache_of_heavy_reads(url):
    from django.core.cache import cache
    from django.test.utils import CaptureQueriesContext

    cache.clear()
    c = Client()
    with CaptureQueriesContext(connection) as computed:
        first = c.get(url + "&x=1")
    assert first.status_code == 200, first.content[:300]
    with CaptureQueriesContext(connection) as queries:
        again = c.get(url + f"&x={uuid.uuid4().hex}&_={time.time()}")
    assert again.status_code == 200 and again.content == first.content
    # Served from the cache: the parameters' and version checks only, not the body's queries.
    assert len(queries.captured_queries) < len(computed.captured_queries)
    assert not [q["sql"] for q in queries.captured_queries if "ST_AsGeoJSON" in q["sql"]]
    with CaptureQueriesContext(connection) as recomputed:  # a parameter that is read: its own entry
        other = c.get(url + "&month=2026-01")
    assert other.status_code == 200 and len(recomputed.captured_queries) > len(queries.captured_queries)


def test_the_report_list_page_size_is_capped(monkeypatch):
    from reports.api import ReportPagination

    assert ReportPagination.max_page_size == 1000
    monkeypatch.setattr(ReportPagination, "max_page_size", 2)
    for i in range(3):
        intake.create_report(report_data(description=f"Điểm {i}"), None, None, new_key())
    c = APIClient()
    c.force_authenticate(user("+84900000001"))  # the desk: sees the new (unpublished) reports
    body = c.get("/api/v1/reports?scope=queue&page_size=100000").json()
    assert body["count"] >= 3 and len(body["features"]) == 2 and body["next"]


@pytest.mark.parametrize("fmt", ["html", "csv", "geojson"])
def test_export_above_the_cap_is_a_400_on_bbox(fmt, monkeypatch, operator):
    from heatmaps import exports

    for i in range(3):
        intake.create_report(report_data(description=f"Điểm {i}"), None, None, new_key())
    lon, lat = point_in(BAI_CHAY)
    bbox = f"{lon - 0.05},{lat - 0.05},{lon + 0.05},{lat + 0.05}"
    c = Client()
    c.force_login(operator)
    monkeypatch.setitem(exports.EXPORT_CAPS, fmt, 2)
    over = c.get(f"/api/v1/heatmaps/export.{fmt}?bbox={bbox}")
    assert over.status_code == 400 and "2" in over.json()["errors"]["bbox"]
    monkeypatch.setitem(exports.EXPORT_CAPS, fmt, 3)
    assert c.get(f"/api/v1/heatmaps/export.{fmt}?bbox={bbox}").status_code == 200


# --- SMS only to verified phones ----------------------------------------------------------


def test_anonymous_contact_phone_gets_no_sms_until_verified(operator):
    phone = "+84912345111"
    report = intake.create_report(report_data(contact_phone="0912345111"), None, None, new_key())
    assert not Notification.objects.filter(report=report, channel="sms").exists()
    sent_page = Client().get(f"/phan-anh/{report.code}/da-gui/?t={report.receipt_token}")
    assert sent_page.status_code == 200 and 'id="verify-phone-form"' in sent_page.content.decode()
    # The reporter verifies the phone with a code (the sent page's form → sign-in).
    c = Client(REMOTE_ADDR=own_ip())
    assert c.post("/accounts/login/", {"action": "phone", "phone": "0912345111"}).status_code == 200
    assert c.post("/accounts/login/", {"action": "code", "code": last_code(phone)}).status_code == 302
    report.refresh_from_db()
    workflow.transition(report, "forward", operator)
    assert Notification.objects.filter(report=report, channel="sms", to=phone).count() == 1


def test_signed_in_reporter_gets_sms_on_their_own_phone_only(citizen):
    report = intake.create_report(report_data(contact_phone="0912345222"), None, citizen, new_key())
    assert {n.to for n in Notification.objects.filter(report=report, channel="sms")} == {citizen.phone}
    assert notify.reporter_contacts(report)[0][1] == citizen.phone


# --- idempotency keys belong to their caller ------------------------------------------------


def test_two_users_with_one_key_make_two_reports(citizen, operator):
    key = new_key()
    a, b = APIClient(REMOTE_ADDR=own_ip()), APIClient(REMOTE_ADDR=own_ip())
    a.force_authenticate(citizen)
    b.force_authenticate(operator)
    first = a.post("/api/v1/reports", report_data(), format="multipart", HTTP_IDEMPOTENCY_KEY=key)
    second = b.post("/api/v1/reports", report_data(), format="multipart", HTTP_IDEMPOTENCY_KEY=key)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["properties"]["code"] != second.json()["properties"]["code"]
    assert Report.objects.filter(idempotency_key=key).count() == 2


@pytest.mark.parametrize(
    "headers_a, headers_b, same",
    [
        ({"HTTP_X_DEVICE_ID": "dev-A"}, {"HTTP_X_DEVICE_ID": "dev-B"}, False),
        ({"HTTP_X_DEVICE_ID": "dev-A"}, {"HTTP_X_DEVICE_ID": "dev-A"}, True),
        ({"REMOTE_ADDR": "10.1.1.1"}, {"REMOTE_ADDR": "10.1.1.2"}, False),
    ],
    ids=["two-devices", "same-device-retry", "two-anonymous-ips"],
)
def test_anonymous_keys_are_scoped_to_the_device(headers_a, headers_b, same):
    key = new_key()
    first = Client(**headers_a).post("/api/v1/reports", report_data(), HTTP_IDEMPOTENCY_KEY=key)
    second = Client(**headers_b).post("/api/v1/reports", report_data(), HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == 201
    assert second.status_code == (200 if same else 201)
    assert (first.json()["properties"]["code"] == second.json()["properties"]["code"]) is same


def test_long_keys_that_share_their_first_80_characters_are_two_keys():
    prefix = "k" * 80 + new_key()
    c = Client(REMOTE_ADDR=own_ip())
    first = c.post("/api/v1/reports", report_data(), HTTP_IDEMPOTENCY_KEY=prefix + "-a")
    second = c.post("/api/v1/reports", report_data(), HTTP_IDEMPOTENCY_KEY=prefix + "-b")
    retry = c.post("/api/v1/reports", report_data(), HTTP_IDEMPOTENCY_KEY=prefix + "-a")
    assert (first.status_code, second.status_code, retry.status_code) == (201, 201, 200)
    codes = [r.json()["properties"]["code"] for r in (first, second, retry)]
    assert codes[0] != codes[1] and codes[2] == codes[0]


def test_same_user_different_body_under_a_used_key_is_422(citizen):
    key = new_key()
    c = APIClient(REMOTE_ADDR=own_ip())
    c.force_authenticate(citizen)
    assert c.post("/api/v1/reports", report_data(), format="multipart", HTTP_IDEMPOTENCY_KEY=key).status_code == 201
    other = c.post("/api/v1/reports", report_data(description="Một việc khác hẳn"), format="multipart",
                   HTTP_IDEMPOTENCY_KEY=key)
    assert other.status_code == 422
    assert "khoá" in other.json()["errors"]["idempotency_key"][0].lower()
    assert Report.objects.filter(idempotency_key=key).count() == 1
    with connection.cursor() as cur:  # the first report is untouched
        cur.execute("SELECT description FROM reports_report WHERE idempotency_key = %s", [key])
        assert cur.fetchone()[0] == report_data()["description"]
