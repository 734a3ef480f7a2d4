"""The front desk's day in numbers: new, waiting, overdue, answered, per person.

Shared by the dashboard and the daily digest. Every figure is one aggregate query over indexed
columns; "overdue" is exact without replaying opening hours per row, because waiting time only
grows with age: the instant ``RESPONSE_TARGET_HOURS`` of business time before now splits the New
requests into overdue (received at or before it) and not yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, func, select

from .extensions import SessionLike
from .models import Submission, User
from .practice import Practice
from .response_time import ResponseClock, waiting_clause
from .submissions import NOBODY

# The statuses of a request someone still works on.
OPEN_STATUSES = ("new", "contacted", "scheduled")


@dataclass(frozen=True)
class Day:
    """Today's figures: counts, the oldest waiting request, and open requests per person."""

    new_today: int
    waiting: int
    overdue: int
    answered_today: int
    oldest_reference: str | None
    oldest_seconds: float | None
    # (who, open requests assigned to them), NOBODY last; open: New, Contacted or Scheduled.
    assigned: list[tuple[str, int]]


def day_bounds(day: date, practice: Practice) -> tuple[datetime, datetime]:
    """The practice-local day as UTC instants [start, end)."""
    start = datetime.combine(day, time.min, tzinfo=practice.zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=practice.zone)
    return start, end


def count(session: SessionLike, *clauses: ColumnElement[bool]) -> int:
    """How many submissions match every clause."""
    return int(session.scalar(select(func.count(Submission.id)).where(*clauses)) or 0)


def today(session: SessionLike, practice: Practice, now: datetime, target_hours: float) -> Day:
    """The front desk's figures at ``now``."""
    start, end = day_bounds(now.astimezone(practice.zone).date(), practice)
    # The inbox's own conditions, so the dashboard and the digest count what the inbox lists.
    clock = ResponseClock(practice, target_hours, now)
    waiting = waiting_clause()
    oldest = session.execute(
        select(Submission.reference, Submission.created_at)
        .where(waiting)
        .order_by(Submission.created_at, Submission.id)
        .limit(1)
    ).first()
    return Day(
        new_today=count(session, Submission.created_at >= start, Submission.created_at < end),
        waiting=count(session, waiting),
        overdue=count(session, clock.overdue_clause()),
        answered_today=count(
            session, Submission.first_response_at >= start, Submission.first_response_at < end
        ),
        oldest_reference=oldest.reference if oldest else None,
        oldest_seconds=practice.business_seconds(oldest.created_at, now) if oldest else None,
        assigned=assignment_counts(session),
    )


def assignment_counts(session: SessionLike) -> list[tuple[str, int]]:
    """Open requests per assigned person (by email, most first), then those assigned to nobody.

    Counted per id from the (status, assigned_to_id) index alone; the few emails come after.
    """
    counts: dict[int | None, int] = dict(
        session.execute(
            select(Submission.assigned_to_id, func.count())
            .where(Submission.status.in_(OPEN_STATUSES))
            .group_by(Submission.assigned_to_id)
        ).all()
    )
    nobody = counts.pop(None, 0)
    emails = dict(session.execute(select(User.id, User.email).where(User.id.in_(counts))).all())
    people = sorted(
        ((emails[i], n) for i, n in counts.items() if i is not None), key=lambda r: (-r[1], r[0])
    )
    return [*people, (str(NOBODY), nobody)]
