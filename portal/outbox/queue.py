"""What request code imports: add messages to the caller's transaction, resend, count.

``queue()`` adds one message per recipient to the caller's session; nothing is sent and nothing
is committed there, so the email exists exactly when the change that caused it does.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from email.utils import make_msgid, parseaddr
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from ..extensions import SessionLike
from ..models import OutboxMessage, utcnow

STATUSES = ("queued", "retrying", "sent", "failed")
PENDING = ("queued", "retrying")
# The channel of an email (a webhook event's is webhook.WEBHOOK).
EMAIL = "email"
# How much of last_error is kept: enough for the SMTP answer, not a whole traceback.
ERROR_LIMIT = 1000


def queue(
    session: SessionLike,
    *,
    recipient: str,
    subject: str,
    template: str,
    context: dict[str, Any],
    reply_to: str | None = None,
    reference: str | None = None,
    channel: str = EMAIL,
    webhook_endpoint_id: int | None = None,
    message_id: str | None = None,
) -> OutboxMessage:
    """Add one message to the session (not committed): sent after the caller's commit, or never.

    An email by default; a webhook event names its channel, endpoint and its own id.
    """
    now = utcnow()
    message = OutboxMessage(
        channel=channel,
        webhook_endpoint_id=webhook_endpoint_id,
        message_id=message_id or new_message_id(current_app.config["MAIL_DEFAULT_SENDER"]),
        reference=reference,
        template=template,
        recipient=recipient,
        reply_to=reply_to,
        subject=subject,
        context=context,
        status="queued",
        attempts=0,
        created_at=now,
        queued_at=now,
        next_attempt_at=now,
    )
    session.add(message)
    return message


def new_message_id(sender: str | Sequence[str] | None) -> str:
    """A Message-ID in the sender's own domain, e.g. <1732...@practice.example>."""
    address = parseaddr(sender or "")[1] if sender is None or isinstance(sender, str) else sender[1]
    domain = address.rpartition("@")[2] or "localhost"
    return make_msgid(domain=domain.encode("idna").decode("ascii"))


def resend(session: SessionLike, message: OutboxMessage) -> None:
    """Queue a message again, due now (not committed): for staff who ask for it to be resent.

    A failed or pending message keeps its Message-ID; a message that was already sent gets a
    new one, because mail clients hide a second copy with a Message-ID they have seen.
    """
    now = utcnow()
    if message.status == "sent":
        message.message_id = (
            f"msg_{uuid.uuid4().hex}"  # a webhook-id, as portal.webhooks makes them
            if message.channel == "webhook"
            else new_message_id(current_app.config["MAIL_DEFAULT_SENDER"])
        )
        message.sent_at = None
    if message.status not in PENDING:
        message.status = "queued"
        message.queued_at = now
    message.next_attempt_at = now
    # Retried is dealt with: if it fails again, it is delivery trouble again.
    message.handled_at = None
    message.handled_by = None
    session.add(message)


def status_counts(session: SessionLike) -> dict[str, int]:
    """How many messages are in each status."""
    rows = session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({status: count for status, count in rows})
    return counts


def oldest_pending(session: SessionLike, channel: str | None = None) -> datetime | None:
    """When the oldest message not yet sent or failed (of one channel if given) was queued."""
    oldest = select(func.min(OutboxMessage.queued_at)).where(OutboxMessage.status.in_(PENDING))
    if channel is not None:
        oldest = oldest.where(OutboxMessage.channel == channel)
    return session.scalar(oldest)
