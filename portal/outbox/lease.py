"""Keeping a batch's lease alive while the worker talks to the mail server."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import timedelta

from flask import Flask
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..models import OutboxMessage, utcnow

log = logging.getLogger(__name__)


class LeaseKeeper:
    """Renews the lease on a batch's unfinished messages every third of the lease, in a thread.

    A slow server can make one message outlast any fixed lease; renewing in the background means
    a live worker never loses a claim, while a killed one loses it within ``OUTBOX_LEASE``.
    Messages another worker took over meanwhile are reported as lost and left alone.
    """

    def __init__(self, app: Flask, owner: str, lease: timedelta, ids: Iterable[int]) -> None:
        self.app = app
        self.owner = owner
        self.lease = lease
        self.held = set(ids)
        self.lost: set[int] = set()
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"lease-{owner}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()

    def finished(self, message_id: int) -> None:
        """The message's outcome is recorded: its lease is no longer ours to renew."""
        with self.lock:
            self.held.discard(message_id)

    def is_lost(self, message_id: int) -> bool:
        """True when another worker has taken the message over."""
        with self.lock:
            return message_id in self.lost

    def _run(self) -> None:
        with self.app.app_context():
            try:
                while not self.done.wait(self.lease.total_seconds() / 3):
                    self.renew()
            finally:
                db.session.remove()

    def renew(self) -> None:
        """Push the lease on every message still held one lease ahead."""
        with self.lock:
            ids = set(self.held)
        if not ids:
            return
        try:
            kept = db.session.scalars(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), OutboxMessage.lease_owner == self.owner)
                .values(lease_expires_at=utcnow() + self.lease)
                .returning(OutboxMessage.id)
                .execution_options(synchronize_session=False)
            ).all()
            db.session.commit()
        except SQLAlchemyError:
            # The next renewal tries again; the lease still has two thirds of its time.
            log.warning("outbox worker %s could not renew its lease", self.owner, exc_info=True)
            db.session.rollback()
            return
        with self.lock:
            self.lost.update((ids & self.held) - set(kept))
