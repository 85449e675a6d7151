"""The IOC wall's live stream served for real: the ASGI app (geo_portal/asgi.py) under
uvicorn in a subprocess on the test database. Streams of two staff members who may see
a report receive it once the report is created (committed: the listener hears of it
through PostgreSQL NOTIFY), a staff member of another unit does not, and a stream asked
for a province the viewer does not serve is refused.

The server is another process: it sees only committed rows. What the test writes
(tokens, the report) is written from a thread of its own (its own connection,
autocommit) and deleted there at the end; the loaded boundaries are never flushed.
"""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, connections

from tests.reports.conftest import BAI_CHAY, report_data

OPERATOR, OFFICER_BAI_CHAY, OFFICER_HONG_GAI, LEADER, CITIZEN = (
    "+84900000001", "+84900000002", "+84900000003", "+84900000004", "+84910000001",
)


def committed(fn, *args):
    """Run fn on a thread of its own: its own connection, autocommit — the server sees it."""
    out = {}

    def run():
        try:
            out["value"] = fn(*args)
        except Exception as exc:  # re-raised in the test
            out["error"] = exc
        finally:
            connections.close_all()

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out.get("value")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(database_url):
    """uvicorn serving geo_portal.asgi in a subprocess; yields its URL once it answers."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "NOTIFY_DISPATCH": "none",
        "RATELIMIT_ENABLE": "0",
        "WEB_THREADS": "2",
        "LIVE_HEARTBEAT_S": "0.5",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "geo_portal.asgi:application", "--host", "127.0.0.1", "--port", str(port),
         "--no-access-log", "--log-level", "critical"],
        cwd=Path(settings.BASE_DIR), env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/livez", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("the ASGI server did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@pytest.fixture(scope="module")
def server(django_db_setup):
    db = connection.settings_dict
    yield from _serve(f"postgres://postgres@127.0.0.1:{db['PORT'] or 5432}/{db['NAME']}")


@pytest.fixture(scope="module")
def server_without_database():
    yield from _serve("postgres://postgres@127.0.0.1:1/nowhere")  # nothing listens on port 1


@pytest.fixture(scope="module")
def tokens(django_db_setup, django_db_blocker):
    """API tokens of the test's staff (committed), deleted afterwards."""
    from rest_framework.authtoken.models import Token

    def make():
        users = get_user_model().objects.filter(username__in=[OPERATOR, OFFICER_BAI_CHAY, OFFICER_HONG_GAI, LEADER,
                                                              CITIZEN])
        return {u.username: Token.objects.get_or_create(user=u)[0].key for u in users}

    with django_db_blocker.unblock():
        keys = committed(make)
    yield keys
    with django_db_blocker.unblock():
        committed(lambda: Token.objects.filter(key__in=list(keys.values())).delete())


class Stream(threading.Thread):
    """An open /ioc/events stream; ``text`` grows as the server sends."""

    def __init__(self, url, token, query=""):
        super().__init__(daemon=True)
        self.url, self.token, self.query = url, token, query
        self.text, self.status, self.opened, self.stop = "", None, threading.Event(), threading.Event()

    def run(self):
        headers = {"Authorization": f"Token {self.token}"}
        with httpx.Client(timeout=httpx.Timeout(5, read=None)) as client:
            with client.stream("GET", f"{self.url}/ioc/events?{self.query}", headers=headers) as resp:
                self.status = resp.status_code
                self.opened.set()
                for chunk in resp.iter_text():
                    self.text += chunk
                    if self.stop.is_set():
                        return

    def wait_for(self, needle, timeout):
        end = time.monotonic() + timeout
        while needle not in self.text and time.monotonic() < end:
            time.sleep(0.05)
        return needle in self.text


