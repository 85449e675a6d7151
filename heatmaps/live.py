"""The IOC wall's live stream (/ioc/events) served asynchronously.

One listener per process: a PostgreSQL connection LISTENs on reports.live.CHANNEL
(every report event is NOTIFY'd in the transaction that writes it). Each batch of
notifications is turned into the wall's messages once — the new reports' rows in one
query, the counters once per province in view — and handed to every open stream whose
viewer may see it (an asyncio queue per stream). A stream costs a queue and a socket:
no thread, no database poll.

The viewer's reach is computed once when the stream starts (``viewer_reach``): admin
everything; operator and leader their provinces; officer their authorities' reports.
``?province=`` narrows it and is refused (403) for a province the viewer does not
serve. The event format is the one the wall has always read: ``event: report`` with the
report's row and its id as the event id, then ``event: counters``.

``stream_app`` is a plain ASGI app that geo_portal/asgi.py mounts on /ioc/events;
under WSGI (the test live server, runserver) heatmaps.views.ioc_events answers one
batch per request instead and the browser reconnects.
"""

import asyncio
import contextlib
import json
import logging
import re
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from django.utils.translation import gettext as _

log = logging.getLogger(__name__)

DEFAULT_MAX_S, MAX_MAX_S = 300, 3600
CATCH_UP_LIMIT = 50
QUEUE_SIZE = 200  # a viewer this far behind is cut off; its browser reconnects and catches up
BATCH_MIN_INTERVAL_S = 0.25  # counters at most four times a second per process
PROVINCE_CODE = re.compile(r"[A-Za-z0-9_-]{1,20}")


class Refused(Exception):
    def __init__(self, status, errors):
        super().__init__(status)
        self.status, self.errors = status, errors


@dataclass(frozen=True)
class Reach:
    """What one viewer's stream carries: the reports of ``scope`` (the permission
    service's reports.policy.access.Scope: everything, or the viewer's provinces and
    authorities, and the public states); ``province`` narrows to one province."""

    scope: object
    province: str | None = None

    def sees(self, province_code, authority_id, state):
        from reports import policy

        if self.province and province_code != self.province:
            return False
        s = self.scope
        return (s.everything or province_code in s.provinces or authority_id in s.authorities
                or state in policy.PUBLIC)


def viewer_reach(user, province=None):
    """The viewer's reach, or Refused(401/403) — the wall is for staff only; a province
    the viewer does not serve is refused (reports.policy.access.require_province). No
    province: the viewer's own (their first), everything for an admin."""
    from django.core.exceptions import PermissionDenied

    from reports.policy import access

    if not access.can_see_wall(user):
        status = 403 if getattr(user, "is_authenticated", False) else 401
        raise Refused(status,
                      {"auth": _("Màn hình điều hành chỉ dành cho cán bộ: hãy đăng nhập bằng tài khoản cán bộ.")})
    try:
        province = access.wall_province(user, province)
    except PermissionDenied as exc:
        raise Refused(403, {"province": str(exc)}) from exc
    # own=False: the stream is the staff's; a payload names no reporter
    return Reach(access.report_scope(user, own=False), province)


def parse_params(query, headers):
    """max_s, last_id (Last-Event-ID or ?last_id; None: from now on), province."""
    from heatmaps.aggregates import FilterError
    from heatmaps.views import parse_int

    try:
        max_s = parse_int(query, "max_s", DEFAULT_MAX_S, 1, MAX_MAX_S)
    except FilterError as exc:
        raise Refused(400, exc.errors) from exc
    raw = headers.get("last-event-id") or query.get("last_id") or None
    try:
        last_id = int(raw) if raw is not None else None
    except ValueError as exc:
        raise Refused(400, {"last_id": _("Phải là số nguyên.")}) from exc
    if last_id is not None and not 0 <= last_id < 2**62:
        raise Refused(400, {"last_id": _("Phải là số nguyên không âm.")})
    province = query.get("province") or None
    if province is not None and not PROVINCE_CODE.fullmatch(province):
        raise Refused(400, {"province": _("Mã tỉnh không hợp lệ.")})
    return max_s, last_id, province


# --- the per-process hub -------------------------------------------------------


def _sse(event, data, ident=None):
    head = f"id: {ident}\n" if ident is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n".encode()


class Subscriber:
    def __init__(self, reach):
        self.reach = reach
        self.queue = asyncio.Queue(QUEUE_SIZE)
        self.overflowed = False

    def offer(self, chunk):
        try:
            self.queue.put_nowait(chunk)
        except asyncio.QueueFull:
            self.overflowed = True


def _db_call(fn, *args):
    """A Django query from the event loop, on a worker thread with a live connection."""

    def run():
        from django.db import close_old_connections

        close_old_connections()
        return fn(*args)

    return sync_to_async(run, thread_sensitive=False)()


