"""What a failed attempt means, and when to try again: testable without a server.

A message fails for good only when the mail server refuses *that recipient* (a 5xx answer to
``RCPT TO``, judged by its enhanced status code where the server gives one) or when it cannot be
built. Every other refusal (4xx anywhere; 5xx to the greeting, ``EHLO``, ``STARTTLS``, ``AUTH``,
``MAIL FROM`` or ``DATA``; timeouts, disconnects, refused connections, TLS errors) is the server's
or the connection's problem and is retried until the give-up deadline. Authentication and
certificate failures are retried too, but raise the alarm at once: a person must fix them.
"""

from __future__ import annotations

import random
import re
import smtplib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

# Where in the SMTP conversation an attempt was refused (or "build": before any of it).
BUILD = "build"
CONNECT = "connect"
GREETING = "greeting"
EHLO = "ehlo"
STARTTLS = "starttls"
AUTH = "auth"
MAIL = "mail"
RCPT = "rcpt"
DATA = "data"
# A webhook's HTTP request (policy for its answers: webhook_verdict below).
HTTP = "http"
# A refusal at these stages concerns every message, not the one being sent.
SERVER_WIDE_STAGES = frozenset({CONNECT, GREETING, EHLO, STARTTLS, AUTH, MAIL})

Action = Literal["retry", "permanent", "alarm"]

ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>@]+>?")


