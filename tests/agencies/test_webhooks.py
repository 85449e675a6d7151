"""Forwarding into agencies' systems and status coming back (issue 9, item 3).

The receiver is a real HTTP server started here (http.server in a thread on 127.0.0.1,
a free port) that checks every signature with its own implementation of the Standard
Webhooks specification (written below from the spec, not with agencies.signing) and
answers from a script: 500, then 429 with Retry-After: 1, then 204. Deliveries run
through the Celery task eagerly (GEO_PORTAL_WEBHOOK_DISPATCH="sync") on a shortened
schedule, sleeping the real delays.
"""

import base64
import hashlib
import hmac
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from agencies.models import WebhookDelivery, WebhookEndpoint
from reports import intake, workflow
from reports.models import ReportEvent
from tests.reports.conftest import jpeg_bytes, new_key, photo, report_data

SHORT = (0, 0.2, 0.2, 0.2)


# --- an independent receiver, from the specification ---------------------------------


def spec_signatures(secret, msg_id, timestamp, body):
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def spec_verify(secret, headers, body):
    expected = spec_signatures(secret, headers["webhook-id"], headers["webhook-timestamp"], body)
    return expected in headers["webhook-signature"].split(" ")


class Receiver:
    def __init__(self, script):
        self.script = list(script)  # (status, headers) per request; the last one repeats
        self.requests = []  # (monotonic time, headers, body)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append((time.monotonic(), {k.lower(): v for k, v in self.headers.items()}, body))
                status, extra = receiver.script.pop(0) if len(receiver.script) > 1 else receiver.script[0]
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/geo-portal"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def payloads(self):
        return [json.loads(b) for _t, _h, b in self.requests]


@pytest.fixture
def receiver():
    made = []

    def make(*script):
        r = Receiver(script or [(204, {})])
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


@pytest.fixture
def hooks(settings):
    settings.GEO_PORTAL_WEBHOOK_ALLOW_PRIVATE = True
    settings.GEO_PORTAL_WEBHOOK_DISPATCH = "sync"
    settings.GEO_PORTAL_WEBHOOK_SCHEDULE = SHORT
    return settings


def add_endpoint(authority_code, url, *extra):
    out = io.StringIO()
    call_command("webhooks", "add", "--authority", authority_code, "--url", url, *extra, stdout=out,
                 stderr=io.StringIO())
    return out.getvalue().strip()


def new_report(**kw):
    return intake.create_report(report_data(**kw), {}, None, new_key())


def forward(report, operator, capture):
    with capture(execute=True):
        return workflow.transition(report, "forward", operator)


# --- outbound ----------------------------------------------------------------------------


def test_forwarded_report_reaches_the_agency_after_a_500_and_a_429(db, hooks, receiver, operator,
                                                                  django_capture_on_commit_callbacks):
    report = new_report()
    rcv = receiver((500, {}), (429, {"Retry-After": "1"}), (204, {}))
    secret = add_endpoint(report.authority.code, rcv.url)
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) >= 24

    started = time.time()
    forward(report, operator, django_capture_on_commit_callbacks)

    assert len(rcv.requests) == 3
    times = [t for t, _h, _b in rcv.requests]
    assert times[1] - times[0] < 1.0  # the shortened schedule: 0.2 s (+ jitter)
    assert times[2] - times[1] >= 1.0  # Retry-After: 1 honoured
    ids = {h["webhook-id"] for _t, h, _b in rcv.requests}
    assert len(ids) == 1  # one message, retried under the same id
    for _t, h, body in rcv.requests:
        assert spec_verify(secret, h, body)
        assert abs(int(h["webhook-timestamp"]) - started) < 30
        assert h["content-type"] == "application/json"
    body = rcv.payloads()[-1]
    assert body["type"] == "report.forwarded"
    assert set(body) == {"type", "timestamp", "data"}
    assert body["data"]["report"]["code"] == report.code
    assert body["data"]["report"]["authority"]["code"] == report.authority.code
    raw = rcv.requests[-1][2].decode()
    assert "0912345678" not in raw and "Nguyễn Văn A" not in raw  # no reporter data
    d = WebhookDelivery.objects.get()
    assert (d.status, d.attempts, d.last_status_code) == ("delivered", 3, 204)
    assert [a.status_code for a in d.attempt_log.all()] == [500, 429, 204]


