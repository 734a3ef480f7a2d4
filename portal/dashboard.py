"""The dashboard's figures over the last weeks: requests per week and form, response times,
requests by specialty, topic and preferred language.

Aggregated in the database: week buckets are instants computed here (Monday midnight in the
practice's zone, so a daylight-saving change moves no request into the wrong week) and turned
into one CASE expression, so each figure is one GROUP BY over the indexed ``created_at`` range.
Percentiles need the values themselves: only the answered requests' ``response_seconds`` of the
window are read (one integer each), then sorted here, the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select

from .extensions import SessionLike
from .front_desk import day_bounds
from .models import Submission
from .practice import Practice
from .submissions import KINDS, NOT_GIVEN

WEEKS = 12


@dataclass(frozen=True)
class Week:
    """One week (Monday to Sunday, practice time): requests per form and response times."""

    start: date
    requests: dict[str, int]
    answered: int
    median_seconds: float | None
    p80_seconds: float | None

    @property
    def total(self) -> int:
        """Requests of every form received that week."""
        return sum(self.requests.values())


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile of sorted values: the least with ``share`` at or below it."""
    if not values:
        return None
    return values[max(math.ceil(share * len(values)) - 1, 0)]


def week_starts(today: date, weeks: int = WEEKS) -> list[date]:
    """The Mondays that begin the last ``weeks`` weeks, this one last, and the Monday after."""
    this_monday = today - timedelta(days=today.weekday())
    return [this_monday - timedelta(weeks=weeks - 1 - n) for n in range(weeks + 1)]


def _bucket(bounds: list[datetime]) -> Any:
    """A CASE giving each created_at in [bounds[0], bounds[-1]) the index of its week."""
    return case(
        *[(Submission.created_at < end, index) for index, end in enumerate(bounds[1:])],
        else_=None,
    )


def weekly(session: SessionLike, practice: Practice, now: datetime) -> list[Week]:
    """The last WEEKS weeks, oldest first; responses count in the week the request arrived."""
    mondays = week_starts(now.astimezone(practice.zone).date())
    bounds = [day_bounds(monday, practice)[0] for monday in mondays]
    bucket = _bucket(bounds).label("week")
    window = (Submission.created_at >= bounds[0], Submission.created_at < bounds[-1])
    requests: list[dict[str, int]] = [dict.fromkeys(KINDS, 0) for _ in mondays[:-1]]
    for week, form, n in session.execute(
        select(bucket, Submission.form, func.count(Submission.id))
        .where(*window)
        .group_by(bucket, Submission.form)
    ):
        requests[week][form] = n
    waits: list[list[float]] = [[] for _ in mondays[:-1]]
    for week, seconds in session.execute(
        select(bucket, Submission.response_seconds).where(
            *window, Submission.response_seconds.is_not(None)
        )
    ):
        waits[week].append(seconds)
    weeks = []
    for index, monday in enumerate(mondays[:-1]):
        values = sorted(waits[index])
        weeks.append(
            Week(
                start=monday,
                requests=requests[index],
                answered=len(values),
                median_seconds=percentile(values, 0.5),
                p80_seconds=percentile(values, 0.8),
            )
        )
    return weeks


def by_column(
    session: SessionLike, column: Any, start: datetime, *clauses: Any
) -> list[tuple[str, int]]:
    """Requests since ``start`` per value of ``column``, most first; empty ones as "Not given"."""
    rows = session.execute(
        select(column, func.count(Submission.id))
        .where(Submission.created_at >= start, *clauses)
        .group_by(column)
    ).all()
    named = sorted(((value, n) for value, n in rows if value), key=lambda row: (-row[1], row[0]))
    missing = sum(n for value, n in rows if not value)
    return [*named, *([(str(NOT_GIVEN), missing)] if missing else [])]


@dataclass(frozen=True)
class Breakdowns:
    """Requests of the dashboard's weeks by specialty, topic and (once recorded) language."""

    specialty: list[tuple[str, int]]
    topic: list[tuple[str, int]]
    # None while submissions have no preferred_language column (it arrives with translations).
    language: list[tuple[str, int]] | None


def breakdowns(session: SessionLike, practice: Practice, now: datetime) -> Breakdowns:
    """Requests per specialty (appointments), topic (messages) and language since WEEKS ago."""
    start = day_bounds(week_starts(now.astimezone(practice.zone).date())[0], practice)[0]
    language = getattr(Submission, "preferred_language", None)
    return Breakdowns(
        specialty=by_column(session, Submission.specialty, start, Submission.form == "appointment"),
        topic=by_column(session, Submission.topic, start, Submission.form == "contact"),
        language=None if language is None else by_column(session, language, start),
    )
