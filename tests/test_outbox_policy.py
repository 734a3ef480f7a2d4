"""The retry policy without a server: what each refusal means, and when to try again."""

from __future__ import annotations

import smtplib
import ssl
from datetime import UTC, datetime, timedelta

import pytest
from jinja2 import TemplateNotFound

from portal.outbox import DeliveryError, RetryPolicy, classify
from portal.outbox import policy as p

POLICY = RetryPolicy(base=60, ceiling=1800, give_up_after=timedelta(hours=24), alarm_after=5)
QUEUED = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def refused(code: int, text: str) -> smtplib.SMTPRecipientsRefused:
    return smtplib.SMTPRecipientsRefused({"someone@example.com": (code, text.encode())})


@pytest.mark.parametrize(
    ("error", "stage", "action", "server_wide"),
    [
        # Permanent for that message only: the server refuses that recipient.
        (refused(550, "5.1.1 No such user"), p.RCPT, "permanent", False),
        (refused(550, "5.2.1 Mailbox disabled"), p.RCPT, "permanent", False),
        (refused(550, "5.7.1 Recipient rejected by policy"), p.RCPT, "permanent", False),
        (refused(550, "Mailbox unavailable"), p.RCPT, "permanent", False),
        (TemplateNotFound("email/nothing.txt"), p.BUILD, "permanent", False),
        # A 5xx to RCPT whose enhanced code is about the server, not the recipient: retried.
        (refused(550, "5.4.1 Relay access denied"), p.RCPT, "retry", False),
        (refused(554, "5.3.0 Mail system full"), p.RCPT, "retry", False),
        (refused(550, "4.2.2 Mailbox full"), p.RCPT, "retry", False),
        (refused(451, "4.7.1 Greylisted, try again later"), p.RCPT, "retry", False),
        (refused(421, "4.3.2 Shutting down"), p.RCPT, "retry", True),
        # 5xx anywhere else is the server's problem: retried, and the batch stops.
        (smtplib.SMTPConnectError(554, b"5.3.2 Maintenance"), p.GREETING, "retry", True),
        (smtplib.SMTPHeloError(501, b"5.5.4 Bad EHLO"), p.EHLO, "retry", True),
        (smtplib.SMTPResponseException(454, b"4.7.0 TLS unavailable"), p.STARTTLS, "retry", True),
        (smtplib.SMTPSenderRefused(550, b"5.7.1 Relay denied", "x@y"), p.MAIL, "retry", True),
        (smtplib.SMTPSenderRefused(451, b"4.3.0 Try later", "x@y"), p.MAIL, "retry", True),
        (smtplib.SMTPDataError(554, b"5.6.0 Message rejected"), p.DATA, "retry", False),
        (smtplib.SMTPDataError(452, b"4.3.1 Insufficient storage"), p.DATA, "retry", False),
        (smtplib.SMTPDataError(421, b"4.3.2 Closing"), p.DATA, "retry", True),
        # The connection itself.
        (ConnectionRefusedError(111, "Connection refused"), p.CONNECT, "retry", True),
        (TimeoutError("timed out"), p.DATA, "retry", True),
        (smtplib.SMTPServerDisconnected("Connection closed"), p.MAIL, "retry", True),
        (ssl.SSLError("wrong version number"), p.STARTTLS, "retry", True),
        # Configuration errors: retried, and the alarm goes off at once.
        (smtplib.SMTPAuthenticationError(535, b"5.7.8 Bad credentials"), p.AUTH, "alarm", True),
        (ssl.SSLCertVerificationError("certificate verify failed"), p.STARTTLS, "alarm", True),
        (smtplib.SMTPNotSupportedError("STARTTLS not offered"), p.STARTTLS, "alarm", True),
    ],
)
def test_only_a_refused_recipient_or_a_broken_message_fails_for_good(
    error: BaseException, stage: str, action: str, server_wide: bool
) -> None:
    verdict = classify(DeliveryError(stage, error))
    assert (verdict.action, verdict.server_wide) == (action, server_wide)
    assert verdict.stage == stage
    assert classify(error, stage) == verdict


def test_verdict_keeps_the_answer_for_staff_and_blanks_addresses_for_shared_state() -> None:
    error = smtplib.SMTPRecipientsRefused(
        {"desk@practice.example": (550, b"5.1.1 <desk@practice.example>: mailbox unavailable")}
    )
    verdict = classify(error, p.RCPT)
    assert verdict.detail == (
        "SMTPRecipientsRefused: 550 5.1.1 <desk@practice.example>: mailbox unavailable"
    )
    assert (
        verdict.public_detail == "SMTPRecipientsRefused: 550 5.1.1 <address>: mailbox unavailable"
    )
    assert verdict.summary == "SMTPRecipientsRefused at rcpt (SMTP 550)"
    assert "@" not in verdict.summary


def test_backoff_doubles_from_the_base_up_to_the_ceiling_with_jitter() -> None:
    low, high = (lambda a, b: a), (lambda a, b: b)
    assert POLICY.delay(1, low) == timedelta(seconds=48)
    assert POLICY.delay(1, high) == timedelta(seconds=72)
    assert POLICY.delay(2, low) == timedelta(seconds=96)
    assert POLICY.delay(4, high) == timedelta(seconds=576)
    # The ceiling holds after the jitter too.
    assert POLICY.delay(10, high) == timedelta(seconds=1800)
    assert POLICY.delay(10, low) == timedelta(seconds=1440)
    spread = {POLICY.delay(3) for _ in range(50)}
    assert len(spread) > 1 and all(192 <= d.total_seconds() <= 288 for d in spread)


def test_retries_stop_at_the_give_up_deadline() -> None:
    now = QUEUED + timedelta(hours=23, minutes=59)
    # The last retry is at the deadline itself, never after it.
    assert POLICY.next_attempt(QUEUED, 9, now) == QUEUED + timedelta(hours=24)
    assert POLICY.next_attempt(QUEUED, 1, QUEUED) is not None
    assert POLICY.next_attempt(QUEUED, 10, QUEUED + timedelta(hours=24)) is None


def test_policy_is_read_from_the_settings() -> None:
    config = {
        "OUTBOX_RETRY_BASE": "5",
        "OUTBOX_RETRY_MAX": 50,
        "OUTBOX_GIVE_UP_AFTER": 600,
        "DELIVERY_ALARM_AFTER": 3,
    }
    assert RetryPolicy.from_config(config) == RetryPolicy(
        base=5, ceiling=50, give_up_after=timedelta(minutes=10), alarm_after=3
    )
