"""Outbound HTTP to agencies' endpoints, never into our own network.

An endpoint's host is resolved and every address must be global (not private,
loopback, link-local, reserved, multicast…) unless settings.GEO_PORTAL_WEBHOOK_ALLOW_PRIVATE
(an intranet deployment, the tests). The check is made when the endpoint is saved and
again at each send, and the connection goes to the very address that was checked (a
DNS answer that changes between check and connect cannot point us inside). Redirects
are not followed.
"""

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def allow_private():
    return bool(settings.GEO_PORTAL_WEBHOOK_ALLOW_PRIVATE)


def _port(parts):
    return parts.port or (443 if parts.scheme == "https" else 80)


def resolve_checked(url):
    """(parts, ip) of the first acceptable address; ValidationError({"url": …}) otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError({"url": [_("Địa chỉ phải bắt đầu bằng http:// hoặc https:// và có tên máy chủ.")]})
    try:
        infos = socket.getaddrinfo(parts.hostname, _port(parts), type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise ValidationError({"url": [_("Không phân giải được tên máy chủ %(host)s.")
                                       % {"host": parts.hostname}]}) from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not allow_private():
        bad = [a for a in addresses if not a.is_global or a.is_multicast]
        if bad:
            raise ValidationError({"url": [
                _("Địa chỉ %(ip)s thuộc mạng nội bộ: không được gửi đến (đặt GEO_PORTAL_WEBHOOK_ALLOW_PRIVATE=1 "
                  "nếu là mạng nội bộ của cơ quan).") % {"ip": bad[0]}]})
    return parts, str(addresses[0])


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a checked address, with the certificate checked for the host name."""

    def __init__(self, host, ip, **kwargs):
        super().__init__(host, context=ssl.create_default_context(), **kwargs)
        self._ip = ip

    def connect(self):
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes


def post(url, body: bytes, headers: dict, timeout=15.0) -> Response:
    parts, ip = resolve_checked(url)
    port = _port(parts)
    if parts.scheme == "https":
        conn = _PinnedHTTPS(parts.hostname, ip, port=port, timeout=timeout)
    else:
        conn = http.client.HTTPConnection(ip, port, timeout=timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    host = parts.hostname if port in (80, 443) else f"{parts.hostname}:{port}"
    try:
        conn.request("POST", path, body=body, headers={"Host": host, **headers})
        resp = conn.getresponse()
        data = resp.read(64 * 1024)
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()