@pytest.mark.django_db
def test_a_new_report_reaches_every_stream_that_may_see_it(server, tokens, settings):
    from reports.intake import create_report
    from reports.models import Report

    settings.NOTIFY_DISPATCH = "none"
    settings.RATELIMIT_ENABLE = False
    streams = {
        "operator, province 22": Stream(server, tokens[OPERATOR], "province=22"),
        "leader, all his provinces": Stream(server, tokens[LEADER]),
        "officer of another commune": Stream(server, tokens[OFFICER_HONG_GAI], "province=22"),
    }
    for s in streams.values():
        s.start()
    for name, s in streams.items():
        assert s.opened.wait(10) and s.status == 200, name
        assert s.wait_for("retry: 1000", 5), name  # the stream is open and subscribed
    time.sleep(0.5)  # the process's listener is LISTENing (started with the first stream)

    data = report_data(BAI_CHAY, description="Cây đổ chắn ngang đường Hạ Long, cần xử lý gấp.")
    report = committed(lambda: create_report(data))
    try:
        assert report.province_code == "22" and report.authority.code != "ubnd-06685"
        code_line = f'"code": "{report.code}"'
        for name in ("operator, province 22", "leader, all his provinces"):
            s = streams[name]
            assert s.wait_for(code_line, 10), f"{name}: {s.text[-500:]}"
            assert f"id: {report.pk}\nevent: report\ndata: " in s.text
            assert s.wait_for("event: counters", 5), name
            assert s.text.count(code_line) == 1, name  # once
        # a wall that reconnects with the last id it saw gets what it missed, once
        late = Stream(server, tokens[LEADER], f"province=22&last_id={report.pk - 1}")
        streams["reconnected leader"] = late
        late.start()
        assert late.wait_for(code_line, 10), late.text[-500:]
        time.sleep(1.0)
        assert late.text.count(code_line) == 1
        quiet = streams["officer of another commune"].text
        assert report.code not in quiet and "event: report" not in quiet
        assert ": keep-alive" in quiet  # a quiet stream is kept open by comments
    finally:
        for s in streams.values():
            s.stop.set()
        committed(lambda: Report.objects.filter(pk=report.pk).delete())


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "query", "status", "field"),
    [
        (LEADER, "province=46", 403, "province"),  # Quảng Ninh's leader asks for Huế
        (OFFICER_HONG_GAI, "province=96", 403, "province"),
        (CITIZEN, "province=22", 403, "auth"),
        (None, "province=22", 401, "auth"),
        (None, "province=22&max_s=0", 401, "auth"),  # who asks comes first
        (OPERATOR, "province=22&max_s=0", 400, "max_s"),
        (OPERATOR, "province=22&last_id=-1", 400, "last_id"),
        (OPERATOR, "province=22&last_id=99999999999999999999", 400, "last_id"),
        (OPERATOR, "province=2%002", 400, "province"),  # a NUL byte never reaches SQL
    ],
)
def test_a_stream_the_viewer_may_not_open_is_refused(server, tokens, who, query, status, field):
    headers = {"Authorization": f"Token {tokens[who]}"} if who else {}
    resp = httpx.get(f"{server}/ioc/events?{query}", headers=headers, timeout=10)
    assert resp.status_code == status
    assert resp.headers["content-type"] == "application/json"
    assert field in resp.json()["errors"]


@pytest.mark.django_db
def test_a_stream_ends_after_max_s(server, tokens):
    """The browser reconnects by itself (retry: 1000): a stream is bounded in time."""
    t0 = time.monotonic()
    resp = httpx.get(f"{server}/ioc/events?province=22&max_s=1", headers={"Authorization": f"Token {tokens[OPERATOR]}"},
                     timeout=10)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    assert resp.text.startswith("retry: 1000\n\n")
    assert time.monotonic() - t0 < 5


def test_a_stream_while_the_database_is_down_is_a_503_with_retry_after(server_without_database):
    resp = httpx.get(f"{server_without_database}/ioc/events?province=22", headers={"Authorization": "Token abc"},
                     timeout=10)
    assert resp.status_code == 503 and int(resp.headers["retry-after"]) > 0
    assert resp.json()["code"] == "database_unavailable"
