"""Production-safe defaults (issue 8, item 4): no start without a secret key, a clean
`check --deploy` with the HTTPS settings from the environment, a Content-Security-Policy
the pages keep (no inline script), private answers never cached, uploaded media served
after an access check, and a clear 503 while the database does not answer."""

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from reports import workflow
from reports.models import Media, Report
from tests.reports.conftest import operator, photo, report_data, user  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = "k" * 20 + "9fQ2-x!Lr7#pZ0w@Vb4nS8&yT1%uE6^jM3*oA5(cH)"


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.NOTIFY_DISPATCH = "none"
    settings.RATELIMIT_ENABLE = False


def manage(*args, env):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def bare_env(**extra):
    """The environment of a production shell: nothing that pytest or a developer set."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "DEBUG", "SECRET_KEY", "SECRET_KEY_FILE",
                                                      "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env["SECRET_KEY_FILE"] = str(ROOT / "var" / "no-such-key-file")
    env.update(extra)
    return env


# --- start-up and check --deploy -------------------------------------------------------


def test_without_secret_key_and_debug_off_the_portal_refuses_to_start():
    proc = manage("check", env=bare_env())
    assert proc.returncode != 0
    assert "ImproperlyConfigured" in proc.stderr and "SECRET_KEY is not set" in proc.stderr


def test_with_a_committed_key_and_debug_off_the_portal_refuses_to_start():
    run = manage("check", env=bare_env(SECRET_KEY="dev-only-insecure-key-change-me-in-production"))
    assert run.returncode != 0 and "committed" in run.stderr


@pytest.mark.parametrize("extra", [{"DEBUG": "1"}, {"SECRET_KEY": STRONG_KEY}])
def test_with_debug_or_a_key_it_starts(extra):
    proc = manage("check", env=bare_env(**extra))
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_schema_commands_run_without_a_key():
    proc = manage("makemigrations", "--check", "--dry-run", env=bare_env())
    assert proc.returncode == 0 and "No changes detected" in proc.stdout, proc.stderr[-2000:]


def test_check_deploy_is_clean_with_the_https_settings_from_the_environment():
    env = bare_env(
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="phananh.example.vn",
        CSRF_TRUSTED_ORIGINS="https://phananh.example.vn",
        SECURE_HSTS_SECONDS="31536000",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="1",
        SECURE_HSTS_PRELOAD="1",
        SECURE_SSL_REDIRECT="1",
        SESSION_COOKIE_SECURE="1",
        CSRF_COOKIE_SECURE="1",
        GEO_PORTAL_BEHIND_HTTPS_PROXY="1",
    )
    proc = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "System check identified no issues" in proc.stdout
    assert not re.search(r"security\.W\d+", proc.stdout + proc.stderr)
    # Without them the same check names what is missing (the test above is not vacuous).
    bare = manage("check", "--deploy", env=bare_env(SECRET_KEY=STRONG_KEY))
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in bare.stdout + bare.stderr


@pytest.mark.django_db
def test_behind_the_https_proxy_a_forwarded_https_request_is_secure_and_plain_http_redirects(settings, client):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    plain = client.get("/phan-anh/")
    assert plain.status_code == 301 and plain["Location"].startswith("https://")
    proxied = client.get("/phan-anh/", HTTP_X_FORWARDED_PROTO="https")
    assert proxied.status_code == 200 and proxied["Strict-Transport-Security"].startswith("max-age=3600")
    # The load balancer's probe stays on plain HTTP.
    assert client.get("/healthz").status_code == 200


# --- Content-Security-Policy and inline scripts ---------------------------------------

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I)

PUBLIC_PAGES = ["/", "/phan-anh/", "/phan-anh/moi/", "/ban-do/", "/tong-quan/", "/xep-hang/", "/api/v1/docs/",
                "/accounts/login/"]
STAFF_PAGES = ["/dieu-hanh/", "/ioc/", "/admin/", "/admin/reports/report/", "/admin/boundaries/area/"]


def _assert_no_inline_script(resp):
    csp = resp["Content-Security-Policy"]
    script_src = next(part for part in csp.split(";") if part.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    html = resp.content.decode()
    assert not INLINE_SCRIPT.findall(html), INLINE_SCRIPT.findall(html)[:3]
    assert not INLINE_HANDLER.findall(html), INLINE_HANDLER.findall(html)[:3]


@pytest.mark.django_db
@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_public_pages_carry_a_csp_and_no_inline_script(client, url):
    resp = client.get(url)
    assert resp.status_code == 200
    _assert_no_inline_script(resp)


@pytest.mark.django_db
@pytest.mark.parametrize("url", STAFF_PAGES)
def test_staff_pages_carry_a_csp_no_inline_script_and_are_never_cached(client, url):
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.filter(is_superuser=True).first() or get_user_model().objects.create_superuser(
        "csp-admin", password="x-secret-123")
    client.force_login(admin)
    resp = client.get(url)
    assert resp.status_code == 200
    _assert_no_inline_script(resp)
    assert set(map(str.strip, resp["Cache-Control"].split(","))) >= {"private", "no-store"}


@pytest.mark.django_db
def test_admin_pages_of_a_report_and_an_area_draw_their_maps_from_data_attributes(client, operator):  # noqa: F811
    from django.contrib.auth import get_user_model

    from boundaries.models import Area

    admin = get_user_model().objects.create_superuser("csp-admin2", password="x-secret-123")
    client.force_login(admin)
    code = APIClient().post("/api/v1/reports", report_data(), format="multipart").json()["properties"]["code"]
    report = Report.objects.get(code=code)
    area = Area.objects.filter(type__code="commune").first()
    for url in (f"/admin/reports/report/{report.pk}/change/", f"/admin/boundaries/area/{area.pk}/change/"):
        resp = client.get(url)
        assert resp.status_code == 200
        _assert_no_inline_script(resp)
        html = resp.content.decode()
        assert 'class="admin-map"' in html and "data-geojson=" in html and "geo_portal/admin-map" in html


# --- Cache-Control on private answers --------------------------------------------------


def _directives(resp):
    return {d.strip() for d in resp.get("Cache-Control", "").split(",") if d.strip()}


@pytest.mark.django_db
def test_answers_for_a_signed_in_user_or_a_token_are_private_no_store(client, operator):  # noqa: F811
    code = APIClient().post("/api/v1/reports", report_data(), format="multipart").json()["properties"]["code"]
    # The desk let it through: its public page is the same for everyone.
    Report.objects.filter(code=code).update(state=Report.State.FORWARDED)
    anonymous = APIClient().get(f"/api/v1/reports/{code}")
    assert anonymous.status_code == 200 and "no-store" not in _directives(anonymous)
    token = Token.objects.create(user=operator)
    by_token = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}").get(f"/api/v1/reports/{code}/private")
    assert by_token.status_code == 200 and _directives(by_token) >= {"private", "no-store"}
    client.force_login(operator)
    for url in ("/dieu-hanh/", f"/api/v1/reports/{code}", "/phan-anh/"):
        resp = client.get(url)
        assert resp.status_code == 200 and _directives(resp) >= {"private", "no-store"}, url


# --- media through an access-checked view ----------------------------------------------


@pytest.mark.django_db
def test_uploaded_photos_answer_200_with_debug_off_and_result_photos_wait_for_publication(settings, client):
    from django.contrib.auth import get_user_model

    assert settings.DEBUG is False
    desk, unit = user("+84900000001"), user("+84900000002")
    code = APIClient().post("/api/v1/reports", {**report_data(), "photos": [photo()]},
                            format="multipart").json()["properties"]["code"]
    report = Report.objects.get(code=code)
    for action, actor, data in [("forward", desk, {}), ("accept", unit, {}), ("start", unit, {}),
                                ("resolve", unit, {"result_text": "Đã thay bóng đèn",
                                                   "photos": [photo(color=(0, 90, 0))]})]:
        report = workflow.transition(report, action, actor, data)
    shot = Media.objects.get(report=report, stage="report")
    result = Media.objects.get(report=report, stage="result")
    public = client.get(shot.file.url)
    assert public.status_code == 200 and public["Content-Type"] == "image/jpeg"
    assert b"".join(public.streaming_content)[:3] == b"\xff\xd8\xff"  # the JPEG itself
    assert client.get(shot.thumbnail.url).status_code == 200 if shot.thumbnail else True
    # The result photo is not public before the desk publishes the result…
    assert client.get(result.file.url).status_code == 404
    from django.test import Client

    staff = Client()
    staff.force_login(desk)
    seen = staff.get(result.file.url)
    assert seen.status_code == 200 and _directives(seen) >= {"private", "no-store"}
    workflow.transition(report, "publish", desk)
    assert client.get(result.file.url).status_code == 200  # …and is afterwards.
    # A file that is no report's public copy (an original, a leftover): staff only.
    leftover = Path(settings.MEDIA_ROOT) / "originals" / "x.jpg"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"\xff\xd8\xff original")
    assert client.get("/media/originals/x.jpg").status_code == 404
    admin = get_user_model().objects.create_superuser("media-admin", password="x-secret-123")
    client.force_login(admin)
    assert client.get("/media/originals/x.jpg").status_code == 200


@pytest.mark.django_db
def test_before_publication_the_reporter_s_link_and_the_staff_s_token_fetch_the_photos(client, operator):  # noqa: F811
    """The API lists the photos of a report its caller may read: each URL must answer
    that caller, with DEBUG off: the staff's API token, and the anonymous reporter's
    receipt link (the URLs it was given carry ?t=); nobody else."""
    created = APIClient().post("/api/v1/reports", {**report_data(), "photos": [photo()]}, format="multipart").json()
    code, token = created["properties"]["code"], created["properties"]["receipt_token"]
    receipt_url = created["properties"]["media"][0]["url"]
    shot = Media.objects.get(report__code=code)
    assert Report.objects.get(code=code).state == "received"  # not public yet
    assert receipt_url.endswith(f"{shot.file.name}?t={token}")
    # the reporter, not signed in: the receipt's own URL, the detail API's and the page's
    detail = APIClient().get(f"/api/v1/reports/{code}", HTTP_X_RECEIPT_TOKEN=token).json()
    page = client.get(f"/phan-anh/{code}/?t={token}").content.decode()
    assert f"{shot.thumbnail.name}?t={token}" in page
    for url in (receipt_url, detail["properties"]["media"][0]["thumbnail_url"]):
        resp = client.get(url.removeprefix("http://testserver"))
        assert resp.status_code == 200 and _directives(resp) >= {"private", "no-store"}, url
    assert client.get(f"{shot.file.url}?t=wrong-token").status_code == 404
    assert client.get(shot.file.url).status_code == 404
    # the desk's app with its token: the URLs without ?t=
    staff_token = Token.objects.create(user=operator).key
    private = APIClient(HTTP_AUTHORIZATION=f"Token {staff_token}").get(f"/api/v1/reports/{code}").json()
    assert "?t=" not in private["properties"]["media"][0]["url"]
    resp = client.get(shot.file.url, HTTP_AUTHORIZATION=f"Token {staff_token}")
    assert resp.status_code == 200 and _directives(resp) >= {"private", "no-store"}
    assert client.get(shot.file.url, HTTP_AUTHORIZATION="Token not-a-token").status_code == 404
    # the unblurred original: never by the receipt link
    assert client.get(f"{shot.original.url}?t={token}").status_code == 404


@pytest.mark.django_db
def test_answers_opened_by_the_receipt_token_are_private_no_store(client):
    created = APIClient().post("/api/v1/reports", report_data(), format="multipart").json()
    code, token = created["properties"]["code"], created["properties"]["receipt_token"]
    for resp in (APIClient().get(f"/api/v1/reports/{code}", HTTP_X_RECEIPT_TOKEN=token),
                 APIClient().get(f"/api/v1/reports/{code}?t={token}"),
                 client.get(f"/phan-anh/{code}/?t={token}"),
                 client.get(f"/phan-anh/{code}/da-gui/?t={token}")):
        assert resp.status_code == 200 and _directives(resp) >= {"private", "no-store"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/media/../settings.py", "/media/%2e%2e/%2e%2e/etc/passwd", "/media/a%00b.jpg",
                                  "/media/reports/none.jpg", "/media//etc/passwd"])
def test_media_paths_outside_or_unknown_are_404(client, path):
    # A NUL byte is refused before any view, naming the path (geo_portal/input_guard.py).
    assert client.get(path).status_code == (400 if "%00" in path else 404)


@pytest.mark.django_db
def test_media_behind_the_front_server_answers_with_x_accel_redirect(settings, client):
    code = APIClient().post("/api/v1/reports", {**report_data(), "photos": [photo()]},
                            format="multipart").json()["properties"]["code"]
    shot = Media.objects.get(report__code=code)
    Report.objects.filter(code=code).update(state=Report.State.FORWARDED)  # public: the desk let it through
    settings.MEDIA_ACCEL_REDIRECT_PREFIX = "/_protected_media/"
    resp = client.get(shot.file.url)
    assert resp.status_code == 200 and resp["X-Accel-Redirect"] == f"/_protected_media/{shot.file.name}"
    assert resp.content == b""


# --- database outage -------------------------------------------------------------------


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # released on close: nothing listens there


@pytest.fixture
def database_down(db):
    """The request's database connection points at a port where nothing listens (a
    refused connection: what a stopped PostgreSQL gives). The test's own connection
    and its transaction stay untouched and are restored afterwards."""
    own = connections["default"]
    broken = connections.create_connection("default")
    broken.settings_dict = {**own.settings_dict, "HOST": "127.0.0.1", "PORT": str(_closed_port()),
                            "OPTIONS": {**own.settings_dict.get("OPTIONS", {}), "connect_timeout": 2}}
    connections["default"] = broken
    try:
        yield
    finally:
        broken.close()
        connections["default"] = own


@pytest.mark.parametrize("url", ["/api/v1/reports", "/api/v1/categories", "/api/v1/stats/",
                                 "/tiles/reports/12/3264/1808.pbf", "/open311/v2/requests.json",
                                 "/ogcapi/collections/reports-22/items"])
def test_during_an_outage_the_api_answers_json_503_with_retry_after(database_down, url):
    resp = APIClient().get(url)
    assert resp.status_code == 503 and int(resp["Retry-After"]) > 0
    assert resp["Content-Type"].startswith("application/json") and resp.json()["code"] == "database_unavailable"


@pytest.mark.parametrize("url", ["/phan-anh/", "/tong-quan/", "/", "/ogcapi/collections/reports-22/items?f=html"])
def test_during_an_outage_pages_answer_a_plain_503_page(database_down, client, url):
    resp = client.get(url)
    assert resp.status_code == 503 and resp["Content-Type"].startswith("text/html")
    body = resp.content.decode()
    assert "Tạm thời gián đoạn" in body and "Traceback" not in body and "DATABASE" not in body


def test_during_an_outage_a_signed_in_visitor_gets_503_not_500(database_down):
    from django.test import Client

    # The session is loaded by a middleware-level access, not only the view.
    visitor = Client(raise_request_exception=False)
    visitor.cookies["sessionid"] = "x" * 32
    resp = visitor.get("/dieu-hanh/")
    assert resp.status_code == 503 and "Retry-After" in resp


def test_healthz_reports_the_outage_and_livez_still_answers(database_down):
    down = APIClient().get("/healthz")
    assert down.status_code == 503 and down.json()["db"] == "unavailable"
    assert APIClient().get("/livez").status_code == 200


@pytest.mark.django_db
def test_healthz_after_the_outage_is_ok_again(client):
    assert client.get("/healthz").json() == {"status": "ok", "db": "ok"}


@pytest.mark.django_db
def test_under_asgi_the_same_headers_and_the_same_503(operator):  # noqa: F811
    """The middlewares run in the server's mode: the ASGI portal answers like the WSGI one."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    anonymous = async_to_sync(AsyncClient().get)("/phan-anh/")
    assert anonymous.status_code == 200 and "script-src 'self'" in anonymous["Content-Security-Policy"]
    assert "no-store" not in _directives(anonymous)
    signed_in = AsyncClient()
    async_to_sync(signed_in.aforce_login)(operator)
    resp = async_to_sync(signed_in.get)("/dieu-hanh/")
    assert resp.status_code == 200 and _directives(resp) >= {"private", "no-store"}


@pytest.mark.parametrize("exc,path,status,ctype", [
    ("OperationalError", "/api/v1/reports", 503, "application/json"),
    ("InterfaceError", "/phan-anh/", 503, "text/html"),
    ("ZeroDivisionError", "/api/v1/reports", 500, "application/json"),
    ("ZeroDivisionError", "/phan-anh/", 500, "text/html"),
])
def test_the_500_handler_turns_an_outage_met_outside_a_view_into_503(rf, exc, path, status, ctype):
    """handler500 (an error in a middleware: the session or user loaded before the view)."""
    import django.db

    from geo_portal import production

    error = getattr(django.db, exc, None) or ZeroDivisionError
    try:
        raise error("connection refused")
    except Exception:
        resp = production.server_error(rf.get(path))
    assert resp.status_code == status and resp["Content-Type"].startswith(ctype)
    assert b"connection refused" not in resp.content and b"Traceback" not in resp.content
    assert ("Retry-After" in resp) == (status == 503)
