"""What patients are told about hearing back: the response-time band and the "closed now" line."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal import promise
from portal.extensions import db
from portal.practice import Practice
from portal.practice.hours import DAYS, OpeningHours

from .admin_helpers import add_submission

BOSTON = ZoneInfo("America/New_York")
HOUR = 3600.0
# Monday to Friday 7 am to 4 pm (a 9-hour business day); closed on Thanksgiving 2026.
HOURS = OpeningHours(
    days={day: [(time(7), time(16))] for day in DAYS[:5]}, holidays=[date(2026, 11, 26)]
)
DAY = 9 * HOUR


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=BOSTON)


@pytest.mark.parametrize(
    ("p80_hours", "expected"),
    [
        (0.5, "2_hours"),
        (2, "2_hours"),
        (2.1, "same_day"),
        (4.5, "same_day"),
        (4.6, "1_day"),
        (9, "1_day"),
        (9.1, "2_days"),
        (18, "2_days"),
        (18.1, "3_days"),
        (200, "3_days"),
    ],
)
def test_the_80th_percentile_rounds_up_to_its_band(p80_hours: float, expected: str) -> None:
    assert promise.band(p80_hours * HOUR, 20, DAY) == expected


def test_fewer_than_20_answered_requests_promise_one_business_day() -> None:
    assert promise.band(0.1 * HOUR, 19, DAY) == "1_day"
    assert promise.band(None, 0, DAY) == "1_day"
    assert str(promise.BANDS[promise.DEFAULT_BAND]) == "within 1 business day"


def test_the_band_texts_are_the_promised_words() -> None:
    assert [str(text) for text in promise.BANDS.values()] == [
        "within 2 business hours",
        "the same business day",
        "within 1 business day",
        "within 2 business days",
        "within 3 business days or more",
    ]


def test_the_business_day_is_the_typical_open_day_or_a_whole_day_for_free_text() -> None:
    assert Practice(hours=HOURS).business_day_seconds == DAY
    assert Practice(hours="Weekdays 9 to 5").business_day_seconds == 24 * HOUR


def answered(app: Flask, waits_in_hours: list[float], days_ago: float = 1) -> None:
    """Requests first answered ``days_ago``, each after the given business wait."""
    responded = datetime.now(UTC) - timedelta(days=days_ago)
    for wait in waits_in_hours:
        add_submission(
            app,
            status="contacted",
            first_response_at=responded,
            response_seconds=round(wait * HOUR),
        )


def test_the_band_is_measured_over_requests_answered_in_the_last_30_days(app: Flask) -> None:
    app.extensions["practice"] = Practice(hours=HOURS)
    # 16 answered in an hour, 4 in 8 hours: the 80th percentile (16th of 20) is one hour.
    answered(app, [1] * 16 + [8] * 4)
    # Older than the window: slow answers that no longer count.
    answered(app, [100] * 30, days_ago=31)
    with app.app_context():
        assert promise.measured_band(db.session, Practice(hours=HOURS), datetime.now(UTC)) == (
            "2_hours"
        )
        answered(app, [8])  # 21 answers: the 17th is now 8 hours, within one 9-hour day
        assert promise.measured_band(db.session, Practice(hours=HOURS), datetime.now(UTC)) == (
            "1_day"
        )


def test_the_band_is_computed_once_per_few_minutes_not_per_request(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[datetime] = []
    measure = promise.measured_band

    def counted(session: object, practice: Practice, now: datetime) -> str:
        calls.append(now)
        return measure(session, practice, now)  # type: ignore[arg-type]

    monkeypatch.setattr(promise, "measured_band", counted)
    with app.test_request_context():
        for _ in range(5):
            assert promise.usual_answer() == "We usually answer within 1 business day."
    assert len(calls) == 1
    monotonic = promise.clock.monotonic
    monkeypatch.setattr(promise.clock, "monotonic", lambda: monotonic() + promise.CACHE_SECONDS + 1)
    with app.test_request_context():
        promise.usual_answer()
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("now", "line"),
    [
        (at(20, 17), "We are closed now. We open again Monday at 7 am."),  # Friday evening
        (at(24, 6), "We are closed now. We open again today at 7 am."),  # Tuesday early
        (at(23, 18), "We are closed now. We open again tomorrow at 7 am."),  # Monday evening
        (at(25, 16, 30), "We are closed now. We open again Friday at 7 am."),  # Thanksgiving
        (at(24, 9), None),  # open
    ],
)
def test_the_closed_now_line_says_when_the_office_opens_next(
    app: Flask, now: datetime, line: str | None
) -> None:
    with app.test_request_context():
        assert promise.closed_now(Practice(hours=HOURS), now) == line


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("/es/", "Ahora estamos cerrados. Volvemos a abrir el lunes a las 7:00."),
        ("/pt-br/", "Estamos fechados agora. Abrimos novamente segunda-feira às 07:00."),
    ],
)
def test_the_closed_now_line_reads_as_a_sentence_in_each_language(
    app: Flask, path: str, line: str
) -> None:
    # Friday evening: the weekday the office opens again, with the article Spanish needs.
    with app.test_request_context(path):
        assert promise.closed_now(Practice(hours=HOURS), at(20, 17)) == line


def test_free_text_hours_say_nothing_about_being_closed(app: Flask) -> None:
    with app.test_request_context():
        assert promise.closed_now(Practice(hours="Monday to Friday"), at(21, 3)) is None


def test_the_confirmation_page_says_when_we_usually_answer_and_that_we_are_closed(
    app: Flask, client: FlaskClient, post_appointment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Closed every day of the week but Wednesday: whenever the test runs, it is closed or open.
    wednesday = OpeningHours(days={"wed": [(time(0), time(23, 59))]})
    app.extensions["practice"] = dataclasses.replace(app.extensions["practice"], hours=wednesday)
    monkeypatch.setattr("portal.public.views.utcnow", lambda: at(21, 12).astimezone(UTC))
    response = post_appointment()
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "We usually answer within 1 business day." in page
    assert "We are closed now. We open again Wednesday at 12 am." in page


def test_the_acknowledgement_email_carries_the_promise(app: Flask, post_appointment) -> None:
    from sqlalchemy import select

    from portal.models import OutboxMessage

    assert post_appointment().status_code == 303
    with app.app_context():
        acknowledgement = db.session.scalar(
            select(OutboxMessage).where(OutboxMessage.template == "email/acknowledgement")
        )
        assert acknowledgement.context["usual_answer"] == (
            "We usually answer within 1 business day."
        )