class Hub:
    """One LISTEN connection and the open streams of this process."""

    def __init__(self):
        self.subscribers = set()
        self.tasks = []
        self.inbox = None
        self.listening = None
        self.last_batch = 0.0

    def subscribe(self, reach):
        sub = Subscriber(reach)
        self.subscribers.add(sub)
        if not self.tasks or any(t.done() for t in self.tasks):
            for t in self.tasks:
                t.cancel()
            loop = asyncio.get_running_loop()
            self.inbox, self.listening = asyncio.Queue(), asyncio.Event()
            self.tasks = [loop.create_task(self._listen()), loop.create_task(self._dispatch_forever())]
        return sub

    def unsubscribe(self, sub):
        self.subscribers.discard(sub)

    async def close(self):
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self.tasks = []

    async def _listen(self):
        """LISTEN, reconnecting after a database restart; what was written while the
        connection was down is caught up from the highest id seen."""
        import psycopg

        from reports.live import CHANNEL

        seen_id = None
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(**_conninfo(), autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    if seen_id is not None:
                        for p in await _db_call(_ids_after, seen_id):
                            self.inbox.put_nowait(p)
                    cur = await conn.execute("SELECT coalesce(max(id), 0) FROM reports_report")
                    seen_id = max(seen_id or 0, (await cur.fetchone())[0])
                    self.listening.set()
                    async for note in conn.notifies():
                        try:
                            p = json.loads(note.payload)
                        except ValueError:
                            continue
                        if p.get("action") == "receive" and p.get("id"):
                            seen_id = max(seen_id, p["id"])
                        self.inbox.put_nowait(p)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live: the listener lost its connection; reconnecting")
                self.listening.clear()
                await asyncio.sleep(1.0)

    async def _dispatch_forever(self):
        while True:
            batch = [await self.inbox.get()]
            # at most a few batches a second: what arrives meanwhile goes out together
            wait = self.last_batch + BATCH_MIN_INTERVAL_S - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            while not self.inbox.empty():
                batch.append(self.inbox.get_nowait())
            self.last_batch = time.monotonic()
            try:
                await self._dispatch(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live: a batch of %d events could not be sent", len(batch))

    async def _dispatch(self, payloads):
        from heatmaps import exports, stats

        if not self.subscribers:
            return
        new_ids = sorted({p["id"] for p in payloads if p.get("action") == "receive" and p.get("id")})
        rows = await _db_call(exports.reports_by_id, new_ids) if new_ids else []
        report_chunks = [(r, _sse("report", r, r["id"]), _authority_of(payloads, r["id"])) for r in rows]
        touched = {}  # subscriber -> its report messages
        for sub in list(self.subscribers):
            chunks = [c for r, c, a in report_chunks if sub.reach.sees(r["province_code"], a, r["state"])]
            if chunks or any(sub.reach.sees(p.get("province_code"), p.get("authority_id"),
                                            p.get("state")) for p in payloads):
                touched[sub] = chunks
        counters = {}
        for province in {sub.reach.province for sub in touched}:
            counters[province] = _sse("counters", await _db_call(stats.live_counters, province))
        for sub, chunks in touched.items():
            for chunk in chunks:
                sub.offer(chunk)
            sub.offer(counters[sub.reach.province])


def _authority_of(payloads, report_id):
    return next((p.get("authority_id") for p in payloads if p.get("id") == report_id), None)


def _ids_after(last_id):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT id, province_code, authority_id, state FROM reports_report WHERE id > %s ORDER BY id LIMIT 500",
            [last_id]
        )
        return [{"id": i, "action": "receive", "province_code": p or "", "authority_id": a, "state": st}
                for i, p, a, st in cur.fetchall()]


def _conninfo():
    from django.conf import settings

    db = settings.DATABASES["default"]
    info = {"dbname": db["NAME"], "user": db.get("USER") or None, "password": db.get("PASSWORD") or None,
            "host": db.get("HOST") or None, "port": db.get("PORT") or None}
    return {k: v for k, v in info.items() if v is not None}


_hub = None


def hub():
    global _hub
    if _hub is None:
        _hub = Hub()
    return _hub


# --- the ASGI app -----------------------------------------------------------


def _authorize(scope):
    """In a worker thread: the viewer (session cookie or API token), the language, the
    reach and the stream's parameters — or the refusal."""
    from django.conf import settings
    from django.contrib.auth import get_user
    from django.contrib.auth.models import AnonymousUser
    from django.db import close_old_connections
    from django.utils import translation

    close_old_connections()
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
    cookies = {k: m.value for k, m in SimpleCookie(headers.get("cookie", "")).items()}
    lang = cookies.get(settings.LANGUAGE_COOKIE_NAME)
    translation.activate(lang if lang in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE)
    try:
        user = _user_of(headers, cookies, get_user) or AnonymousUser()
        viewer_reach(user)  # who asks comes first: 401/403 before any 400
        max_s, last_id, province = parse_params(query, headers)
        reach = viewer_reach(user, province)
    except Refused as exc:
        return exc.status, {"errors": exc.errors}
    finally:
        translation.deactivate()
    return 200, {"reach": reach, "max_s": max_s, "last_id": last_id}


def _catch_up(reach, last_id):
    """In a worker thread: the reports missed since Last-Event-ID, and the counters."""
    from django.db import close_old_connections

    from heatmaps import exports, stats

    close_old_connections()
    missed = exports.reports_after(last_id, reach.province, CATCH_UP_LIMIT, scope=reach.scope)
    return missed, (stats.live_counters(reach.province) if missed else None)


def _user_of(headers, cookies, get_user):
    from django.conf import settings
    from django.contrib.sessions.backends.base import SessionBase
    from django.utils.module_loading import import_string

    auth = headers.get("authorization", "")
    if auth.lower().startswith("token "):
        from rest_framework.authtoken.models import Token

        token = Token.objects.select_related("user").filter(key=auth[6:].strip()).first()
        return token.user if token and token.user.is_active else None
    key = cookies.get(settings.SESSION_COOKIE_NAME)
    if not key:
        return None

    class _Request:  # what get_user reads: the session
        session: SessionBase

    request = _Request()
    request.session = import_string(f"{settings.SESSION_ENGINE}.SessionStore")(key)
    user = get_user(request)
    return user if user.is_authenticated else None


async def stream_app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["method"] not in ("GET", "HEAD"):
        await _answer(send, 405, {"errors": {"method": _("Chỉ hỗ trợ GET.")}})
        return
    from geo_portal.production import UNAVAILABLE

    hub_ = hub()
    try:
        status, body = await sync_to_async(_authorize, thread_sensitive=False)(scope)
    except UNAVAILABLE:
        await _unavailable(send)
        return
    if status != 200:
        await _answer(send, status, body)
        return
    reach = body["reach"]
    # listen before reading what was missed: nothing falls between the two
    sub = hub_.subscribe(reach)
    try:
        missed, counters = [], None
        if body["last_id"] is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(hub_.listening.wait(), 5)
            try:
                missed, counters = await sync_to_async(_catch_up, thread_sensitive=False)(reach, body["last_id"])
            except UNAVAILABLE:
                await _unavailable(send)
                return
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache, no-store, private"),
            (b"x-accel-buffering", b"no"),
            *_security_headers(),
        ]})
        sent_id = 0
        first = [b"retry: 1000\n\n"]
        for r in missed:
            sent_id = max(sent_id, r["id"])
            first.append(_sse("report", r, r["id"]))
        if counters is not None:
            first.append(_sse("counters", counters, sent_id))
        await send({"type": "http.response.body", "body": b"".join(first), "more_body": True})
        await _pump(sub, receive, send, body["max_s"], sent_id)
    finally:
        hub_.unsubscribe(sub)
    with contextlib.suppress(Exception):
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _pump(sub, receive, send, max_s, sent_id):
    """Forward the queue to the client until it leaves, the time is up or it falls too
    far behind; a heartbeat comment keeps proxies from closing a quiet stream."""
    from django.conf import settings

    heartbeat = settings.LIVE_HEARTBEAT_S
    gone = asyncio.ensure_future(_until_disconnect(receive))
    deadline = time.monotonic() + max_s
    try:
        while not gone.done() and not sub.overflowed:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            getter = asyncio.ensure_future(sub.queue.get())
            done, _pending = await asyncio.wait({getter, gone}, timeout=min(heartbeat, left),
                                                return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                if not gone.done():
                    await send({"type": "http.response.body", "body": b": keep-alive\n\n", "more_body": True})
                continue
            chunks = [getter.result()]
            while not sub.queue.empty():
                chunks.append(sub.queue.get_nowait())
            # a report already sent from the catch-up is not sent twice
            if sent_id:
                chunks = [c for c in chunks if not _is_report_upto(c, sent_id)]
            if chunks:
                await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": True})
    finally:
        gone.cancel()


def _is_report_upto(chunk, sent_id):
    if not chunk.startswith(b"id: ") or b"\nevent: report\n" not in chunk:
        return False
    return int(chunk[4:chunk.index(b"\n")]) <= sent_id


async def _until_disconnect(receive):
    while (await receive())["type"] != "http.disconnect":
        pass


def _security_headers():
    """What Django's middlewares add to every answer (geo_portal.production)."""
    from django.conf import settings

    headers = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
    csp = settings.CONTENT_SECURITY_POLICY
    if csp:
        headers.append((b"content-security-policy", csp.encode("latin-1")))
    return headers


async def _answer(send, status, body, extra=()):
    data = json.dumps(body, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
        (b"cache-control", b"private, no-store"), *_security_headers(), *extra,
    ]})
    await send({"type": "http.response.body", "body": data})


async def _unavailable(send):
    """The database does not answer: the API's JSON 503 with Retry-After (geo_portal.production)."""
    from django.http import HttpRequest

    from geo_portal.production import unavailable_response

    request = HttpRequest()
    request.path = "/api/ioc/events"  # answered as the API answers
    resp = unavailable_response(request)
    await _answer(send, 503, json.loads(resp.content), [(b"retry-after", resp["Retry-After"].encode())])


async def shutdown():
    """ASGI lifespan shutdown: stop this process's listener."""
    if _hub is not None:
        await _hub.close()
