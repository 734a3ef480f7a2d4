"""Typed SQLAlchemy models: what the portal stores."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, date, datetime

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import JSON, DateTime, ForeignKey, Index, String, Text, TypeDecorator
from sqlalchemy.orm import Mapped, mapped_column, relationship, synonym
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import Model

# Defined with the rest of a submission's vocabulary; importable from here as before.
from .submissions import KINDS
from .submissions import STATUSES as STATUSES

# No 0/O, 1/I/L: a reference is read aloud over the phone.
REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
REFERENCE_LENGTH = 8


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC (a callable default, evaluated per row)."""
    return datetime.now(UTC)


def new_reference(kind: str) -> str:
    """A random reference such as APT-7K4M9QXR: never sequential, so it reveals no volume."""
    body = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
    return f"{KINDS[kind].prefix}-{body}"


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Submission(Model):
    """One patient submission: an appointment request or a contact message."""

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    form: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # The one-time token of the rendered form: a second POST of the same form finds this row.
    form_token: Mapped[str | None] = mapped_column(String(64), unique=True)

    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(100))
    date_of_birth: Mapped[date | None]
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    contact_method: Mapped[str | None] = mapped_column(String(16))
    # A BCP 47 tag ("es", "pt-BR") or "other", the same whatever language the form was in.
    preferred_language: Mapped[str | None] = mapped_column(String(35), index=True)
    interpreter: Mapped[str | None] = mapped_column(String(3))  # "yes", "no" or not answered
    specialty: Mapped[str | None] = mapped_column(String(100))
    physician: Mapped[str | None] = mapped_column(String(100))
    patient_type: Mapped[str | None] = mapped_column(String(16))
    preferred_days: Mapped[str | None] = mapped_column(String(64))
    preferred_time: Mapped[str | None] = mapped_column(String(16))
    insurance: Mapped[str | None] = mapped_column(String(100))
    referring_physician: Mapped[str | None] = mapped_column(String(100))
    topic: Mapped[str | None] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text)

    # The front desk's work on it: who is calling back (None: nobody yet), and the first time it
    # left New, by whom, and how long it had waited in business seconds (kept, so the dashboard
    # sums numbers rather than replaying opening hours over every row).
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), index=True)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    first_response_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    response_seconds: Mapped[int | None]
    assigned_to: Mapped[User | None] = relationship(foreign_keys=[assigned_to_id])
    first_response_by: Mapped[User | None] = relationship(foreign_keys=[first_response_by_id])

    # In code a submission's form is its kind (submissions.KINDS); the column keeps its name.
    kind: Mapped[str] = synonym("form")

    # For the dashboard and the digest over 100,000 rows (benchmarks/dashboard.py): the waiting
    # requests oldest first and the overdue ones are one index range; open requests per person
    # are counted from the index alone; the weeks' figures read only this covering index.
    __table_args__ = (
        Index("ix_submission_status_created_at", "status", "created_at"),
        Index("ix_submission_status_assigned_to_id", "status", "assigned_to_id"),
        Index(
            "ix_submission_dashboard",
            "created_at",
            "form",
            "response_seconds",
            "specialty",
            "topic",
        ),
    )

    @property
    def patient_name(self) -> str:
        """The name as the patient gave it, whichever form they used."""
        if self.kind == "appointment":
            return f"{self.first_name} {self.last_name}"
        return self.name or ""

    def __repr__(self) -> str:
        return f"<Submission {self.reference}>"


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


# --- The staff area: accounts, internal notes and the audit trail -----------------------------

ROLES = ("staff", "admin")


def new_session_token() -> str:
    """A fresh per-user session token: replacing it ends every session that carries the old one."""
    return secrets.token_urlsafe(32)


