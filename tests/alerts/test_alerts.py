"""Area alerts: double opt-in e-mail, one mail per item, one-click unsubscribe, radius /
polygon / commune matching, category filter, the daily digest, SMS, Web Push, and that
unpublished reports and reporter data never leave."""

import datetime as dt
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.gis.geos import Point
from django.core import mail
from django.test import Client
from django.utils import timezone

from alerts import delivery, matching, subscriptions, tasks
from alerts.models import AlertSent, AreaAlert
from reports import workflow
from reports.models import Category, Report
from tests.reports.conftest import BAI_CHAY, HONG_GAI, point_in

ADDRESS = "nguoi.theo.doi@example.vn"
REPORTER_NAME, REPORTER_PHONE = "Nguyễn Văn A", "0912345678"  # tests.reports.conftest.report_data


def mails_to(address):
    return [m for m in mail.outbox if address in m.to]


def link_in(body, part):
    m = re.search(r"https?://\S*/canh-bao/" + part + r"/\S+/", body)
    assert m, body
    return m.group(0)


def path_of(url):
    return re.sub(r"^https?://[^/]+", "", url)


@pytest.mark.django_db
def test_email_double_opt_in_one_mail_per_item_and_one_click_unsubscribe(make_report):
    page = Client()
    resp = page.post("/canh-bao/", {"place": "area", "area": BAI_CHAY, "lat": "", "want_new": "1",
                                    "channel": "email", "email": ADDRESS})
    assert resp.status_code == 200, resp.content.decode()[:2000]
    [confirmation] = mails_to(ADDRESS)
    confirm = link_in(confirmation.body, "xac-nhan")

    before = make_report()  # public before the subscriber confirmed: never sent
    tasks.scan()
    assert len(mails_to(ADDRESS)) == 1

    assert page.get(path_of(confirm)).status_code == 200
    report = make_report()
    make_report(commune=HONG_GAI)  # another commune
    tasks.scan()
    tasks.scan()  # a second run sends nothing again
    alerts = mails_to(ADDRESS)[1:]
    assert len(alerts) == 1
    [alert] = alerts
    assert report.code in alert.body and before.code not in alert.body
    assert REPORTER_NAME not in alert.body and REPORTER_PHONE not in alert.body
    unsubscribe = link_in(alert.body, "huy")
    assert alert.extra_headers["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert alert.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    assert page.get(path_of(unsubscribe)).status_code == 200  # one click, no form
    make_report()
    tasks.scan()
    assert len(mails_to(ADDRESS)) == 2


@pytest.mark.django_db
def test_one_click_unsubscribe_by_the_mail_clients_post(make_report):
    sub = subscriptions.subscribe({"channel": "email", "email": ADDRESS, "area": BAI_CHAY})
    Client().get(path_of(subscriptions.confirm_url(sub)))
    resp = Client(enforce_csrf_checks=True).post(path_of(subscriptions.unsubscribe_url(sub)),
                                                 {"List-Unsubscribe": "One-Click"})
    assert resp.status_code == 200
    make_report()
    tasks.scan()
    assert len(mails_to(ADDRESS)) == 1  # the confirmation only


@pytest.mark.django_db
def test_a_forged_or_expired_confirmation_does_nothing(make_report):
    sub = subscriptions.subscribe({"channel": "email", "email": ADDRESS, "area": BAI_CHAY})
    token = subscriptions.confirm_token(sub)
    assert Client().get(f"/canh-bao/xac-nhan/{token[:-2]}xx/").status_code == 404
    assert Client().get(f"/canh-bao/xac-nhan/{subscriptions.unsubscribe_token(sub)}/").status_code == 404
    make_report()
    tasks.scan()
    assert len(mails_to(ADDRESS)) == 1


def _active(**where):
    return AreaAlert.objects.create(channel="email", email=ADDRESS, confirmed_at=timezone.now(), **where)


# Offsets from the centre in degrees, and whether a circle of 1,000 m holds the point.
# At latitude ≈ 20.95° one degree of latitude is ≈ 110.7 km and one of longitude
# ≈ 104.0 km (hand arithmetic): 0.0085° lat ≈ 941 m, 0.0095° lat ≈ 1,052 m,
# 0.0092° lon ≈ 957 m, 0.0100° lon ≈ 1,040 m, (0.0065, 0.0065) ≈ 930 m, (0.007, 0.007) ≈ 1,001+ m.
RADIUS_CASES = [
    ((0, 0), True),
    ((0.0085, 0), True),
    ((0.0095, 0), False),
    ((-0.0085, 0), True),
    ((0, 0.0092), True),
    ((0, -0.0100), False),
    ((0.0045, 0.0045), True),
    ((0.0070, 0.0070), False),
    ((0.05, 0.05), False),
]


@pytest.mark.django_db
@pytest.mark.parametrize("offset,inside", RADIUS_CASES)
def test_radius_matching(make_report, offset, inside):
    lon, lat = point_in(BAI_CHAY)
    sub = _active(center=Point(lon, lat, srid=4326), radius_m=1000)
    report = make_report()
    Report.objects.filter(pk=report.pk).update(location=Point(lon + offset[1], lat + offset[0], srid=4326))
    assert (sub.pk in matching.matching_subscription_ids(report, "new")) is inside


# A square of ±0.01° around the centre; a triangle cut out of it on one side.
POLYGON_CASES = [
    ((0, 0), True),
    ((0.009, 0.009), True),
    ((-0.009, 0.0), True),
    ((0.011, 0), False),
    ((0, -0.0105), False),
    ((0.02, 0.02), False),
]


@pytest.mark.django_db
@pytest.mark.parametrize("offset,inside", POLYGON_CASES)
def test_polygon_matching(make_report, offset, inside):
    lon, lat = point_in(BAI_CHAY)
    d = 0.01
    square = {"type": "Polygon", "coordinates": [[[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d],
                                                  [lon - d, lat + d], [lon - d, lat - d]]]}
    sub = subscriptions.subscribe({"channel": "push", "polygon": square, "push_subscription": {
        "endpoint": "https://push.example/x", "keys": {"p256dh": "p", "auth": "a"}}})
    report = make_report()
    Report.objects.filter(pk=report.pk).update(location=Point(lon + offset[1], lat + offset[0], srid=4326))
    assert (sub.pk in matching.matching_subscription_ids(report, "new")) is inside


@pytest.mark.django_db
@pytest.mark.parametrize("category,sent", [
    ("do-thi-chieu-sang", True),   # the report's own category
    ("do-thi", True),              # its group
    ("moi-truong-rac-thai", False),
    (None, True),                  # any category
])
def test_category_filter(make_report, category, sent):
    _active(area_id=make_report(public=False).commune_id,
            category=Category.objects.get(code=category) if category else None)
    report = make_report(category="do-thi-chieu-sang")
    tasks.scan()
    assert [report.code in m.body for m in mails_to(ADDRESS)] == ([True] if sent else [])


@pytest.mark.django_db
def test_unpublished_reports_are_never_sent(make_report, operator):
    area = make_report(public=False).commune_id
    _active(area_id=area, want_new=True, want_resolved=True)
    make_report(public=False)  # received: the desk has not checked it
    rejected = make_report(public=False)
    workflow.transition(rejected, "reject", operator, {"reason_code": Report.RejectReason.values[0], "reason": "Trùng"})
    tasks.scan()
    assert mails_to(ADDRESS) == [] and AlertSent.objects.count() == 0


@pytest.mark.django_db
def test_resolved_items_when_the_result_is_published(make_report, resolve_and_publish):
    area = make_report(public=False).commune_id
    only_resolved = _active(area_id=area, want_new=False, want_resolved=True)
    report = make_report()
    tasks.scan()
    assert mails_to(ADDRESS) == []  # made public, but this subscriber wants results only
    report = resolve_and_publish(report)
    tasks.scan()
    [m] = mails_to(ADDRESS)
    assert report.code in m.body and "Đã xử lý" in m.body
    assert list(AlertSent.objects.filter(subscription=only_resolved).values_list("kind", flat=True)) == ["resolved"]


@pytest.mark.django_db
def test_daily_digest_groups_the_day(make_report):
    area = make_report(public=False).commune_id
    sub = _active(area_id=area, digest=True)
    codes = [make_report().code for _ in range(3)]
    tasks.scan()
    assert mails_to(ADDRESS) == []  # nothing immediately
    assert delivery.send_digests(until=timezone.now() + dt.timedelta(seconds=1)) == 1
    [digest] = mails_to(ADDRESS)
    assert all(code in digest.body for code in codes) and "3" in digest.subject
    # the subscription's own unsubscribe link (its signature carries the second it was
    # made: compared as the link, the test failed when a second turned in between)
    assert "List-Unsubscribe" in digest.extra_headers
    [link] = re.findall(r"https?://\S+/canh-bao/huy/\S+/", digest.body)
    assert re.sub(r"huy/[^/]+/$", "huy/", link) == re.sub(r"huy/[^/]+/$", "huy/", subscriptions.unsubscribe_url(sub))
    assert Client().get(urlsplit(link).path).status_code < 400  # one click unsubscribes
    sub.refresh_from_db()
    assert sub.unsubscribed_at is not None
    assert delivery.send_digests(until=timezone.now() + dt.timedelta(seconds=1)) == 0
    assert len(mails_to(ADDRESS)) == 1


@pytest.mark.django_db
def test_digest_holds_todays_items_until_tomorrow(make_report):
    area = make_report(public=False).commune_id
    _active(area_id=area, digest=True)
    make_report()
    tasks.scan()
    assert delivery.send_digests() == 0  # default cut-off: today's local midnight
    assert mails_to(ADDRESS) == []


@pytest.mark.django_db
def test_sms_only_for_a_signed_in_phone(make_report, settings, tmp_path):
    lon, lat = point_in(BAI_CHAY)
    anonymous = Client().post("/api/v1/alerts/", {"channel": "sms", "lat": lat, "lon": lon, "radius_m": 500},
                              content_type="application/json")
    assert anonymous.status_code == 400 and "channel" in anonymous.json()["errors"]
    phone = "+84910000777"
    user = get_user_model().objects.create(username=phone, phone=phone)
    c = Client()
    c.force_login(user)
    resp = c.post("/api/v1/alerts/", {"channel": "sms", "lat": lat, "lon": lon, "radius_m": 500},
                  content_type="application/json")
    assert resp.status_code == 201 and resp.json()["confirmed"] is True
    report = make_report()
    tasks.scan()
    texts = [json.loads(line) for line in (settings.SMS_OUTBOX_DIR / "outbox.jsonl").read_text().splitlines()]
    mine = [t for t in texts if phone in json.dumps(t)]
    assert len(mine) == 1 and report.code in json.dumps(mine[0], ensure_ascii=False)


@pytest.mark.django_db
@pytest.mark.parametrize("body,field", [
    ({"channel": "email", "email": ADDRESS, "lat": 20.95, "lon": 107.07, "radius_m": 10000}, "radius_m"),
    ({"channel": "email", "email": ADDRESS, "lat": 95, "lon": 107.07}, "lat"),
    ({"channel": "email", "email": "không-phải-thư", "area": BAI_CHAY}, "email"),
    ({"channel": "email", "email": ADDRESS, "area": "99999999"}, "area"),
    ({"channel": "email", "email": ADDRESS}, "area"),
    ({"channel": "email", "email": ADDRESS, "area": BAI_CHAY, "lat": 20.95, "lon": 107.07}, "area"),
    ({"channel": "email", "email": ADDRESS, "area": BAI_CHAY, "category": "khong-co"}, "category"),
    ({"channel": "email", "email": ADDRESS, "area": BAI_CHAY, "want_new": False}, "want_new"),
    ({"channel": "email", "email": ADDRESS, "polygon": json.dumps({"type": "Polygon", "coordinates": [
        [[106, 20], [108, 20], [108, 22], [106, 22], [106, 20]]]})}, "polygon"),  # ≈ 48,000 km²
    ({"channel": "email", "email": ADDRESS, "polygon": json.dumps({"type": "Polygon", "coordinates": [
        [[107, 20.9], [107.01, 20.91], [107.01, 20.9], [107, 20.91], [107, 20.9]]]})}, "polygon"),  # a bow tie
    ({"channel": "email", "email": ADDRESS, "polygon": json.dumps({"type": "Point", "coordinates": [107, 20.9]})},
     "polygon"),
    ({"channel": "email", "email": ADDRESS, "polygon": "không phải GeoJSON"}, "polygon"),
    ({"channel": "push", "area": BAI_CHAY, "push_subscription": json.dumps({"endpoint": "http://x"})},
     "push_subscription"),
    ({"channel": "fax", "area": BAI_CHAY}, "channel"),
])
def test_bad_subscriptions_are_field_level_400(body, field):
    resp = Client().post("/api/v1/alerts/", body, content_type="application/json")
    assert resp.status_code == 400 and field in resp.json()["errors"], resp.content
    assert AreaAlert.objects.count() == 0 and mail.outbox == []


@pytest.mark.django_db
def test_api_polygon_and_push_subscriptions(make_report):
    lon, lat = point_in(BAI_CHAY)
    d = 0.005
    square = {"type": "Polygon", "coordinates": [[[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d],
                                                  [lon - d, lat + d], [lon - d, lat - d]]]}
    resp = Client().post("/api/v1/alerts/", {"email": ADDRESS, "polygon": json.dumps(square)},
                         content_type="application/json")
    assert resp.status_code == 201 and resp.json()["confirmed"] is False
    push = {"endpoint": "https://fcm.googleapis.com/fcm/send/abc", "keys": {"p256dh": "BPk", "auth": "xyz"}}
    resp = Client().post("/api/v1/alerts/", {"channel": "push", "area": BAI_CHAY,
                                             "push_subscription": json.dumps(push)},
                         content_type="application/json")
    assert resp.status_code == 201 and resp.json()["confirmed"] is True
    assert AreaAlert.objects.get(channel="push").push_subscription == push


@pytest.mark.django_db
def test_subscribe_api_is_rate_limited(settings):
    settings.RATELIMIT_ENABLE = True
    body = {"channel": "email", "email": ADDRESS, "area": BAI_CHAY}
    statuses = [Client().post("/api/v1/alerts/", body, content_type="application/json").status_code for _ in range(11)]
    assert statuses == [201] * 3 + [429] * 8  # three confirmation mails a day to one address
    assert len(mails_to(ADDRESS)) == 3
    others = [Client().post("/api/v1/alerts/", dict(body, email=f"n{i}@example.vn"), content_type="application/json")
              for i in range(10)]
    # the client's address allowed 10 an hour: 3 + 8 refused + these
    assert [r.status_code for r in others] == [429] * 10 and others[0]["Retry-After"]


@pytest.mark.django_db
def test_the_client_address_limit(settings):
    settings.RATELIMIT_ENABLE = True
    statuses = [Client().post("/api/v1/alerts/", {"channel": "email", "email": f"n{i}@example.vn", "area": BAI_CHAY},
                              content_type="application/json").status_code for i in range(11)]
    assert statuses == [201] * 10 + [429]


def test_subscribe_page_has_no_inline_script(db):
    html = Client().get("/canh-bao/").content.decode()
    assert "<form" in html and 'id="alert-form"' in html
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag


class _PushService(BaseHTTPRequestHandler):
    received = []
    status = 201

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _PushService.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(_PushService.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.django_db
@pytest.mark.parametrize("answer,sent,ended", [(201, True, False), (410, False, True), (500, False, False)])
def test_web_push_is_encrypted_and_signed_with_vapid(make_report, settings, answer, sent, ended):
    """pywebpush against a local push service: the message is aes128gcm-encrypted for the
    browser's key and carries a VAPID Authorization header."""
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from py_vapid import Vapid

    vapid = Vapid()
    vapid.generate_keys()
    settings.WEBPUSH_VAPID_PRIVATE_KEY = vapid.private_pem().decode()
    browser = ec.generate_private_key(ec.SECP256R1())
    p256dh = browser.public_key().public_bytes(serialization.Encoding.X962,
                                               serialization.PublicFormat.UncompressedPoint)
    b64 = lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("=")  # noqa: E731
    server = HTTPServer(("127.0.0.1", 0), _PushService)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        lon, lat = point_in(BAI_CHAY)
        AreaAlert.objects.create(channel="push", confirmed_at=timezone.now(), center=Point(lon, lat, srid=4326),
                                 radius_m=2000, push_subscription={
                                     "endpoint": f"http://127.0.0.1:{server.server_port}/push/abc",
                                     "keys": {"p256dh": b64(p256dh), "auth": b64(b"0123456789abcdef")}})
        _PushService.received.clear()
        _PushService.status = answer
        report = make_report()
        tasks.scan()
    finally:
        server.shutdown()
    [(headers, body)] = _PushService.received
    assert headers["content-encoding"] == "aes128gcm" and headers["authorization"].startswith("vapid t=")
    assert report.code.encode() not in body  # encrypted
    assert (AlertSent.objects.get(report=report).sent_at is not None) is sent
    # 410 Gone: the browser dropped the subscription, so does the portal; a 500 is retried later
    assert (AreaAlert.objects.get(channel="push").unsubscribed_at is not None) is ended


@pytest.mark.parametrize("lang,title,category", [
    ("vi", "Nhận tin phản ánh theo khu vực", "Chiếu sáng công cộng"),
    ("en", "Area alerts for field reports", "Street lighting"),
])
def test_subscribe_page_in_both_languages(db, lang, title, category):
    c = Client()
    c.cookies["django_language"] = lang
    resp = c.get("/canh-bao/")
    html = resp.content.decode()
    assert resp.status_code == 200 and f'<html lang="{lang}">' in html
    assert title in html and category in html


@pytest.mark.parametrize("place,expected", [
    ("polygon", "polygon"),
    ("radius", "center"),
    ("area", "area"),
])
def test_the_page_keeps_the_place_chosen(db, settings, place, expected):
    """The page's form carries a commune code, a point and a drawn polygon at once: the
    radio button decides which one subscribes."""
    settings.RATELIMIT_ENABLE = False
    lon, lat = point_in(BAI_CHAY)
    d = 0.004
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d], [lon - d, lat - d]]
    resp = Client().post("/canh-bao/", {
        "place": place, "area": BAI_CHAY, "lat": str(lat), "lon": str(lon), "radius_m": "800",
        "polygon": json.dumps({"type": "Polygon", "coordinates": [ring]}), "email": "chon@example.vn",
        "want_new": "1", "channel": "email"})
    assert resp.status_code == 200, resp.content.decode()[:500]
    sub = AreaAlert.objects.get()
    held = {"area": sub.area_id is not None, "center": sub.center is not None, "polygon": sub.polygon is not None}
    assert [k for k, v in held.items() if v] == [expected]
