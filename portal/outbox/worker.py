"""The delivery worker: claim due messages under a lease, deliver them, record each outcome.

A worker (``flask --app portal outbox run``) claims due messages under a lease, renders them from
their stored template and context, sends a batch over one SMTP connection (or writes ``.eml``
files when no mail server is set) and records each outcome, fenced on its lease (``batch.py``).
The lease is renewed in the background while it works (``lease.py``); outcomes are written by
``ledger.py``, and what a refusal means is decided by ``policy.py``. While the server is down,
every worker backs off together (``state.py``): one probe batch per backoff step, not one per
message.

Delivery is at least once: a worker killed after the server took a message but before the
outcome was recorded leaves the claim to expire, and the message is sent again with the same
Message-ID, which lets the receiving side recognise it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import exists, or_, select, update

from ..digest import Ticker
from ..extensions import db
from ..models import OutboxMessage, utcnow
from . import trouble, webhook
from .batch import deliver
from .lease import LeaseKeeper
from .ledger import Ledger
from .policy import RetryPolicy
from .queue import EMAIL, PENDING
from .state import DeliveryStateStore
from .transport import transport_for_app

log = logging.getLogger(__name__)


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
    channel: str = EMAIL
    endpoint_id: int | None = None

    @classmethod
    def of(cls, m: OutboxMessage) -> Claimed:
        """Copy a claimed row's fields out of its session."""
        return cls(
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
            channel=m.channel or EMAIL,
            endpoint_id=m.webhook_endpoint_id,
        )


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
        self.policy = RetryPolicy.from_config(config)
        self.state = DeliveryStateStore(self.policy, self.lease)
        self.state_ready = False
        self.stop = threading.Event()
        self.digest = Ticker()

    def run(self, once: bool = False) -> int:
        """Deliver until stopped (or, with once, until nothing queued before now is due)."""
        # The front desk's daily digest: queued by one worker a day, then delivered like any
        # email (looked at first, so that a run --once delivers a digest that is due).
        self.digest.tick()
        due_by = utcnow() if once else None
        handled = 0
        while not self.stop.is_set():
            self.digest.tick()  # throttled: a read once a minute at most
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
        """Claim up to a batch of due messages and deliver them; returns how many were claimed.

        No email is claimed while the worker-wide backoff holds (the mail server is down);
        webhooks go to receivers of their own, so they are still claimed then.
        """
        if not self.state_ready:
            self.state.ensure()
            self.state_ready = True
        channel = None
        if not self.state.may_deliver(utcnow(), due_by):
            # Looked at before claiming: an outage must not cost SQLite's write lock per poll.
            if not self._webhooks_due(due_by):
                return 0
            channel = webhook.WEBHOOK
        rows = self.claim(due_by, channel)
        if not rows:
            return 0
        transport = transport_for_app()
        ledger = Ledger(self.name, self.policy, self.state, self.lease)
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        try:
            with LeaseKeeper(app, self.name, self.lease, [r.id for r in rows]) as keeper:
                deliver(rows, transport, ledger, keeper, self.policy, self.stop)
        finally:
            transport.close()
        return len(rows)

    def claim(self, due_by: datetime | None = None, channel: str | None = None) -> list[Claimed]:
        """Take a lease on up to batch_size due messages (of one channel if given), oldest first."""
        now = utcnow()
        due = (
            select(OutboxMessage.id)
            .where(*self._due(now, due_by))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(self.batch_size)
        )
        if channel is not None:
            due = due.where(OutboxMessage.channel == channel)
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
        rows = [Claimed.of(m) for m in messages]
        db.session.rollback()  # end the read: nothing stays open while the server is talked to
        return rows

    @staticmethod
    def _due(now: datetime, due_by: datetime | None) -> tuple[Any, ...]:
        """Pending, due by then, and not under another worker's lease."""
        return (
            OutboxMessage.status.in_(PENDING),
            OutboxMessage.next_attempt_at <= (due_by or now),
            or_(OutboxMessage.lease_expires_at.is_(None), OutboxMessage.lease_expires_at < now),
        )

    def _webhooks_due(self, due_by: datetime | None) -> bool:
        """True when a webhook is waiting (read only, so a held-back worker writes nothing)."""
        due = db.session.scalar(
            select(
                exists().where(
                    *self._due(utcnow(), due_by), OutboxMessage.channel == webhook.WEBHOOK
                )
            )
        )
        db.session.rollback()
        return bool(due)
