"""Delivery: queued emails and webhook events, the shared delivery state and the digest claim."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .base import UTCDateTime, utcnow


class OutboxMessage(Model):
    """One email to one recipient, queued in the transaction that caused it and sent later.

    The body is rendered by the worker from ``template`` and ``context`` (JSON), so a message that
    cannot be built fails on its own without stopping the others.
    """

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Kept from queueing through every attempt: a resend after a crash is the same message.
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    # What the message is about (e.g. a submission's reference): safe to log, unlike the address.
    reference: Mapped[str | None] = mapped_column(String(32), index=True)
    template: Mapped[str] = mapped_column(String(100))
    recipient: Mapped[str] = mapped_column(String(254))
    reply_to: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(255))
    context: Mapped[dict] = mapped_column(JSON)

    # queued -> sent | retrying -> ... -> sent | failed
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The give-up clock starts here; a resend restarts it.
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # The worker that claimed the message, and until when the claim holds.
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # A failed message stays "delivery trouble" until staff retry it or mark it handled (for
    # example after phoning the patient): who did that, and when.
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_by: Mapped[str | None] = mapped_column(String(254))

    # "email", or "webhook": an event for one endpoint (template holds the event type, context
    # the thin body, message_id the webhook-id that stays the same across retries).
    channel: Mapped[str] = mapped_column(String(16), default="email", server_default="email")
    webhook_endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_endpoint.id"), index=True
    )

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.status} {self.reference}>"


class DeliveryState(Model):
    """The delivery path's shared memory: one row (id 1) that every worker and web host reads.

    Workers on any number of hosts update it in the same transaction as the outcomes they record,
    so "the last N attempts all failed", "the server is down, back off until T" and "delivery
    trouble started at T" mean the same thing everywhere, and a trouble transition is claimed by
    exactly one process (a conditional UPDATE on ``trouble_since``), which alone logs and alerts.
    """

    __tablename__ = "delivery_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Attempts in a row, across all workers, that did not get a message accepted; 0 after a send.
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    # The server's last answer (or the connection error) and when it came: shown to staff.
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # While the server cannot be reached or refuses every message, no worker opens a batch
    # before this time except one probe connection per backoff step.
    backoff_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    backoff_step: Mapped[int] = mapped_column(default=0)
    # Set when delivery trouble starts, cleared when it ends; the reason is a stable code.
    trouble_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    trouble_reason: Mapped[str | None] = mapped_column(String(40))

    def __repr__(self) -> str:
        return f"<DeliveryState failures={self.consecutive_failures} since={self.trouble_since}>"


class DigestRun(Model):
    """A daily digest sent: one row per practice-local day, so that exactly one worker sends it.

    The primary key is the claim: every worker that finds the digest due inserts today's row in
    the transaction that queues the emails, and all but one get an IntegrityError and queue
    nothing, on any number of hosts.
    """

    __tablename__ = "digest_run"

    day: Mapped[date] = mapped_column(primary_key=True)
    # When it was queued: the next digest counts the requests received since then.
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recipients: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<DigestRun {self.day}>"


# Events a webhook endpoint may receive -> what the admin page says.
WEBHOOK_EVENTS = {
    "submission.created": "A submission arrives",
    "submission.updated": "A submission's status or assignment changes, or a note is added",
    "delivery.failed": "An email or webhook fails for good",
}


class WebhookEndpoint(Model):
    """A URL that receives signed events; its secret signs them (both secrets after a rotation)."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    # Space-separated, from WEBHOOK_EVENTS.
    events: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(default=True)
    # The FHIR Bundle in data.fhir: patient data, so only ever over https.
    include_fhir: Mapped[bool] = mapped_column(default=False)
    # Kept as is (not hashed): the worker needs it to sign. "whsec_" + base64 of 32 bytes.
    secret: Mapped[str] = mapped_column(String(100))
    # After Rotate, the old secret signs too until previous_secret_until.
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Why a disabled endpoint is off, e.g. "410 Gone from the receiver" (shown to admins).
    disabled_reason: Mapped[str | None] = mapped_column(String(200))

    def __repr__(self) -> str:
        return f"<WebhookEndpoint {self.id}>"


class WebhookAttempt(Model):
    """One HTTP attempt to deliver an event: for the endpoint's page (never the body)."""

    __tablename__ = "webhook_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoint.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[str] = mapped_column(String(255))
    event: Mapped[str] = mapped_column(String(40))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The receiver's HTTP status, or None when no answer came (refused, timeout, blocked).
    status_code: Mapped[int | None] = mapped_column()
    duration_ms: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(String(255))
