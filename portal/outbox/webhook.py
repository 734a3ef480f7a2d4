"""Webhooks: one signed HTTP POST per outbox message of channel ``webhook``.

Requests follow the Standard Webhooks specification (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``). Before every attempt the endpoint's host is resolved and every address
checked, and the connection goes to the address that was checked (with the host name kept for
the ``Host`` header and TLS), so a name that resolves elsewhere the second time (DNS rebinding)
cannot reach the practice's own network. Redirects are never followed. Each attempt is recorded
for the endpoint's page; what an answer means is decided by ``policy.webhook_verdict``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import current_app

from .. import audit
from ..extensions import db
from ..models import WebhookAttempt, WebhookEndpoint, utcnow
from .policy import HTTP, Verdict, WebhookRefused, webhook_verdict

if TYPE_CHECKING:
    from .worker import Claimed

log = logging.getLogger(__name__)

WEBHOOK = "webhook"
# What an endpoint's disabled_reason says after its receiver answered 410 Gone (delivery
# trouble until an admin enables or disables it again).
GONE = "The receiver answered 410 Gone"
SECRET_PREFIX = "whsec_"
# Enough of an error for the endpoint's page; never the body.
ERROR_LIMIT = 255


class BlockedURL(ValueError):
    """A webhook URL the settings do not allow: its scheme, or an address it resolves to."""


@dataclass(frozen=True)
class Target:
    """Where one attempt goes: the URL's parts and the checked address to connect to."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def new_secret() -> str:
    """A signing secret: "whsec_" and base64 of 32 random bytes (shown once to the admin)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One Standard Webhooks signature: "v1," and base64 HMAC-SHA256 of "{id}.{ts}.{body}"."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret, and the previous one while its 24 hours after Rotate last."""
    keys = [endpoint.secret]
    until = endpoint.previous_secret_until
    if endpoint.previous_secret and until is not None and until > now:
        keys.append(endpoint.previous_secret)
    return keys


def address_allowed(address: str, allow_private: bool) -> bool:
    """False for loopback, private, link-local, multicast and other non-public addresses."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_multicast or ip.is_unspecified:
        return False  # never a receiver, whatever the settings
    return allow_private or ip.is_global


def check_url(url: str, *, allow_private: bool, allow_http: bool) -> Target:
    """Resolve the URL's host and check every address; the Target to connect to, or BlockedURL."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise BlockedURL("the URL must start with https://")
    if parts.scheme == "http" and not allow_http:
        raise BlockedURL("http:// URLs are not allowed (WEBHOOK_ALLOW_HTTP is off)")
    if parts.username or parts.password:
        raise BlockedURL("the URL must not hold a user name or password")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise BlockedURL(f"the host name does not resolve ({error})") from error
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    # Every address must pass: an attacker's name may resolve to one public and one private.
    refused = [a for a in addresses if not address_allowed(a, allow_private)]
    if refused or not addresses:
        raise BlockedURL(
            "the host resolves to a loopback, private, link-local or multicast address "
            "(WEBHOOK_ALLOW_PRIVATE is off)"
        )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port, path, addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to the checked address, with the host name in the Host header."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the checked address; the certificate is verified against the host name."""

    def __init__(self, target: Target, timeout: float) -> None:
        self.context = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self.context)
        self.address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.context.wrap_socket(sock, server_hostname=self.host)


def _cut(connection: http.client.HTTPConnection) -> None:
    """End an attempt that ran out of time: a shutdown wakes the worker's blocked read."""
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed: the attempt ended on its own


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), if it says any."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def _refused(kind: str, text: str) -> WebhookRefused:
    """A failure decided before any request: nothing was sent, and waiting will not help."""
    return WebhookRefused(Verdict("permanent", False, kind, HTTP, None, text))


# Adds to the stored body at delivery time (the FHIR Bundle for endpoints that opted in), so
# that patient data is never stored in the outbox; registered by the app as outbox.webhook_body.
BodyHook = Callable[[dict[str, Any], WebhookEndpoint], dict[str, Any]]


