"""The outbox: email written in the caller's transaction and delivered later by a worker.

``queue()`` adds one message per recipient to the caller's session; nothing is sent and nothing
is committed there, so the email exists exactly when the change that caused it does. A worker
(``flask --app portal outbox run``, see ``Worker``) claims due messages under a lease, renders
them from their stored template and context, sends a batch over one SMTP connection (or writes
``.eml`` files when no mail server is set) and records each outcome, fenced on its lease.

Delivery is at least once: a worker killed after the server took a message but before the
outcome was recorded leaves the claim to expire, and the message is sent again with the same
Message-ID, which lets the receiving side recognise it. This module knows nothing about
requests, pages or submissions.
"""

from __future__ import annotations

import logging
import os
import random
import smtplib
import socket
import ssl
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid, parseaddr
from pathlib import Path
from typing import Any, Protocol

from flask import current_app, render_template
from flask_mail import BadHeaderError, Connection, Message
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from .extensions import db
from .models import OutboxMessage, utcnow

log = logging.getLogger(__name__)

STATUSES = ("queued", "retrying", "sent", "failed")
PENDING = ("queued", "retrying")
# How much of last_error is kept: enough for the SMTP answer, not a whole traceback.
ERROR_LIMIT = 1000


# --- Queueing (called inside the caller's transaction) ----------------------------------------


