"""Sending SMS through a pluggable backend chosen by ``settings.SMS_BACKEND``.

- ``ConsoleSmsBackend`` (development, tests): logs the message and appends one JSON
  line per message to ``settings.SMS_OUTBOX_DIR / "outbox.jsonl"``.
- ``HttpSmsBackend`` (production): POSTs JSON to ``settings.SMS_GATEWAY_URL`` with a
  bearer token (``settings.SMS_GATEWAY_TOKEN``); errors are logged and raised as SmsError.
"""

import json
import logging
import threading
from pathlib import Path

import requests
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)
_outbox_lock = threading.Lock()


class SmsError(Exception):
    """The message could not be handed to the gateway."""


class BaseSmsBackend:
    def send(self, to: str, text: str) -> None:
        raise NotImplementedError


class ConsoleSmsBackend(BaseSmsBackend):
    def outbox_path(self) -> Path:
        return Path(settings.SMS_OUTBOX_DIR) / "outbox.jsonl"

    def send(self, to, text):
        log.info("SMS to %s: %s", to, text)
        path = self.outbox_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"to": to, "text": text, "at": timezone.now().isoformat()}, ensure_ascii=False)
        with _outbox_lock, path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")


class HttpSmsBackend(BaseSmsBackend):
    def send(self, to, text):
        url = settings.SMS_GATEWAY_URL
        if not url:
            raise SmsError("SMS_GATEWAY_URL is not set")
        headers = {"Authorization": f"Bearer {settings.SMS_GATEWAY_TOKEN}"}
        try:
            resp = requests.post(url, json={"to": to, "text": text}, headers=headers,
                                 timeout=settings.SMS_GATEWAY_TIMEOUT)
            resp.raise_for_status()
        except requests.RequestException as exc:
            log.error("SMS gateway failed for %s: %s", to, exc)
            raise SmsError(str(exc)) from exc


def get_backend() -> BaseSmsBackend:
    return import_string(settings.SMS_BACKEND)()


def send_sms(to: str, text: str) -> None:
    get_backend().send(to, text)


def read_outbox() -> list[dict]:
    """The console backend's messages, oldest first (for tests and development)."""
    path = Path(settings.SMS_OUTBOX_DIR) / "outbox.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