class User(UserMixin, Model):
    """A staff account: front-desk staff, or an admin who may also export, audit and manage."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="staff")
    active: Mapped[bool] = mapped_column(default=True)
    # Replaced on sign-out, password change and disabling; Flask-Login's session holds it too,
    # so a session (or a copied cookie) with the old token no longer signs anyone in.
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # The TOTP time step of the last code accepted: each code signs in once (claimed with a
    # conditional UPDATE, so two requests carrying the same code cannot both succeed).
    totp_last_step: Mapped[int | None]
    # The secret of an authenticator being set up, encrypted with a key derived from SECRET_KEY
    # (Fernet): it lives here until the first code confirms it, never in the session cookie.
    totp_pending: Mapped[str | None] = mapped_column(Text)
    # A one-time set-up link an admin created: the SHA-256 of its token (the token itself is
    # only ever shown to the admin), and when it stops working.
    setup_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    setup_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses to sign in an inactive user
        return self.active

    @property
    def is_admin(self) -> bool:
        """Admins may export, read the audit trail and manage accounts."""
        return self.role == "admin"

    def get_id(self) -> str:
        """What Flask-Login keeps in the session: the id and the current session token."""
        return f"{self.id}:{self.session_token}"

    def set_password(self, password: str) -> None:
        """Hash with PASSWORD_HASH_METHOD (scrypt) and end every session of this user."""
        method = current_app.config["PASSWORD_HASH_METHOD"]
        self.password_hash = generate_password_hash(password, method=method)
        self.end_sessions()

    def check_password(self, password: str) -> bool:
        """True when the password matches the stored hash."""
        return check_password_hash(self.password_hash, password)

    def end_sessions(self) -> None:
        """Replace the session token: every session signed in as this user ends."""
        self.session_token = new_session_token()

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class Note(Model):
    """An internal note on a submission, written by a member of staff or through the API."""

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), index=True
    )
    # Exactly one of the two is set: the staff account, or the API token that wrote the note.
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    api_token_id: Mapped[int | None] = mapped_column(ForeignKey("api_token.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    text: Mapped[str] = mapped_column(Text)

    author: Mapped[User | None] = relationship(lazy="joined")
    api_token: Mapped[ApiToken | None] = relationship(lazy="joined")

    @property
    def author_label(self) -> str:
        """Who wrote the note, as the submission page shows it."""
        if self.author is not None:
            return self.author.email
        if self.api_token is not None:
            return f"{self.api_token.name} (API token)"
        return "Unknown"


# --- The API for machines: bearer tokens ------------------------------------------------------

API_SCOPES = {
    "submissions:read": "Read submissions (their fields and FHIR)",
    "submissions:write": "Change a submission's status and add notes",
}
# Every token starts with this, so a leaked one is recognisable (secret scanners, logs).
API_TOKEN_PREFIX = "portal_"


class ApiToken(Model):
    """A bearer token for the API: only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Shown in the audit trail as the actor of everything done with the token.
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # The token's first characters, enough for staff to tell tokens apart; not a secret.
    hint: Mapped[str] = mapped_column(String(24))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Space-separated, from API_SCOPES.
    scopes: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_by: Mapped[User | None] = relationship()

    @staticmethod
    def new_secret() -> str:
        """A fresh token: the prefix and 32 random bytes, base64url-encoded."""
        return API_TOKEN_PREFIX + secrets.token_urlsafe(32)

    @staticmethod
    def hash(token: str) -> str:
        """SHA-256 of the token: 32 random bytes need no slow hash to resist guessing."""
        return hashlib.sha256(token.encode()).hexdigest()

    @property
    def scope_set(self) -> frozenset[str]:
        """The token's scopes."""
        return frozenset(self.scopes.split())

    def usable(self, now: datetime) -> bool:
        """Neither revoked nor expired."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} {self.hint}>"


class AuditEvent(Model):
    """One line of the audit trail: who did what, to what, when (UTC) and from where.

    Written in the transaction of the action it records; never updated or deleted by the portal.
    """

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), index=True)
    # The account's email at the time, the email typed at a failed sign-in, or "command line".
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(40), index=True)
    # What it was done to: a submission's reference, an account's email.
    target: Mapped[str | None] = mapped_column(String(254), index=True)
    ip: Mapped[str | None] = mapped_column(String(45), index=True)
    detail: Mapped[dict | None] = mapped_column(JSON)

    def __repr__(self) -> str:
        return f"<AuditEvent {self.id} {self.action}>"


class LoginThrottle(Model):
    """A counter of the sign-in throttle: failures of one key within its current window.

    Keys name what is counted: ``pair:<user id>:<address>`` (one account from one client
    address), ``account:<user id>`` (one account from anywhere), ``address:<address>`` (unknown
    accounts tried from one address) and ``blocked:<address>`` (refused attempts, so that they
    are audited once per window). Each count is one INSERT ... ON CONFLICT DO UPDATE, atomic on
    SQLite and PostgreSQL, made before the password is checked.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    failures: Mapped[int] = mapped_column(default=0)
    # Per account, over its limit: no attempt from an address that already failed before this.
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<LoginThrottle {self.key} {self.failures}>"


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

    @property
    def event_set(self) -> frozenset[str]:
        """The events this endpoint receives."""
        return frozenset(self.events.split())

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
