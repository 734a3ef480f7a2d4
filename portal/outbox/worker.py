"""The delivery worker: claim due messages under a lease, deliver them, record each outcome.

A worker (``flask --app portal outbox run``) claims due messages under a lease, renders them from
their stored template and context, sends a batch over one SMTP connection (or writes ``.eml``
files when no mail server is set) and records each outcome, fenced on its lease.

Delivery is at least once: a worker killed after the server took a message but before the
outcome was recorded leaves the claim to expire, and the message is sent again with the same
Message-ID, which lets the receiving side recognise it.
"""

from __future__ import annotations

import logging
import os
import random
import smtplib
import socket
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import or_, select, update

from ..extensions import db
from ..models import OutboxMessage, utcnow
from . import trouble
from .queue import ERROR_LIMIT, PENDING
from .transport import FileTransport, Transport, _fields, build, transport_for_app

log = logging.getLogger(__name__)


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


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


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
            trouble.maybe_check()  # delivery trouble: log and alert its start and end (throttled)
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
