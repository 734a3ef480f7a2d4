"""Response times in business time: how long a New request has waited, when it is overdue, and
how a wait reads ("2 h 10 min", "1 day 3 h") on staff pages and in exports.

A *day* of waiting is one of the practice's usual open days (the most common length of its open
days: 9 hours for 7 am to 4 pm), so "1 day" means "a whole working day went by", as a front desk
says it. With free-text hours no business time can be counted: waits are the time that passed,
and a day is 24 hours.

Overdue is a SQL condition, not a loop over rows: waiting time only grows the earlier a request
came in, so "waited more than RESPONSE_TARGET_HOURS of business time" is the same as "received
before one instant", the instant found by walking back that many open hours from now.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, false

from .models import Submission
from .practice import Practice

HOUR = 3600.0


def business_day(practice: Practice) -> float:
    """Seconds in one day of waiting: the practice's usual open day, or 24 hours of free text."""
    return practice.business_day_seconds


def duration_text(seconds: float, day: float) -> str:
    """A wait in words: "under 1 min", "45 min", "2 h 10 min", "1 day 3 h", "3 days"."""
    minutes = int(seconds // 60)
    if minutes < 1:
        return "under 1 min"
    if seconds >= day:
        days, rest = divmod(seconds, day)
        hours = int(rest // HOUR)
        text = f"{int(days)} day{'s' if days >= 2 else ''}"
        return f"{text} {hours} h" if hours else text
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def hours_text(seconds: float | None) -> str:
    """A response time for an export: business hours as a number with two decimals ("" if none)."""
    return "" if seconds is None else f"{seconds / HOUR:.2f}"


def waiting_clause() -> ColumnElement[bool]:
    """SQL: the request is New and has never had a response (so it is waiting for one)."""
    return and_(Submission.status == "new", Submission.first_response_at.is_(None))


@dataclass(frozen=True)
class ResponseClock:
    """Response times as of one instant, under one practice's hours and one target."""

    practice: Practice
    target_hours: float
    now: datetime

    @property
    def day(self) -> float:
        """Seconds in one day of waiting (see business_day)."""
        return business_day(self.practice)

    def overdue_before(self) -> datetime | None:
        """The instant a waiting request must have come in before to be overdue now.

        None when no request can be overdue (hours that never hold the target's open time).
        """
        return self.practice.business_start(self.now, self.target_hours * HOUR)

    def overdue_clause(self) -> ColumnElement[bool]:
        """SQL: waiting, and for longer than the target in business time."""
        before = self.overdue_before()
        if before is None:
            return false()
        return and_(waiting_clause(), Submission.created_at < before)

    def waits(self, received: Iterable[datetime]) -> dict[datetime, float]:
        """Business seconds from each instant to now, walking the opening hours only once.

        From the latest instant back, each wait is the next one's plus the open time between
        the two, so a page of requests waiting for years costs one walk over those years.
        """
        found: dict[datetime, float] = {}
        later, total = self.now, 0.0
        for moment in sorted({m.astimezone(UTC) for m in received}, reverse=True):
            if moment < later:
                total += self.practice.business_seconds(moment, later)
                later = moment
            found[moment] = total
        return found


@dataclass(frozen=True)
class Timing:
    """One request's response time as the inbox shows it."""

    waiting: bool
    text: str | None  # None: it left New before response times were recorded
    overdue: bool = False


def timings(clock: ResponseClock, submissions: Iterable[Submission]) -> dict[int, Timing]:
    """Each submission's wait (New) or response time (answered), by id, for one page of them."""
    rows = list(submissions)
    waiting = {s.id for s in rows if s.status == "new" and s.first_response_at is None}
    waits = clock.waits(s.created_at for s in rows if s.id in waiting)
    before = clock.overdue_before()
    day = clock.day
    found: dict[int, Timing] = {}
    for s in rows:
        if s.id in waiting:
            seconds = waits[s.created_at.astimezone(UTC)]
            overdue = before is not None and s.created_at < before
            found[s.id] = Timing(True, duration_text(seconds, day), overdue)
        elif s.response_seconds is not None:
            found[s.id] = Timing(False, duration_text(s.response_seconds, day))
        else:
            found[s.id] = Timing(False, None)
    return found
