"""What one caller may cost: the one rate-limit service every limit uses.

Two shapes, both counted in the Django cache (Redis in production):

- ``hit(name, ident)`` counts one more use of the named limit by ``ident`` (an IP, a
  phone, a user id) and answers a ``Decision``: allowed while the count in the window is
  at most the limit's count; ``retry_after`` is the seconds left in the window. The
  count is ONE atomic Redis transaction (SET NX EX + INCR + TTL), so N concurrent
  callers never get more than the limit between them (the old "count rows, then
  insert" let 8 concurrent requests send 6 codes where 3 were allowed).
- ``Lockout(name)`` counts failures (wrong passwords, wrong codes): after
  ``failures`` of them within ``window`` the ident is locked for ``base`` seconds; each
  further lock within ``memory`` doubles, up to ``longest``. A success clears the
  failures (not the doubling).

Limits are named; their defaults are in ``LIMITS`` and a deployment may override any
of them with ``settings.RATE_LIMITS = {"photo-hint": "60/10m", …}``.
``RATELIMIT_ENABLE=0`` turns every limit off (benchmarks that send thousands of
requests from one address).

Answers: ``json_429`` (the API) and ``retry_after_header`` (pages add the header to
the page they render with status 429).
"""

import contextlib
import hashlib
import math
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import JsonResponse
from django.utils.translation import gettext as _

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# name → "count/period" (period: 30s, 10m, 1h, 1d; a bare unit means one of it)
LIMITS = {
    "photo-hint": "30/10m",  # per IP: each call decodes a photo
    "otp-send-phone": "3/10m",  # codes per phone
    "otp-send-ip": "10/10m",  # codes per client IP
}


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text):
        if isinstance(text, Rate):
            return text
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d*)\s*([smhd])\w*\s*", str(text))
        if not m:
            raise ValueError(f"rate {text!r}: expected like '20/h' or '3/10m'")
        return cls(int(m.group(1)), int(m.group(2) or 1) * _UNITS[m.group(3)])


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: int = 0
    limit: int = 0
    retry_after: int = 0


ALLOWED = Decision(True)


def enabled():
    return settings.RATELIMIT_ENABLE


def rate_of(name, default=None):
    configured = settings.RATE_LIMITS
    text = configured.get(name) or default or LIMITS.get(name)
    if text is None:
        raise KeyError(f"no rate configured for limit {name!r}")
    return Rate.parse(text)


