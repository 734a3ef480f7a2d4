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


def overdue_since(practice: Practice, now: datetime, target_hours: float) -> datetime | None:
    """New requests received at or before this instant have waited the target (None: none has)."""
    return practice.business_start(now, target_hours * 3600)


def count(session: SessionLike, *clauses: ColumnElement[bool]) -> int:
    """How many submissions match every clause."""
    return int(session.scalar(select(func.count(Submission.id)).where(*clauses)) or 0)


def overdue_clause(
    practice: Practice, now: datetime, target_hours: float
) -> ColumnElement[bool] | None:
    """The SQL condition for an overdue New request, or None when nothing can be overdue yet."""
    cutoff = overdue_since(practice, now, target_hours)
    if cutoff is None:
        return None
    return (Submission.status == "new") & (Submission.created_at <= cutoff)


def today(session: SessionLike, practice: Practice, now: datetime, target_hours: float) -> Day:
    """The front desk's figures at ``now``."""
    start, end = day_bounds(now.astimezone(practice.zone).date(), practice)
    waiting = Submission.status == "new"
    overdue = overdue_clause(practice, now, target_hours)
    oldest = session.execute(
        select(Submission.reference, Submission.created_at)
        .where(waiting)
        .order_by(Submission.created_at, Submission.id)
        .limit(1)
    ).first()
    return Day(
        new_today=count(session, Submission.created_at >= start, Submission.created_at < end),
        waiting=count(session, waiting),
        overdue=0 if overdue is None else count(session, overdue),
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


def duration(seconds: float | None) -> str:
    """Business time in hours and minutes: "2 h 10 min", "27 h" (a business day's length varies)."""
    if seconds is None:
        return "–"
    hours, minutes = divmod(int(seconds // 60), 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"
