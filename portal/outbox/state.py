"""The delivery path's shared memory: the one ``delivery_state`` row every worker updates.

Workers write it in the same transaction as the outcomes they record: the failure streak (reset
by any accepted message), the server's last answer, and the worker-wide backoff while the server
is down, during which no worker on any host claims a batch except one probe per backoff step.
The trouble columns (``trouble_since``, ``trouble_reason``) are not written here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, case, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from ..extensions import db
from ..models import DeliveryState, OutboxMessage
from .policy import RetryPolicy, Verdict
from .queue import ERROR_LIMIT, PENDING

STATE_ID = 1


class DeliveryStateStore:
    """Reads and updates the shared delivery_state row (id 1) for one worker."""

    def __init__(self, policy: RetryPolicy, lease: timedelta) -> None:
        self.policy = policy
        self.lease = lease

    def ensure(self) -> None:
        """Create the row if it is missing; safe when several workers start at once."""
        dialect = db.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        db.session.execute(
            insert(DeliveryState)
            .values(id=STATE_ID, consecutive_failures=0, backoff_step=0)
            .on_conflict_do_nothing(index_elements=["id"])
        )
        db.session.commit()

    def may_deliver(self, now: datetime, due_by: datetime | None = None) -> bool:
        """False while the worker-wide backoff holds; when it ends, True for one worker only."""
        until = db.session.scalar(
            select(DeliveryState.backoff_until).where(DeliveryState.id == STATE_ID)
        )
        if until is None:
            db.session.rollback()
            return True
        due = db.session.scalar(
            select(
                exists().where(
                    OutboxMessage.status.in_(PENDING),
                    OutboxMessage.next_attempt_at <= (due_by or now),
                    or_(
                        OutboxMessage.lease_expires_at.is_(None),
                        OutboxMessage.lease_expires_at < now,
                    ),
                )
            )
        )
        if until > now or not due:
            db.session.rollback()
            return False
        # The step is over: the first worker to move the time on sends the probe batch; the
        # others wait for its outcome, or for its lease to end if it dies while probing.
        probe: CursorResult[Any] = db.session.execute(  # type: ignore[assignment]
            update(DeliveryState)
            .where(DeliveryState.id == STATE_ID, DeliveryState.backoff_until <= now)
            .values(backoff_until=now + self.lease)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        return probe.rowcount == 1

    def record(
        self,
        outcomes: Sequence[Verdict | None],
        now: datetime,
        *,
        server_wide: Verdict | None,
        reached_server: bool,
    ) -> None:
        """Add a batch's outcomes, in order (None: accepted), to the row; the caller commits."""
        values: dict[str, Any] = {}
        accepted = [n for n, outcome in enumerate(outcomes) if outcome is None]
        failures = [o for o in outcomes if o is not None]
        streak_failures = [o for o in outcomes[accepted[-1] + 1 :] if o] if accepted else failures
        streak: int | ColumnElement[int]
        if accepted:
            values["last_success_at"] = now
            streak = len(streak_failures)
        else:
            streak = DeliveryState.consecutive_failures + len(streak_failures)
        if any(o.action == "alarm" for o in streak_failures):
            # A configuration error: the alarm goes off now, not after N more attempts.
            floor = self.policy.alarm_after
            streak = (
                max(streak, floor)
                if isinstance(streak, int)
                else case((streak < floor, floor), else_=streak)
            )
        if accepted or streak_failures:
            values["consecutive_failures"] = streak
        if failures:
            values["last_error"] = failures[-1].public_detail[:ERROR_LIMIT]
            values["last_error_at"] = now
        if reached_server and server_wide is None:
            values.update(backoff_until=None, backoff_step=0)
        if server_wide is not None:
            values["backoff_step"] = DeliveryState.backoff_step + 1
        if not values:
            return
        step = db.session.scalar(
            update(DeliveryState)
            .where(DeliveryState.id == STATE_ID)
            .values(**values)
            .returning(DeliveryState.backoff_step)
            .execution_options(synchronize_session=False)
        )
        if server_wide is not None and step is not None:
            db.session.execute(
                update(DeliveryState)
                .where(DeliveryState.id == STATE_ID)
                .values(backoff_until=now + self.policy.delay(step))
                .execution_options(synchronize_session=False)
            )