class DeliveryError(Exception):
    """An attempt that failed at a known stage of the SMTP conversation."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(f"{stage}: {type(error).__name__}: {error}")
        self.stage = stage
        self.error = error


@dataclass(frozen=True)
class Verdict:
    """What a failed attempt means: for its message, for the batch and for the alarm."""

    action: Action
    server_wide: bool  # the rest of the batch would fail the same way: stop and back off
    kind: str  # the error's class name, e.g. SMTPSenderRefused
    stage: str
    code: int | None
    text: str  # the server's answer, or the error's message
    # Webhooks: the receiver's Retry-After in seconds (the next try is no sooner), and the
    # attempts after which this kind of refusal fails for good (None: until the deadline).
    retry_after: float | None = None
    max_attempts: int | None = None

    @property
    def permanent(self) -> bool:
        """True when the message fails now, without another attempt."""
        return self.action == "permanent"

    @property
    def summary(self) -> str:
        """Safe for logs: the kind of error, the stage and the code, never an address."""
        protocol = "HTTP" if self.stage == HTTP else "SMTP"
        code = f" ({protocol} {self.code})" if self.code else ""
        return f"{self.kind} at {self.stage}{code}"

    @property
    def detail(self) -> str:
        """The answer kept for staff: "<ErrorKind>: <code> <text>"."""
        code = f"{self.code} " if self.code else ""
        return f"{self.kind}: {code}{self.text}".strip()

    @property
    def public_detail(self) -> str:
        """The detail with every email address blanked out, for shared state and alerts."""
        return ADDRESS.sub("<address>", self.detail)


def enhanced_status(text: str) -> tuple[int, int, int] | None:
    """The enhanced status code (RFC 3463) at the start of an SMTP answer's text, if any."""
    match = ENHANCED.match(text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def refuses_recipient(code: int, text: str) -> bool:
    """A 5xx answer to RCPT TO that is about this recipient: bad address, mailbox, policy."""
    if code < 500:
        return False
    enhanced = enhanced_status(text)
    if enhanced is None:
        return True
    klass, subject, detail = enhanced
    return klass == 5 and (subject in (1, 2) or (subject, detail) == (7, 1))


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def classify(error: BaseException, stage: str = DATA) -> Verdict:
    """Decide what a failed attempt at ``stage`` means (see the module's docstring)."""
    if isinstance(error, DeliveryError):
        return classify(error.error, error.stage)
    if isinstance(error, WebhookRefused):
        return error.verdict
    kind = type(error).__name__
    if stage == BUILD:
        return Verdict("permanent", False, kind, stage, None, str(error))
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        answers = list(error.recipients.values()) or [(0, b"")]
        code = min(code for code, _ in answers)
        text = "; ".join(_text(answer) for _, answer in answers)
        refused = all(refuses_recipient(c, _text(t)) for c, t in answers)
        action: Action = "permanent" if stage == RCPT and refused else "retry"
        return Verdict(action, code == 421, kind, stage, code, text)
    if isinstance(error, smtplib.SMTPResponseException):
        code, text = error.smtp_code, _text(error.smtp_error)
        alarm = isinstance(error, smtplib.SMTPAuthenticationError) or (
            stage == AUTH and code == 535
        )
        server_wide = stage in SERVER_WIDE_STAGES or code == 421
        return Verdict("alarm" if alarm else "retry", server_wide, kind, stage, code, text)
    if isinstance(error, ssl.SSLCertVerificationError | smtplib.SMTPNotSupportedError):
        # A certificate that does not verify, or STARTTLS/AUTH the server does not offer: the
        # configuration is wrong on one side or the other, and waiting will not fix it.
        return Verdict("alarm", True, kind, stage, None, str(error))
    # Timeouts, disconnects, refused connections, other TLS errors: the connection is gone.
    return Verdict("retry", True, kind, stage, None, str(error))


class WebhookRefused(Exception):
    """A webhook attempt that did not succeed, with what it means already decided."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.detail)
        self.verdict = verdict


def webhook_verdict(
    status: int, reason: str, retry_after: float | None, four_xx_attempts: int
) -> Verdict:
    """What a receiver's non-2xx answer means: 410 gone, 429/5xx retried, other 4xx a few times.

    A 410 fails at once and raises the alarm (the endpoint is disabled: a person must look);
    nothing webhook-related is server-wide, so email never backs off because a receiver is down.
    """
    kind = f"HTTP{status}"
    if status == 410:
        return Verdict("alarm", False, kind, HTTP, status, reason, max_attempts=1)
    if status == 429 or status >= 500:
        return Verdict("retry", False, kind, HTTP, status, reason, retry_after=retry_after)
    if 400 <= status < 500:
        return Verdict("retry", False, kind, HTTP, status, reason, max_attempts=four_xx_attempts)
    # 1xx/3xx: a redirect is not followed (it could lead anywhere), so it counts as a refusal.
    return Verdict("retry", False, kind, HTTP, status, reason, max_attempts=four_xx_attempts)


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff with jitter, a give-up deadline and the alarm threshold, from the settings."""

    base: float  # seconds before the first retry
    ceiling: float  # the longest wait
    give_up_after: timedelta  # from queueing, after which a message not accepted fails
    alarm_after: int = 5  # failed attempts in a row that mean trouble
    jitter: float = 0.2  # +/- this fraction, so that workers and messages spread out

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RetryPolicy:
        """The policy the settings describe (OUTBOX_RETRY_*, OUTBOX_GIVE_UP_AFTER, ...)."""
        return cls(
            base=float(config["OUTBOX_RETRY_BASE"]),
            ceiling=float(config["OUTBOX_RETRY_MAX"]),
            give_up_after=timedelta(seconds=float(config["OUTBOX_GIVE_UP_AFTER"])),
            alarm_after=int(config["DELIVERY_ALARM_AFTER"]),
        )

    def delay(
        self, failures: int, uniform: Callable[[float, float], float] = random.uniform
    ) -> timedelta:
        """The wait after the given number of failures in a row (1 for the first)."""
        seconds = min(self.ceiling, self.base * 2 ** max(failures - 1, 0))
        seconds *= uniform(1 - self.jitter, 1 + self.jitter)
        return timedelta(seconds=min(self.ceiling, seconds))

    def deadline(self, queued_at: datetime) -> datetime:
        """When a message queued at queued_at stops being retried."""
        return queued_at + self.give_up_after

    def next_attempt(self, queued_at: datetime, failures: int, now: datetime) -> datetime | None:
        """When to try a message again after its failures-th failure; None: give up now."""
        deadline = self.deadline(queued_at)
        if now >= deadline:
            return None
        return min(now + self.delay(failures), deadline)