def send(row: Claimed) -> int:
    """Deliver one webhook message; returns the HTTP status, or raises WebhookRefused."""
    config = current_app.config
    endpoint = db.session.get(WebhookEndpoint, row.endpoint_id)
    if endpoint is None or not endpoint.enabled:
        db.session.rollback()
        raise _refused("EndpointDisabled", "the endpoint is disabled")
    now = utcnow()
    payload = dict(row.context)
    hook: BodyHook | None = current_app.extensions.get("outbox.webhook_body")
    if hook is not None:
        payload = hook(payload, endpoint)
    keys = signing_secrets(endpoint, now)
    url, endpoint_id = endpoint.url, endpoint.id
    db.session.rollback()  # end the read: nothing stays open while the receiver is talked to
    started = time.monotonic()
    try:
        target = check_url(
            url,
            allow_private=bool(config["WEBHOOK_ALLOW_PRIVATE"]),
            allow_http=bool(config["WEBHOOK_ALLOW_HTTP"]),
        )
    except BlockedURL as error:
        _record(endpoint_id, row, None, started, f"blocked: {error}")
        raise _refused("BlockedAddress", str(error)) from error
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "practice-portal-webhooks",
        "webhook-id": row.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, row.message_id, timestamp, body) for s in keys),
    }
    timeout = float(config["WEBHOOK_TIMEOUT"])
    connection = (
        _PinnedHTTPSConnection(target, timeout)
        if target.scheme == "https"
        else _PinnedHTTPConnection(target, timeout)
    )
    # The socket's timeout bounds each read; this bounds the whole attempt, so a receiver that
    # answers one byte at a time cannot hold a worker past WEBHOOK_TIMEOUT.
    deadline = threading.Timer(timeout, _cut, [connection])
    deadline.start()
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        status, reason = response.status, response.reason
        wait = retry_after(response.getheader("Retry-After"), utcnow())
        response.read(65536)  # a little of the answer, so the connection ends cleanly
    except (OSError, http.client.HTTPException) as error:
        failure: BaseException = error
        if time.monotonic() - started >= timeout:  # cut off by the deadline, whatever it raised
            failure = TimeoutError(f"no complete answer within {timeout:g} s")
        kind = type(failure).__name__
        _record(endpoint_id, row, None, started, f"{kind}: {failure}")
        raise WebhookRefused(Verdict("retry", False, kind, HTTP, None, str(failure))) from error
    finally:
        deadline.cancel()
        connection.close()
    gone = status == 410
    _record(endpoint_id, row, status, started, None if 200 <= status < 300 else reason, gone)
    if 200 <= status < 300:
        return status
    raise WebhookRefused(webhook_verdict(status, reason, wait, int(config["WEBHOOK_4XX_ATTEMPTS"])))


def _record(
    endpoint_id: int,
    row: Claimed,
    status: int | None,
    started: float,
    error: str | None,
    gone: bool = False,
) -> None:
    """Write the attempt for the endpoint's page; a 410 also disables the endpoint, audited."""
    db.session.add(
        WebhookAttempt(
            endpoint_id=endpoint_id,
            message_id=row.message_id,
            event=row.template,
            status_code=status,
            duration_ms=int((time.monotonic() - started) * 1000),
            error=error[:ERROR_LIMIT] if error else None,
        )
    )
    if gone:
        endpoint = db.session.get(WebhookEndpoint, endpoint_id)
        if endpoint is not None and endpoint.enabled:
            endpoint.enabled = False
            endpoint.disabled_reason = GONE  # delivery trouble until an admin acts
            audit.record(
                db.session,
                "webhook.disabled",
                actor="delivery worker",
                target=f"webhook {endpoint_id}",
                detail={"status": 410, "automatic": True},
            )
            log.error("webhook endpoint %s answered 410 Gone: disabled", endpoint_id)
    try:
        db.session.commit()
    except Exception:
        # The page loses one line; the outcome itself is recorded by the ledger.
        log.warning("could not record a webhook attempt", exc_info=True)
        db.session.rollback()