@pytest.mark.parametrize("action,expected_type", [
    ("comment", "report.commented"),
    ("accept", "report.updated"),
])
def test_later_events_are_sent_with_their_type(db, hooks, receiver, operator, officer, action, expected_type,
                                               django_capture_on_commit_callbacks):
    report = new_report()
    rcv = receiver()
    add_endpoint(report.authority.code, rcv.url)
    forward(report, operator, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        if action == "comment":
            workflow.add_comment(report, officer, "Đã cử người kiểm tra hiện trường.")
        else:
            workflow.transition(report, action, officer)
    assert [p["type"] for p in rcv.payloads()] == ["report.forwarded", expected_type]
    if action == "comment":
        assert rcv.payloads()[1]["data"]["comment"]["text"] == "Đã cử người kiểm tra hiện trường."


def test_rejected_report_is_closed_for_the_agency(db, hooks, receiver, operator, django_capture_on_commit_callbacks):
    report = new_report()
    rcv = receiver()
    add_endpoint(report.authority.code, rcv.url)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.transition(report, "reject", operator, {"reason_code": "duplicate"})
    assert [p["type"] for p in rcv.payloads()] == ["report.closed"]


def test_transfer_tells_both_units(db, hooks, receiver, operator, django_capture_on_commit_callbacks):
    from tests.reports.conftest import HONG_GAI

    report = new_report()
    other = new_report(commune=HONG_GAI).authority
    assert other != report.authority
    old_rcv, new_rcv = receiver(), receiver()
    add_endpoint(report.authority.code, old_rcv.url)
    add_endpoint(other.code, new_rcv.url)
    forward(report, operator, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.transition(report, "transfer", operator, {"authority": other.code})
    assert [p["type"] for p in old_rcv.payloads()] == ["report.forwarded", "report.updated"]
    assert old_rcv.payloads()[1]["data"]["report"]["authority"]["code"] == other.code
    assert [p["type"] for p in new_rcv.payloads()] == ["report.forwarded"]


def test_admin_refuses_a_private_address(db, settings):
    from boundaries.models import Authority

    settings.GEO_PORTAL_WEBHOOK_ALLOW_PRIVATE = False
    admin = get_user_model().objects.create(username="hook-admin2", is_superuser=True, is_staff=True)
    c = Client()
    c.force_login(admin)
    authority = Authority.objects.filter(kind="committee").first()
    resp = c.post("/admin/agencies/webhookendpoint/add/", {
        "authority": authority.pk, "url": "http://127.0.0.1:8000/hook", "active": "on",
        "secrets-TOTAL_FORMS": "0", "secrets-INITIAL_FORMS": "0"})
    assert resp.status_code == 200 and "mạng nội bộ" in resp.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_two_signatures_while_a_key_rotates(db, hooks, receiver, operator, django_capture_on_commit_callbacks):
    report = new_report()
    rcv = receiver()
    old = add_endpoint(report.authority.code, rcv.url)
    endpoint = WebhookEndpoint.objects.get()
    new = io.StringIO()
    call_command("webhooks", "rotate", str(endpoint.pk), stdout=new)
    new = new.getvalue().strip()
    forward(report, operator, django_capture_on_commit_callbacks)
    (_t, h, body), = rcv.requests
    assert len(h["webhook-signature"].split(" ")) == 2
    assert spec_verify(old, h, body) and spec_verify(new, h, body)


def test_410_disables_the_endpoint(db, hooks, receiver, operator, officer, django_capture_on_commit_callbacks):
    report = new_report()
    rcv = receiver((410, {}))
    add_endpoint(report.authority.code, rcv.url)
    forward(report, operator, django_capture_on_commit_callbacks)
    endpoint = WebhookEndpoint.objects.get()
    assert not endpoint.active and "410" in endpoint.disabled_reason
    assert WebhookDelivery.objects.get().status == "disabled"
    with django_capture_on_commit_callbacks(execute=True):
        workflow.transition(report, "accept", officer)
    assert len(rcv.requests) == 1  # nothing more is sent to it


def test_dead_letter_after_the_last_try_and_replay_from_the_admin(db, hooks, receiver, operator,
                                                                  django_capture_on_commit_callbacks):
    report = new_report()
    rcv = receiver((500, {}), (500, {}), (500, {}), (500, {}), (200, {}))
    add_endpoint(report.authority.code, rcv.url)
    forward(report, operator, django_capture_on_commit_callbacks)
    d = WebhookDelivery.objects.get()
    assert (d.status, d.attempts, len(rcv.requests)) == ("dead", len(SHORT), len(SHORT))

    admin = get_user_model().objects.create(username="hook-admin", is_superuser=True, is_staff=True)
    c = Client()
    c.force_login(admin)
    listing = c.get("/admin/agencies/webhookdelivery/?status__exact=dead")
    assert listing.status_code == 200 and f"{d.message_id}" in listing.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        resp = c.post("/admin/agencies/webhookdelivery/", {"action": "replay", "_selected_action": [d.pk]})
    assert resp.status_code == 302
    d.refresh_from_db()
    assert d.status == "delivered" and len(rcv.requests) == len(SHORT) + 1


def test_sent_only_when_both_authorities_accepted(db, hooks, receiver, operator, django_capture_on_commit_callbacks):
    from agencies import outbound

    report = new_report()
    unit, province = report.authority, report.authority.parent
    assert province is not None
    commune_rcv, province_rcv = receiver(), receiver((500, {}))
    add_endpoint(unit.code, commune_rcv.url)
    add_endpoint(province.code, province_rcv.url, "--include-children")
    hooks.GEO_PORTAL_WEBHOOK_DISPATCH = "none"
    forward(report, operator, django_capture_on_commit_callbacks)
    assert outbound.forwarding_status(report) == "pending"
    for d in WebhookDelivery.objects.all():
        outbound.attempt(d.pk)
    # The commune's system took it; the province's answered 500: not sent yet.
    assert {d.endpoint.authority_id: d.status for d in WebhookDelivery.objects.all()} == {
        unit.pk: "delivered", province.pk: "pending"}
    assert outbound.forwarding_status(report) == "pending"
    province_rcv.script = [(200, {})]
    WebhookDelivery.objects.filter(status="pending").update(next_attempt_at="2000-01-01T00:00Z")
    from agencies.tasks import send_due_webhooks

    assert send_due_webhooks() == 1
    assert outbound.forwarding_status(report) == "sent"
    assert [p["data"]["report"]["code"] for p in province_rcv.payloads()] == [report.code, report.code]
    c = Client()
    c.force_login(operator)
    shown = c.get(f"/api/v1/agencies/reports/{report.code}/forwarding").json()
    assert shown["status"] == "sent"
    assert sorted((d["authority"], d["status"], d["attempts"]) for d in shown["deliveries"]) == sorted(
        [(unit.code, "delivered", 1), (province.code, "delivered", 2)])


def test_inbound_updates_are_rate_limited(forwarded, settings):
    report, secret, _rcv = forwarded
    settings.RATELIMIT_ENABLE = True
    settings.RATE_LIMITS = {"agency-updates": "1/h"}
    payload = {"type": "report.progress", "authority": report.authority.code, "report": report.code,
               "text": "Đang làm."}
    assert signed_post(secret, payload, msg_id="r1").status_code == 200
    resp = signed_post(secret, payload, msg_id="r2")
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/x", "http://localhost/x", "http://10.1.2.3/x", "http://192.168.1.10/x",
    "http://[::1]/x", "http://169.254.169.254/latest/meta-data", "ftp://example.org/x",
])
def test_private_addresses_are_refused_at_creation(db, settings, url):
    settings.GEO_PORTAL_WEBHOOK_ALLOW_PRIVATE = False
    from boundaries.models import Authority

    code = Authority.objects.filter(kind="committee").values_list("code", flat=True).first()
    with pytest.raises(CommandError, match="nội bộ|http"):
        add_endpoint(code, url)
    assert not WebhookEndpoint.objects.exists()