def _key(kind, name, ident):
    # Hashed: idents are phone numbers and addresses, and may hold any character.
    digest = hashlib.sha256(str(ident).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"rl:{kind}:{name}:{digest}"


def _redis(key):
    """(raw redis client, the cache's full key) when the cache is Redis, else None."""
    backend = getattr(cache, "_cache", None)
    if backend is None or not hasattr(backend, "get_client") or type(cache).__name__ != "RedisCache":
        return None
    return backend.get_client(key, write=True), cache.make_and_validate_key(key)


def _count(key, seconds, delta=1):
    """Add delta to the counter at key (created with a TTL of `seconds`); returns
    (count, seconds left). Atomic on Redis; under the cache's own lock elsewhere."""
    seconds = max(1, int(seconds))
    raw = _redis(key)
    if raw is not None:
        client, full = raw
        pipe = client.pipeline(transaction=True)
        pipe.set(full, 0, ex=seconds, nx=True)
        pipe.incrby(full, delta)
        pipe.ttl(full)
        _created, count, ttl = pipe.execute()
        if ttl is None or ttl < 0:  # never left without an expiry
            client.expire(full, seconds)
            ttl = seconds
        return int(count), int(ttl)
    cache.add(key, 0, timeout=seconds)
    cache.add(key + ":t", time.time() + seconds, timeout=seconds)
    try:
        count = cache.incr(key, delta)
    except ValueError:  # expired between add and incr
        cache.set(key, delta, timeout=seconds)
        cache.set(key + ":t", time.time() + seconds, timeout=seconds)
        count = delta
    ends = cache.get(key + ":t") or time.time() + seconds
    return int(count), max(1, math.ceil(ends - time.time()))


def hit(name, ident, rate=None):
    """Count one use of limit `name` by `ident`; Decision(allowed=False) past the limit."""
    if not enabled():
        return ALLOWED
    rate = rate_of(name, rate)
    count, left = _count(_key("hit", name, ident), rate.seconds)
    return Decision(count <= rate.count, count, rate.count, left if count > rate.count else 0)


def reset(name, ident):
    cache.delete(_key("hit", name, ident))


class Lockout:
    """A growing lockout after repeated failures (see the module's docstring)."""

    def __init__(self, name, failures, window, base, longest, memory=86400):
        self.name, self.failures, self.window = name, failures, window
        self.base, self.longest, self.memory = base, longest, memory

    def _lock_key(self, ident):
        return _key("lock", self.name, ident)

    def check(self, ident):
        """Decision(allowed=False, retry_after=…) while the ident is locked."""
        if not enabled():
            return ALLOWED
        until = cache.get(self._lock_key(ident))
        left = math.ceil(until - time.time()) if until else 0
        return Decision(False, limit=self.failures, retry_after=left) if left > 0 else ALLOWED

    def fail(self, ident):
        """Count a failure; locks (and answers the lock) at the limit."""
        if not enabled():
            return ALLOWED
        count, _left = _count(_key("fail", self.name, ident), self.window)
        if count < self.failures:
            return Decision(True, count, self.failures)
        strikes, _ = _count(_key("strike", self.name, ident), self.memory)
        seconds = min(self.longest, self.base * 2 ** (strikes - 1))
        cache.set(self._lock_key(ident), time.time() + seconds, timeout=seconds)
        cache.delete(_key("fail", self.name, ident))
        return Decision(False, count, self.failures, seconds)

    def clear(self, ident):
        cache.delete(_key("fail", self.name, ident))

    def forget(self, ident):
        """Everything about the ident, the doubling included (an administrator's unlock)."""
        for kind in ("fail", "strike", "lock"):
            cache.delete(_key(kind, self.name, ident))


@contextlib.contextmanager
def one_at_a_time(name, ident, longest=30):
    """True while this caller is the only one holding (name, ident), False when another
    holds it (an atomic SET NX with a TTL: a crashed holder frees it after `longest`
    seconds). Makes a check-then-count (a lockout) atomic per ident: N concurrent wrong
    passwords cannot all pass the check before the first is counted."""
    key = _key("busy", name, ident)
    held = cache.add(key, 1, timeout=longest)
    try:
        yield held
    finally:
        if held:
            cache.delete(key)


def client_ip(request):
    request = getattr(request, "_request", request)  # a DRF Request wraps Django's
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def wait_text(seconds):
    """'3 phút' / '45 giây' / '2 giờ': how long to wait, for the messages."""
    seconds = max(1, int(seconds))
    if seconds < 90:
        return _("%(n)d giây") % {"n": seconds}
    if seconds < 5400:
        return _("%(n)d phút") % {"n": math.ceil(seconds / 60)}
    return _("%(n)d giờ") % {"n": math.ceil(seconds / 3600)}


def too_many_message(seconds):
    return _("Quá nhiều yêu cầu. Vui lòng thử lại sau %(wait)s.") % {"wait": wait_text(seconds)}


def retry_after_header(response, seconds):
    response["Retry-After"] = str(max(1, int(seconds)))
    return response


def json_429(decision, message=None, field=None):
    """The API's answer: 429, Retry-After, {"detail": …} (and {"errors": {field: […]}})."""
    message = message or too_many_message(decision.retry_after)
    body = {"detail": message, "retry_after": max(1, int(decision.retry_after))}
    if field:
        body["errors"] = {field: [message]}
    return retry_after_header(JsonResponse(body, status=429, json_dumps_params={"ensure_ascii": False}),
                              decision.retry_after)
