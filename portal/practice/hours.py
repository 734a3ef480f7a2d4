"""Opening hours: the days and periods the practice is open, and how they read in words."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# How the parts of a line join, in English; the patients' pages pass their language's own.
ENGLISH = {
    "days": "{first} to {last}",
    "two_days": "{first} and {last}",
    "period": "{opens} to {closes}",
    "periods": " and ",
    "line": "{days}, {times}",
}


@dataclass(frozen=True)
class OpeningHours:
    """When the practice is open: periods per weekday (none: closed) and the holidays it closes."""

    days: dict[str, list[tuple[time, time]]]
    holidays: list[date] = field(default_factory=list)

    def in_words(
        self,
        day_names: Sequence[str] = DAY_NAMES,
        clock: Callable[[time], str] | None = None,
        words: Mapping[str, str] = ENGLISH,
    ) -> list[str]:
        """One line per run of days with the same hours: "Monday to Friday, 7 am to 4 pm"."""
        clock = clock or us_clock
        lines = []
        runs: list[tuple[int, int, list[tuple[time, time]]]] = []
        for index, day in enumerate(DAYS):
            periods = self.days.get(day, [])
            if runs and runs[-1][2] == periods and runs[-1][1] == index - 1:
                runs[-1] = (runs[-1][0], index, periods)
            else:
                runs.append((index, index, periods))
        for first, last, periods in runs:
            if not periods:
                continue  # closed: left out, as a practice's own website does
            names = {"first": day_names[first], "last": day_names[last]}
            days = day_names[first] if first == last else words["days"].format(**names)
            if last == first + 1:
                days = words["two_days"].format(**names)
            times = words["periods"].join(
                words["period"].format(opens=clock(a), closes=clock(b)) for a, b in periods
            )
            line = words["line"].format(days=days, times=times)
            lines.append(line[:1].upper() + line[1:])
        return lines

    @property
    def closed_some_days(self) -> bool:
        """Whether some day of the week has no opening hours."""
        return any(not self.days.get(day) for day in DAYS)

    def upcoming_holidays(self, today: date, limit: int = 3) -> list[date]:
        """The next few holidays, from today on."""
        return sorted(day for day in self.holidays if day >= today)[:limit]

    def usual_day_seconds(self) -> float | None:
        """The usual open day's length: the most common one (between equally common ones the
        longest, since a short Saturday is not what "a day" means at a practice open five long
        weekdays); None when the practice is never open."""
        lengths = [
            sum(_seconds(closes) - _seconds(opens) for opens, closes in periods)
            for periods in self.days.values()
            if periods
        ]
        if not lengths:
            return None
        counts = Counter(lengths)
        return float(max(lengths, key=lambda length: (counts[length], length)))

    def periods_on(self, day: date, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
        """The day's open periods as instants in UTC (none on a holiday).

        In UTC because Python subtracts two times of the same zone by their wall clocks, which
        would count an hour too many or too few across a daylight-saving change.
        """
        if day in self.holidays:
            return []
        return [
            (
                datetime.combine(day, opens, zone).astimezone(UTC),
                datetime.combine(day, closes, zone).astimezone(UTC),
            )
            for opens, closes in self.days.get(DAYS[day.weekday()], [])
        ]

    def business_seconds(self, start: datetime, end: datetime, zone: ZoneInfo) -> float:
        """Open time between two aware instants, in seconds, counted in the practice's zone.

        Each period is built from local wall-clock times on its own day, then counted in UTC, so a
        daylight-saving change inside a period counts the hours it really lasted.
        """
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if end <= start:
            return 0.0
        total = 0.0
        day = start.astimezone(zone).date()
        last = end.astimezone(zone).date()
        while day <= last:
            for opens, closes in self.periods_on(day, zone):
                overlap = (min(closes, end) - max(opens, start)).total_seconds()
                total += max(overlap, 0.0)
            day += timedelta(days=1)
        return total

    def business_start(self, end: datetime, seconds: float, zone: ZoneInfo) -> datetime | None:
        """The instant before which a request has waited more than ``seconds`` of open time at
        ``end`` (None: the hours never hold that much within ten years).

        Walking back over the open periods turns "waited longer than the target" into one
        comparison on created_at that the database answers from its index. Strictly longer: a
        request that waited exactly the target (received while closed, just before a period the
        target fills) is not past it yet.
        """
        end = end.astimezone(UTC)
        remaining = seconds
        day = end.astimezone(zone).date()
        for offset in range(3660):
            for opens, closes in reversed(self.periods_on(day - timedelta(days=offset), zone)):
                length = (min(closes, end) - opens).total_seconds()
                if length <= 0:
                    continue
                if length > remaining:
                    return min(closes, end) - timedelta(seconds=remaining)
                remaining -= length
        return None

    def next_opening(self, moment: datetime, zone: ZoneInfo) -> datetime | None:
        """When the practice next opens after ``moment`` (None while open or never open)."""
        day = moment.astimezone(zone).date()
        for offset in range(366):  # a year of holidays and closed days is the most to skip
            for opens, closes in self.periods_on(day + timedelta(days=offset), zone):
                if opens <= moment < closes:
                    return None
                if opens > moment:
                    return opens
        return None


def _seconds(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def us_clock(moment: time) -> str:
    """7:00 -> "7 am", 16:30 -> "4:30 pm", 12:00 -> "12 pm" (as U.S. practices write it)."""
    hour = moment.hour % 12 or 12
    suffix = "am" if moment.hour < 12 else "pm"
    return f"{hour} {suffix}" if moment.minute == 0 else f"{hour}:{moment.minute:02d} {suffix}"