def test_private_address_refused_at_send_time(db, hooks, receiver, operator, django_capture_on_commit_callbacks):
    report = new_report()
    rcv = receiver()
    add_endpoint(report.authority.code, rcv.url)  # allowed when it was added…
    hooks.GEO_PORTAL_WEBHOOK_ALLOW_PRIVATE = False  # …not any more
    hooks.GEO_PORTAL_WEBHOOK_DISPATCH = "none"
    forward(report, operator, django_capture_on_commit_callbacks)
    from agencies import outbound

    d = WebhookDelivery.objects.get()
    assert outbound.attempt(d.pk) is not None  # to be tried again later
    assert rcv.requests == []
    d.refresh_from_db()
    assert d.status == "pending" and d.attempts == 1 and "127.0.0.1" in d.last_error


# --- inbound -----------------------------------------------------------------------------


def signed_post(secret, payload, msg_id="msg_in_1", timestamp=None, tamper=None):
    body = json.dumps(payload).encode()
    ts = str(int(time.time() if timestamp is None else timestamp))
    sig = spec_signatures(secret, msg_id, ts, body)
    if tamper:
        body = tamper(body)
    return Client().post("/api/v1/agencies/updates", body, content_type="application/json",
                         headers={"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": sig})


@pytest.fixture
def forwarded(db, hooks, receiver, operator, django_capture_on_commit_callbacks):
    report = new_report()
    rcv = receiver()
    secret = add_endpoint(report.authority.code, rcv.url)
    forward(report, operator, django_capture_on_commit_callbacks)
    return report, secret, rcv