def queue(
    session: Session,
    *,
    recipient: str,
    subject: str,
    template: str,
    context: dict[str, Any],
    reply_to: str | None = None,
    reference: str | None = None,
) -> OutboxMessage:
    """Add one email to the session (not committed): sent after the caller's commit, or never."""
    now = utcnow()
    message = OutboxMessage(
        message_id=new_message_id(current_app.config["MAIL_DEFAULT_SENDER"]),
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
    address = sender[1] if isinstance(sender, list | tuple) else parseaddr(sender or "")[1]
    domain = address.rpartition("@")[2] or "localhost"
    return make_msgid(domain=domain.encode("idna").decode("ascii"))


def resend(session: Session, message: OutboxMessage) -> None:
    """Queue a message again, due now (not committed): for staff who ask for it to be resent.

    A failed or pending message keeps its Message-ID; a message that was already sent gets a
    new one, because mail clients hide a second copy with a Message-ID they have seen.
    """
    now = utcnow()
    if message.status == "sent":
        message.message_id = new_message_id(current_app.config["MAIL_DEFAULT_SENDER"])
        message.sent_at = None
    if message.status not in PENDING:
        message.status = "queued"
        message.queued_at = now
    message.next_attempt_at = now
    session.add(message)


def status_counts(session: Session) -> dict[str, int]:
    """How many messages are in each status."""
    rows = session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({status: count for status, count in rows})
    return counts


def oldest_pending(session: Session) -> datetime | None:
    """When the oldest message not yet sent or failed was queued, if there is one."""
    return session.scalar(
        select(func.min(OutboxMessage.queued_at)).where(OutboxMessage.status.in_(PENDING))
    )


# --- Sending ----------------------------------------------------------------------------------


class VerifiedConnection(Connection):
    """Flask-Mail's SMTP connection with a timeout on every operation and verified TLS.

    Flask-Mail opens ``smtplib.SMTP`` with no timeout (a stalled server hangs the worker for
    ever) and starts TLS without checking the server's certificate.
    """

    def __init__(self, mail: Any, timeout: float) -> None:
        super().__init__(mail)
        self.timeout = timeout

    def configure_host(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        host: smtplib.SMTP
        if self.mail.use_ssl:
            host = smtplib.SMTP_SSL(
                self.mail.server, self.mail.port, timeout=self.timeout, context=context
            )
        else:
            host = smtplib.SMTP(self.mail.server, self.mail.port, timeout=self.timeout)
        try:
            host.set_debuglevel(int(self.mail.debug))
            if self.mail.use_tls:
                host.starttls(context=context)
            if self.mail.username and self.mail.password:
                host.login(self.mail.username, self.mail.password)
        except BaseException:
            host.close()
            raise
        return host


class Transport(Protocol):
    """Where a batch of built messages goes: an SMTP server, or files."""

    def open(self) -> None: ...
    def is_open(self) -> bool: ...
    def send(self, message: Message, row: Claimed) -> None: ...
    def close(self) -> None: ...


class SMTPTransport:
    """One SMTP connection, opened when first needed and reused for the whole batch."""

    def __init__(self, mail: Any, timeout: float) -> None:
        self.connection = VerifiedConnection(mail, timeout)

    def open(self) -> None:
        self.connection.host = self.connection.configure_host()
        self.connection.num_emails = 0

    def is_open(self) -> bool:
        host = self.connection.host
        return host is not None and host.sock is not None

    def send(self, message: Message, row: Claimed) -> None:
        self.connection.send(message)

    def close(self) -> None:
        host, self.connection.host = self.connection.host, None
        if host is None:
            return
        try:
            if host.sock is not None:
                host.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            host.close()


class FileTransport:
    """No mail server configured: each message becomes an .eml file a person can open."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def is_open(self) -> bool:
        return self.folder.is_dir()

    def send(self, message: Message, row: Claimed) -> None:
        name = row.template.rpartition("/")[2]
        stem = f"{row.queued_at:%Y%m%d-%H%M%S}-{row.reference or 'message'}-{name}-{row.id}"
        path = self.folder / f"{stem}.eml"
        # Written aside and renamed, so a crash never leaves half a message; a second delivery
        # of the same message replaces the file.
        partial = self.folder / f".{stem}.{os.getpid()}.tmp"
        # Patient data (an address, with NOTIFY_INCLUDE_DETAILS every field): owner only.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as fh:
            fh.write(message.as_bytes())
        os.replace(partial, path)
        log.info(
            "wrote outbox message %s (%s) to %s",
            row.id,
            row.reference,
            path,
            extra=_fields(row, "sent", file=path.name),
        )

    def close(self) -> None:
        pass


def transport_for_app() -> Transport:
    """SMTP when MAIL_SERVER is set, else .eml files in the instance folder's mail/."""
    mail = current_app.extensions["mail"]
    if not mail.server:
        return FileTransport(Path(current_app.instance_path) / "mail")
    return SMTPTransport(mail, current_app.config["MAIL_TIMEOUT"])


def build(row: Claimed) -> Message:
    """Render a claimed message into a Flask-Mail Message; any failure makes it a poison message."""
    message = Message(
        subject=row.subject,
        recipients=[row.recipient],
        body=render_template(f"{row.template}.txt", **row.context),
        html=render_template(f"{row.template}.html", **row.context),
        reply_to=row.reply_to,
        date=row.queued_at.timestamp(),
    )
    message.msgId = row.message_id
    if message.has_bad_headers():
        raise BadHeaderError("line break in a header")
    return message


# --- Classifying what went wrong ----------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What a failed attempt means for its message."""

    permanent: bool
    summary: str  # safe for logs: codes and error kinds, never an address or any content
    detail: str  # kept on the row for staff: the server's own answer


def classify(error: BaseException) -> Outcome:
    """5xx from the server is permanent; 4xx, refusals, timeouts and disconnects are retried."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        answers = "; ".join(f"{code} {_text(text)}" for code, text in error.recipients.values())
        permanent = bool(codes) and all(code >= 500 for code in codes)
        return Outcome(permanent, f"recipient refused (SMTP {min(codes or [0])})", answers)
    if isinstance(error, smtplib.SMTPResponseException):
        kind = type(error).__name__
        detail = f"{kind}: {error.smtp_code} {_text(error.smtp_error)}"
        return Outcome(error.smtp_code >= 500, f"{kind} (SMTP {error.smtp_code})", detail)
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return Outcome(True, "SMTPNotSupportedError", f"SMTPNotSupportedError: {error}")
    if isinstance(error, smtplib.SMTPException | OSError):
        # Disconnects, timeouts, refused connections and TLS failures: the server, not the
        # message; worth trying again.
        kind = type(error).__name__
        return Outcome(False, kind, f"{kind}: {error}")
    kind = type(error).__name__
    return Outcome(True, kind, f"{kind}: {error}")


def _fields(row: Claimed, status: str, **more: Any) -> dict[str, Any]:
    """Structured fields for the JSON log format: identifiers only, never an address."""
    return {
        "fields": {
            "outbox_message": row.id,
            "reference": row.reference,
            "message_id": row.message_id,
            "status": status,
            "attempt": row.attempts + 1,
            **more,
        }
    }


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# --- The worker ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A claimed message, copied out of the session so that sending holds no transaction open."""

    id: int
    message_id: str
    reference: str | None
    template: str
    recipient: str
    reply_to: str | None
    subject: str
    context: dict[str, Any]
    attempts: int
    queued_at: datetime


class Worker:
    """Claims due messages under a lease and delivers them; use inside an app context.

    Claiming is one UPDATE over a sub-select of due, unclaimed rows (with FOR UPDATE SKIP LOCKED
    on PostgreSQL; SQLite runs the statement under its single write lock), so two workers never
    hold the same message. Every outcome is written only while the lease is still this worker's.
    """

    def __init__(self, name: str | None = None) -> None:
        config = current_app.config
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.batch_size = int(config["OUTBOX_BATCH_SIZE"])
        self.lease = timedelta(seconds=float(config["OUTBOX_LEASE"]))
        self.poll_interval = float(config["OUTBOX_POLL_INTERVAL"])
        self.retry_base = float(config["OUTBOX_RETRY_BASE"])
        self.retry_max = float(config["OUTBOX_RETRY_MAX"])
        self.give_up_after = timedelta(seconds=float(config["OUTBOX_GIVE_UP_AFTER"]))
        self.stop = threading.Event()

    def run(self, once: bool = False) -> int:
        """Deliver until stopped (or, with once, until nothing queued before now is due)."""
        due_by = utcnow() if once else None
        handled = 0
        while not self.stop.is_set():
            try:
                count = self.deliver_batch(due_by)
            except Exception:
                # The database went away or was locked too long: the claims expire on their
                # own, so wait and try again rather than die.
                log.exception("outbox worker %s: batch failed; trying again", self.name)
                db.session.remove()  # a fresh session and connection for the next try
                count = 0
                if once:
                    raise
            handled += count
            if count == 0:
                if once:
                    break
                self.stop.wait(self.poll_interval)
        return handled

    def deliver_batch(self, due_by: datetime | None = None) -> int:
        """Claim up to a batch of due messages and deliver them; returns how many were claimed."""
        rows = self.claim(due_by)
        if not rows:
            return 0
        transport = transport_for_app()
        try:
            self._deliver(rows, transport)
        finally:
            transport.close()
        return len(rows)

    def claim(self, due_by: datetime | None = None) -> list[Claimed]:
        """Take a lease on up to batch_size due messages; returns them, oldest due first."""
        now = utcnow()
        due = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status.in_(PENDING),
                OutboxMessage.next_attempt_at <= (due_by or now),
                or_(OutboxMessage.lease_expires_at.is_(None), OutboxMessage.lease_expires_at < now),
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(self.batch_size)
        )
        if db.session.get_bind().dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        claimed = db.session.scalars(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(due))
            .values(lease_owner=self.name, lease_expires_at=now + self.lease)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        ).all()
        db.session.commit()
        if not claimed:
            return []
        messages = db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.id.in_(claimed), OutboxMessage.lease_owner == self.name)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        ).all()
        rows = [
            Claimed(
                id=m.id,
                message_id=m.message_id,
                reference=m.reference,
                template=m.template,
                recipient=m.recipient,
                reply_to=m.reply_to,
                subject=m.subject,
                context=dict(m.context or {}),
                attempts=m.attempts,
                queued_at=m.queued_at,
            )
            for m in messages
        ]
        db.session.rollback()  # end the read: nothing stays open while the server is talked to
        return rows

    def _deliver(self, rows: list[Claimed], transport: Transport) -> None:
        lease_checked = utcnow()
        lost: set[int] = set()
        for index, row in enumerate(rows):
            remaining = [r for r in rows[index:] if r.id not in lost]
            if self.stop.is_set():
                self._release(remaining)
                return
            if utcnow() - lease_checked > self.lease / 2:
                # A slow server can make a batch outlast its lease: renew it, and leave alone
                # any message another worker has meanwhile taken over.
                kept = self._renew(remaining)
                lease_checked = utcnow()
                lost.update(r.id for r in remaining if r.id not in kept)
                remaining = [r for r in remaining if r.id in kept]
            if row.id in lost:
                continue
            try:
                message = build(row)
            except Exception as error:
                self._fail(row, "message could not be built", error)
                continue
            if not transport.is_open():
                try:
                    transport.open()
                except Exception as error:
                    # Nothing in this batch can go out now: each waits for its next retry.
                    outcome = classify(error)
                    for waiting in remaining:
                        self._record_failure(waiting, outcome)
                    return
            try:
                transport.send(message, row)
            except Exception as error:
                self._record_failure(row, classify(error))
                if not transport.is_open():
                    transport.close()  # the next message reconnects
                continue
            self._finish(row, status="sent", sent_at=utcnow(), last_error=None)
            if not isinstance(transport, FileTransport):
                log.info(
                    "sent outbox message %s (%s)",
                    row.id,
                    row.reference,
                    extra=_fields(row, "sent"),
                )

    def _record_failure(self, row: Claimed, outcome: Outcome) -> None:
        now = utcnow()
        attempts = row.attempts + 1
        deadline = row.queued_at + self.give_up_after
        if outcome.permanent or now >= deadline:
            why = "refused" if outcome.permanent else f"still not accepted after {attempts} tries"
            self._finish(row, status="failed", last_error=outcome.detail[:ERROR_LIMIT])
            log.error(
                "outbox message %s (%s, Message-ID %s) failed, %s: %s",
                row.id,
                row.reference,
                row.message_id,
                why,
                outcome.summary,
                extra=_fields(row, "failed", error=outcome.summary),
            )
            return
        delay = min(self.retry_max, self.retry_base * 2 ** (attempts - 1))
        delay = min(self.retry_max, delay * random.uniform(0.8, 1.2))
        next_attempt = min(now + timedelta(seconds=delay), deadline)
        self._finish(
            row, status="retrying", next_attempt_at=next_attempt, last_error=outcome.detail
        )
        log.warning(
            "outbox message %s (%s) not delivered (attempt %d), retrying in %.0f s: %s",
            row.id,
            row.reference,
            attempts,
            (next_attempt - now).total_seconds(),
            outcome.summary,
            extra=_fields(row, "retrying", error=outcome.summary),
        )

    def _fail(self, row: Claimed, why: str, error: BaseException) -> None:
        detail = f"{why}: {type(error).__name__}: {error}"
        self._finish(row, status="failed", last_error=detail[:ERROR_LIMIT])
        log.error(
            "outbox message %s (%s, Message-ID %s) failed, %s: %s",
            row.id,
            row.reference,
            row.message_id,
            why,
            type(error).__name__,
            extra=_fields(row, "failed", error=type(error).__name__),
        )

    def _finish(self, row: Claimed, **values: Any) -> None:
        """Record an attempt's outcome and release the lease, only if the lease is still ours."""
        if values.get("last_error"):
            values["last_error"] = values["last_error"][:ERROR_LIMIT]
        result = db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id, OutboxMessage.lease_owner == self.name)
            .values(
                attempts=OutboxMessage.attempts + 1,
                lease_owner=None,
                lease_expires_at=None,
                **values,
            )
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        if result.rowcount == 0:
            log.warning(
                "outbox worker %s lost its claim on message %s (%s) before recording it",
                self.name,
                row.id,
                row.reference,
            )

    def _renew(self, rows: Iterable[Claimed]) -> set[int]:
        now = utcnow()
        kept = db.session.scalars(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_([r.id for r in rows]),
                OutboxMessage.lease_owner == self.name,
            )
            .values(lease_expires_at=now + self.lease)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        ).all()
        db.session.commit()
        return set(kept)

    def _release(self, rows: Iterable[Claimed]) -> None:
        db.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_([r.id for r in rows]),
                OutboxMessage.lease_owner == self.name,
            )
            .values(lease_owner=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
