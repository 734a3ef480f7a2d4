"""The dashboard's figures over the last weeks: requests per week and form, response times,
requests by specialty, topic and preferred language.

Aggregated in the database over one covering index (see ``Submission.__table_args__``): the
weeks start at Monday midnight in the practice's zone (computed here, so a daylight-saving
change moves no request into the wrong week); each week is a few COUNT and LIMIT/OFFSET queries
on its ``created_at`` range, the same SQL on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from .extensions import SessionLike
from .front_desk import day_bounds
from .models import Submission
from .practice import Practice
from .submissions import KINDS, NOT_GIVEN, language_text

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

    @property
    def label(self) -> str:
        """How the charts and tables name the week: its Monday, "Nov 23"."""
        return self.start.strftime("%b %-d")

    @property
    def hours(self) -> list[float | None]:
        """The median and 80th-percentile response times in hours, one decimal; None: none."""
        return [
            None if seconds is None else round(seconds / 3600, 1)
            for seconds in (self.median_seconds, self.p80_seconds)
        ]


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile of sorted values: the least with ``share`` at or below it."""
    if not values:
        return None
    return values[max(math.ceil(share * len(values)) - 1, 0)]


def week_starts(today: date, weeks: int = WEEKS) -> list[date]:
    """The Mondays that begin the last ``weeks`` weeks, this one last, and the Monday after."""
    this_monday = today - timedelta(days=today.weekday())
    return [this_monday - timedelta(weeks=weeks - 1 - n) for n in range(weeks + 1)]


def weekly(session: SessionLike, practice: Practice, now: datetime) -> list[Week]:
    """The last WEEKS weeks, oldest first; responses count in the week the request arrived."""
    mondays = week_starts(now.astimezone(practice.zone).date())
    bounds = [day_bounds(monday, practice)[0] for monday in mondays]
    return [
        _week(session, monday, start, end)
        for monday, start, end in zip(mondays, bounds, bounds[1:], strict=False)
    ]


def _week(session: SessionLike, monday: date, start: datetime, end: datetime) -> Week:
    """One week's figures: requests per form, then the two ranks of its answered requests.

    A few small queries per week, each a range of the covering index: measured faster on
    SQLite than one query over the twelve weeks with a CASE bucket and a window function.
    """
    week = (Submission.created_at >= start, Submission.created_at < end)
    requests = dict.fromkeys(KINDS, 0)
    answered = 0
    for form, n, responses in session.execute(
        select(Submission.form, func.count(Submission.id), func.count(Submission.response_seconds))
        .where(*week)
        .group_by(Submission.form)
    ):
        requests[form] = n
        answered += responses

    def ranked(rank: int) -> float | None:
        if rank < 1:
            return None
        return session.scalar(
            select(Submission.response_seconds)
            .where(*week, Submission.response_seconds.is_not(None))
            .order_by(Submission.response_seconds)
            .offset(rank - 1)
            .limit(1)
        )

    return Week(
        start=monday,
        requests=requests,
        answered=answered,
        median_seconds=ranked(_rank(answered, 1, 2)),
        p80_seconds=ranked(_rank(answered, 4, 5)),
    )


def _rank(count: int, numerator: int, denominator: int) -> int:
    """The nearest rank (1-based) of a percentile: ceil(count * share), in integers."""
    return (count * numerator + denominator - 1) // denominator


def _most_first(counts: dict[str | None, int]) -> list[tuple[str, int]]:
    """Values with their counts, most first; an empty value last, as NOT_GIVEN."""
    named = sorted(((v, n) for v, n in counts.items() if v), key=lambda row: (-row[1], row[0]))
    missing = sum(n for value, n in counts.items() if not value)
    return [*named, *([(str(NOT_GIVEN), missing)] if missing else [])]


@dataclass(frozen=True)
class Breakdowns:
    """Requests of the dashboard's weeks by specialty, topic and preferred language."""

    specialty: list[tuple[str, int]]
    topic: list[tuple[str, int]]
    language: list[tuple[str, int]]


def breakdowns(session: SessionLike, practice: Practice, now: datetime) -> Breakdowns:
    """Requests per specialty (appointments), topic (messages) and language since WEEKS ago.

    Specialty and topic come from one GROUP BY over the covering index; the language is one more
    query on the created_at index.
    """
    start = day_bounds(week_starts(now.astimezone(practice.zone).date())[0], practice)[0]
    specialty: dict[str | None, int] = {}
    topic: dict[str | None, int] = {}
    # Both bounds, and form grouped last: otherwise SQLite's planner walks the form index over
    # every row to save a sort, rather than the twelve weeks' range of the covering index.
    window = (Submission.created_at >= start, Submission.created_at <= now)
    for specialty_value, topic_value, form, n in session.execute(
        select(Submission.specialty, Submission.topic, Submission.form, func.count(Submission.id))
        .where(*window)
        .group_by(Submission.specialty, Submission.topic, Submission.form)
    ):
        if form == "appointment":
            specialty[specialty_value] = specialty.get(specialty_value, 0) + n
        else:
            topic[topic_value] = topic.get(topic_value, 0) + n
    language = Submission.preferred_language
    languages: dict[str | None, int] = {
        language_text(tag) if tag else None: n
        for tag, n in session.execute(
            select(language, func.count(Submission.id)).where(*window).group_by(language)
        )
    }
    return Breakdowns(
        specialty=_most_first(specialty), topic=_most_first(topic), language=_most_first(languages)
    )