def test_signed_accept_is_applied_once(forwarded):
    report, secret, rcv = forwarded
    payload = {"type": "report.accept", "authority": report.authority.code, "report": report.code}
    resp = signed_post(secret, payload)
    assert resp.status_code == 200, resp.content
    assert resp.json() == {"report": report.code, "state": "accepted", "duplicate": False}
    again = signed_post(secret, payload)  # the agency's retry of the same message
    assert again.status_code == 200 and again.json()["duplicate"] is True
    accepts = ReportEvent.objects.filter(report=report, action="accept")
    assert accepts.count() == 1 and accepts.get().actor_role == "officer"
    assert accepts.get().authority_id == report.authority_id
    assert [p["type"] for p in rcv.payloads()] == ["report.forwarded"]  # its own step is not echoed back


@pytest.mark.parametrize("case", ["wrong-secret", "tampered-body", "old-timestamp", "unknown-authority",
                                  "no-signature", "non-ascii-signature"])
def test_forged_updates_are_rejected(forwarded, case):
    report, secret, _rcv = forwarded
    payload = {"type": "report.accept", "authority": report.authority.code, "report": report.code}
    if case == "wrong-secret":
        resp = signed_post("whsec_" + base64.b64encode(b"x" * 32).decode(), payload)
    elif case == "tampered-body":
        resp = signed_post(secret, payload, tamper=lambda b: b.replace(b"report.accept", b"report.resolve"))
    elif case == "old-timestamp":
        resp = signed_post(secret, payload, timestamp=time.time() - 3600)
    elif case == "unknown-authority":
        resp = signed_post(secret, {**payload, "authority": "khong-co"})
    elif case == "non-ascii-signature":  # was a 500: compare_digest refuses non-ASCII text
        resp = Client().post("/api/v1/agencies/updates", payload, content_type="application/json",
                             headers={"webhook-id": "msg_é", "webhook-timestamp": str(int(time.time())),
                                      "webhook-signature": "v1,é v1,ç"})
    else:
        resp = Client().post("/api/v1/agencies/updates", payload, content_type="application/json")
    assert resp.status_code == 401
    report.refresh_from_db()
    assert report.state == "forwarded"


def test_resolve_through_inbound_shows_on_the_public_timeline(forwarded, operator):
    report, secret, _rcv = forwarded
    note = signed_post(secret, {"type": "report.progress", "authority": report.authority.code,
                                "report": report.code, "text": "Đã thay bóng đèn tạm thời."}, msg_id="m1")
    assert note.status_code == 200 and note.json()["state"] == "in_progress"
    photo_b64 = base64.b64encode(jpeg_bytes()).decode()
    resp = signed_post(secret, {"type": "report.resolve", "authority": report.authority.code,
                                "report": report.code, "text": "Đã thay mới toàn bộ đèn chiếu sáng.",
                                "photo_1": photo_b64}, msg_id="m2")
    assert resp.status_code == 200, resp.content
    assert resp.json()["state"] == "resolved"
    assert report.media.filter(stage="result").count() == 1
    workflow.transition(report, "publish", operator)
    page = Client().get(f"/phan-anh/{report.code}/").content.decode()
    for text in ("Nhận xử lý", "Bắt đầu xử lý", "Báo cáo kết quả", "Đã thay bóng đèn tạm thời.",
                 "Đã thay mới toàn bộ đèn chiếu sáng.", report.authority.name):
        assert text in page, text


