"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

A secret is ``whsec_`` + base64 of random bytes; the signed content is
``{webhook-id}.{webhook-timestamp}.{body}``; the signature header holds
``v1,`` + base64(HMAC-SHA256(base64-decoded secret, content)), several of them
space-separated while keys rotate."""

import base64
import hashlib
import hmac
import secrets as pysecrets
import time

PREFIX = "whsec_"
TOLERANCE_S = 5 * 60  # a timestamp older or newer than this is refused (replays)


def new_secret(nbytes=32):
    return PREFIX + base64.b64encode(pysecrets.token_bytes(nbytes)).decode()


def _key(secret):
    raw = secret[len(PREFIX):] if secret.startswith(PREFIX) else secret
    return base64.b64decode(raw)


def sign(secret, msg_id, timestamp, body: bytes) -> str:
    content = f"{msg_id}.{int(timestamp)}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), content, hashlib.sha256).digest()).decode()


def signature_header(secrets, msg_id, timestamp, body: bytes) -> str:
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets)


class InvalidSignature(Exception):
    pass


def verify(secrets, msg_id, timestamp, signature_header_value, body: bytes, now=None):
    """Raise InvalidSignature unless one of the header's v1 signatures was made with one
    of ``secrets`` and the timestamp is within the tolerance."""
    if not msg_id or not timestamp or not signature_header_value:
        raise InvalidSignature("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        raise InvalidSignature("bad webhook-timestamp") from None
    now = time.time() if now is None else now
    if abs(now - ts) > TOLERANCE_S:
        raise InvalidSignature("webhook-timestamp outside the tolerance")
    given = [p.split(",", 1)[1] for p in signature_header_value.split() if p.startswith("v1,")]
    for secret in secrets:
        expected = sign(secret, msg_id, ts, body).split(",", 1)[1]
        # as bytes: a header may carry any character, and compare_digest refuses non-ASCII text
        if any(hmac.compare_digest(expected.encode(), g.encode("utf-8", "surrogateescape")) for g in given):
            return
    raise InvalidSignature("no matching signature")
