"""Business time: how long a request waited while the practice was open, in its own time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from portal.extensions import db
from portal.models import Submission
from portal.practice import Practice
from portal.practice.hours import DAYS, OpeningHours
from portal.services import accounts
from portal.services.actions import Actor
from portal.services.submissions import set_status

from .admin_helpers import STAFF, add_submission, make_user, stored

BOSTON = ZoneInfo("America/New_York")
HOUR = 3600.0
# Monday to Friday 7 am to 4 pm, closed for lunch on Tuesdays; closed on Thanksgiving 2026.
HOURS = OpeningHours(
    days={
        **{day: [(time(7), time(16))] for day in DAYS[:5]},
        "tue": [(time(7), time(12)), (time(13), time(16))],
    },
    holidays=[date(2026, 11, 26)],
)


def at(day: int, hour: int, minute: int = 0, month: int = 11, year: int = 2026) -> datetime:
    """An instant given as the practice's local wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=BOSTON)


def waited(start: datetime, end: datetime) -> float:
    return HOURS.business_seconds(start, end, BOSTON) / HOUR


def test_friday_evening_to_monday_morning_is_one_business_hour() -> None:
    # Friday November 20, 2026 at 5 pm -> Monday November 23 at 8 am.
    assert waited(at(20, 17), at(23, 8)) == 1


def test_a_request_sent_and_answered_overnight_waited_no_business_time() -> None:
    assert waited(at(23, 18), at(24, 6, 59)) == 0


def test_time_within_one_day_counts_only_the_open_periods() -> None:
    # Tuesday 11 am -> 2 pm: one hour before lunch, one after it.
    assert waited(at(24, 11), at(24, 14)) == 2


def test_a_holiday_counts_as_closed() -> None:
    # Wednesday 3 pm -> Friday 8 am over Thanksgiving (Thursday): 1 h + 1 h.
    assert waited(at(25, 15), at(27, 8)) == 2


def test_a_weekend_counts_as_closed() -> None:
    assert waited(at(21, 9), at(22, 15)) == 0


def test_a_daylight_saving_change_counts_the_hours_that_really_passed() -> None:
    # Open on Sunday March 8, 2026 (clocks go forward at 2 am) from 1 am to 4 am: two real hours.
    overnight = OpeningHours(days={"sun": [(time(1), time(4))]})
    start, end = at(8, 0, month=3), at(8, 5, month=3)
    assert overnight.business_seconds(start, end, BOSTON) / HOUR == 2
    # Across the change in November a full weekday is still 9 open hours, measured in UTC.
    assert waited(at(30, 16, month=10), at(2, 16)) == 9  # Friday 4 pm -> Monday 4 pm


def test_instants_in_utc_are_counted_in_the_practice_zone() -> None:
    # 1 pm UTC on Monday November 23 is 8 am in Boston: one hour after opening.
    assert waited(at(23, 7), datetime(2026, 11, 23, 13, tzinfo=UTC)) == 1


def test_next_opening_after_closing_time_and_none_while_open() -> None:
    assert HOURS.next_opening(at(20, 17), BOSTON) == at(23, 7)  # Friday evening -> Monday 7 am
    assert HOURS.next_opening(at(25, 17), BOSTON) == at(27, 7)  # the holiday is skipped
    assert HOURS.next_opening(at(24, 12, 30), BOSTON) == at(24, 13)  # Tuesday's lunch
    assert HOURS.next_opening(at(24, 9), BOSTON) is None


def test_without_structured_hours_business_time_is_the_time_that_passed() -> None:
    practice = Practice(hours="Monday to Friday, 7 am to 4 pm")
    assert practice.business_seconds(at(20, 17), at(23, 8)) == 63 * HOUR


@pytest.mark.parametrize("first_status", ["contacted", "spam"])
def test_first_response_is_recorded_once_when_a_request_leaves_new(
    app: Flask, first_status: str
) -> None:
    reference = add_submission(app, created_at=datetime.now(UTC) - timedelta(hours=2))
    make_user(app)
    with app.app_context():
        desk = Actor(user=accounts.find(db.session, STAFF))
        submission = db.session.query(Submission).filter_by(reference=reference).one()
        set_status(db.session, submission, desk, "new")
        assert submission.first_response_at is None  # staying New is no response
        set_status(db.session, submission, desk, first_status)
        staff_id = desk.user.id if desk.user else None
        set_status(db.session, submission, Actor(), "new")
        set_status(db.session, submission, Actor(), "scheduled")
    answered = stored(app, reference)
    assert answered.first_response_at is not None
    assert answered.first_response_by_id == staff_id  # not the later change by the command line
    # The default profile has no structured hours: two hours passed, two hours counted.
    assert answered.response_seconds == pytest.approx(2 * HOUR, abs=5)