def test_resolve_without_photo_is_a_field_error(forwarded):
    report, secret, _rcv = forwarded
    resp = signed_post(secret, {"type": "report.resolve", "authority": report.authority.code,
                                "report": report.code, "text": "Xong."})
    assert resp.status_code == 400 and "photos" in resp.json()["errors"]
    report.refresh_from_db()
    assert report.state == "forwarded"  # nothing half-applied


@pytest.mark.parametrize("who,expected", [("officer", 200), ("other_officer", 403), ("citizen", 403), (None, 401)])
def test_token_api_multipart_resolve(forwarded, request, who, expected):
    from rest_framework.authtoken.models import Token

    report, _secret, _rcv = forwarded
    headers = {}
    if who:
        user = request.getfixturevalue(who)
        headers["Authorization"] = f"Token {Token.objects.get_or_create(user=user)[0].key}"
    resp = Client().post("/api/v1/agencies/updates", {"type": "report.resolve", "report": report.code,
                                                     "text": "Đã sửa xong.", "photos": [photo()]}, headers=headers)
    assert resp.status_code == expected, resp.content
    report.refresh_from_db()
    assert report.state == ("resolved" if expected == 200 else "forwarded")


# --- a real worker -----------------------------------------------------------------------


def test_real_worker_retries_on_the_schedule(db, receiver):
    """A real Celery worker (Redis broker, its own queue) delivers a committed outbox row,
    retrying after a 500 with the (shortened) schedule, through the task's countdown."""
    import os
    import subprocess
    import sys
    import uuid
    from pathlib import Path

    from django.conf import settings as dj_settings
    from django.db import connection

    from agencies import signing
    from agencies.models import WebhookMessage, WebhookSecret
    from agencies.tasks import deliver_webhook
    from boundaries.models import Authority
    from tests.reports.conftest import in_thread

    rcv = receiver((500, {}), (204, {}))
    secret = signing.new_secret()

    def setup():
        authority = Authority.objects.filter(kind="committee").first()
        endpoint = WebhookEndpoint.objects.create(authority=authority, url=rcv.url)
        WebhookSecret.objects.create(endpoint=endpoint, secret=secret)
        msg = WebhookMessage.objects.create(type="report.updated", payload={"type": "report.updated", "timestamp": "t",
                                                                             "data": {"probe": True}})
        return WebhookDelivery.objects.create(message=msg, endpoint=endpoint).pk, endpoint.pk

    pk, endpoint_pk = in_thread(setup)
    queue = f"test-{uuid.uuid4().hex[:8]}"
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        CELERY_KEY_PREFIX=dj_settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"],
        GEO_PORTAL_WEBHOOK_ALLOW_PRIVATE="1", GEO_PORTAL_WEBHOOK_SCHEDULE="0,1,1",
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "geo_portal", "worker", "-Q", queue, "--pool", "solo",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "warning"],
        cwd=Path(dj_settings.BASE_DIR), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deliver_webhook.apply_async((pk,), queue=queue)
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:
            status = in_thread(lambda: WebhookDelivery.objects.filter(pk=pk).values_list("status", flat=True).first())
            if status == "delivered":
                break
            time.sleep(0.5)
        assert status == "delivered", "the worker did not deliver"
        assert len(rcv.requests) == 2
        assert rcv.requests[1][0] - rcv.requests[0][0] >= 1.0  # the retry waited its countdown
        assert all(spec_verify(secret, h, b) for _t, h, b in rcv.requests)
    finally:
        worker.terminate()
        worker.wait(timeout=20)
        in_thread(lambda: WebhookEndpoint.objects.filter(pk=endpoint_pk).delete())
        in_thread(lambda: WebhookMessage.objects.filter(deliveries__isnull=True).delete())
