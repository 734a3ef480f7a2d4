"""Recording a batch's outcomes: each acceptance at once, the failures together.

A message the server took is recorded straight away, and that write is retried for up to half a
lease, so that a database hiccup right after a send does not send it again. Failures wait and
are written with the next acceptance or at the end of the batch, in one transaction with the
release of the messages not attempted and the shared delivery state, so that an outage does not
take SQLite's single write lock away from patients once per message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import CursorResult, update
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..models import OutboxMessage, utcnow
from .policy import DATA, RCPT, RetryPolicy, Verdict
from .queue import ERROR_LIMIT
from .state import DeliveryStateStore
from .transport import _fields
from .webhook import WEBHOOK

if TYPE_CHECKING:
    from .worker import Claimed

log = logging.getLogger("portal.outbox.worker")


class Ledger:
    """One batch's bookkeeping for one worker, fenced on that worker's lease."""

    def __init__(
        self, owner: str, policy: RetryPolicy, state: DeliveryStateStore, lease: timedelta
    ) -> None:
        self.owner = owner
        self.policy = policy
        self.state = state
        self.patience = lease.total_seconds() / 2
        self.pending: list[tuple[Claimed, Verdict]] = []
        self.reached_server = False
        # After an acceptance the shared state says "no failures, no backoff": further
        # acceptances in a row only move last_success_at, which waits for the next write.
        self.state_clean = False
        self.unrecorded_success = False
        self.sleep: Callable[[float], None] = time.sleep

    def failed(self, row: Claimed, verdict: Verdict) -> None:
        """Note a failed attempt; written with the next acceptance or at the end of the batch."""
        self.pending.append((row, verdict))
        self.reached_server |= verdict.stage in (RCPT, DATA) and not verdict.server_wide

    def sent(self, row: Claimed) -> None:
        """Record an accepted message now (with the failures before it), retrying the write."""
        # A receiver that took a webhook says nothing about the mail server.
        self.reached_server |= row.channel != WEBHOOK
        self._write(sent=row, release=(), server_wide=None)

    def close(self, release: Sequence[Claimed] = (), server_wide: Verdict | None = None) -> None:
        """Write the remaining failures and give the messages not attempted back at once."""
        if self.pending or release or server_wide is not None or self.unrecorded_success:
            self._write(sent=None, release=release, server_wide=server_wide)

    def _write(
        self, *, sent: Claimed | None, release: Sequence[Claimed], server_wide: Verdict | None
    ) -> None:
        give_up = time.monotonic() + self.patience
        pause = 0.05
        while True:
            try:
                now = utcnow()
                lost = self._transaction(now, sent, release, server_wide)
                break
            except SQLAlchemyError:
                try:
                    db.session.rollback()  # a broken connection is replaced on the next try
                except SQLAlchemyError:
                    db.session.remove()
                if time.monotonic() + pause > give_up:
                    raise
                log.warning(
                    "outbox worker %s could not record an outcome; retrying in %.2f s",
                    self.owner,
                    pause,
                    exc_info=True,
                )
                self.sleep(pause)
                pause = min(pause * 2, 2.0)
        for row, verdict in self.pending:
            if row.id in lost:
                _log_lost(self.owner, row)
            else:
                _log_failure(row, verdict, self._failure_values(row, verdict, now)["status"])
        self.pending = []
        if sent is not None and sent.id in lost:
            _log_lost(self.owner, sent)

    def _transaction(
        self,
        now: datetime,
        sent: Claimed | None,
        release: Sequence[Claimed],
        server_wide: Verdict | None,
    ) -> set[int]:
        lost: set[int] = set()
        for row, verdict in self.pending:
            values = self._failure_values(row, verdict, now)
            if not self._finish(row, **values):
                lost.add(row.id)
            elif values["status"] == "failed":
                on_failed(row.id)
        if sent is not None and not self._finish(sent, status="sent", sent_at=now, last_error=None):
            lost.add(sent.id)
        if release:
            db.session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id.in_([r.id for r in release]),
                    OutboxMessage.lease_owner == self.owner,
                )
                .values(lease_owner=None, lease_expires_at=None)
                .execution_options(synchronize_session=False)
            )
        # The shared streak and backoff are the mail server's: a webhook's answers neither
        # add to nor end them (trouble.py reads a failing receiver from its own events).
        email_failures = [verdict for row, verdict in self.pending if row.channel != WEBHOOK]
        outcomes: list[Verdict | None] = [None] if self.unrecorded_success else []
        outcomes += email_failures
        email_sent = sent is not None and sent.channel != WEBHOOK
        skip_state = email_sent and not email_failures and self.state_clean
        if email_sent:
            outcomes.append(None)
        if not skip_state:
            self.state.record(
                outcomes, now, server_wide=server_wide, reached_server=self.reached_server
            )
        db.session.commit()
        self.unrecorded_success = skip_state
        self.state_clean = email_sent
        return lost

    def _failure_values(self, row: Claimed, verdict: Verdict, now: datetime) -> dict[str, Any]:
        attempts = row.attempts + 1
        exhausted = verdict.max_attempts is not None and attempts >= verdict.max_attempts
        next_attempt = (
            None
            if verdict.permanent or exhausted
            else self.policy.next_attempt(row.queued_at, attempts, now)
        )
        if next_attempt is not None and verdict.retry_after:
            # The receiver said when to come back (Retry-After): no sooner, but not past the
            # give-up deadline either.
            later = now + timedelta(seconds=verdict.retry_after)
            next_attempt = min(max(next_attempt, later), self.policy.deadline(row.queued_at))
        if next_attempt is None:
            return {"status": "failed", "last_error": verdict.detail[:ERROR_LIMIT]}
        return {
            "status": "retrying",
            "next_attempt_at": next_attempt,
            "last_error": verdict.detail[:ERROR_LIMIT],
        }

    def _finish(self, row: Claimed, **values: Any) -> bool:
        """Record one attempt and release its lease, only while the lease is still ours."""
        result: CursorResult[Any] = db.session.execute(  # type: ignore[assignment]
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id, OutboxMessage.lease_owner == self.owner)
            .values(
                attempts=OutboxMessage.attempts + 1,
                lease_owner=None,
                lease_expires_at=None,
                **values,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)


def on_failed(message_id: int) -> None:
    """Tell the app a message failed for good, in the transaction that records it.

    The app registers ``outbox.on_failed`` (the ``delivery.failed`` webhook event); the outbox
    itself knows nothing about what a message is about.
    """
    hook = current_app.extensions.get("outbox.on_failed")
    if hook is not None:
        hook(db.session, message_id)


def _log_lost(owner: str, row: Claimed) -> None:
    log.warning(
        "outbox worker %s lost its claim on message %s (%s) before recording it",
        owner,
        row.id,
        row.reference,
    )


def _log_failure(row: Claimed, verdict: Verdict, status: str) -> None:
    attempts = row.attempts + 1
    if status == "failed":
        why = "refused" if verdict.permanent else f"still not accepted after {attempts} tries"
        log.error(
            "outbox message %s (%s, Message-ID %s) failed, %s: %s",
            row.id,
            row.reference,
            row.message_id,
            why,
            verdict.summary,
            extra=_fields(row, "failed", error=verdict.summary),
        )
        return
    log.warning(
        "outbox message %s (%s) not delivered (attempt %d), retrying: %s",
        row.id,
        row.reference,
        attempts,
        verdict.summary,
        extra=_fields(row, "retrying", error=verdict.summary),
    )
