"""The dashboard: today's figures, the last weeks by form and response time, the breakdowns."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal import dashboard, front_desk
from portal.extensions import db
from portal.practice import Practice
from portal.practice.hours import DAYS, OpeningHours
from portal.response_time import ResponseClock

from .admin_helpers import ADMIN, STAFF, add_submission, make_user, sign_in

BOSTON = ZoneInfo("America/New_York")
HOUR = 3600
HOURS = OpeningHours(
    days={day: [(time(7), time(16))] for day in DAYS[:5]}, holidays=[date(2026, 11, 26)]
)


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BOSTON)


def test_staff_and_admins_see_the_dashboard_first_in_the_navigation(
    app: Flask, client: FlaskClient
) -> None:
    make_user(app)
    make_user(app, ADMIN, role="admin")
    for email in (STAFF, ADMIN):
        sign_in(client, email)
        page = client.get("/admin/dashboard")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        links = re.findall(r'<li><a href="(/admin/[^"]*)"', html)
        assert links[0] == "/admin/dashboard"
        assert 'aria-current="page">Dashboard</a>' in html
        client.delete_cookie("session")  # the next account signs in afresh


def test_the_dashboard_needs_a_signed_in_user(client: FlaskClient) -> None:
    response = client.get("/admin/dashboard")
    assert response.status_code == 302
    assert "/admin/login" in response.headers["Location"]


def test_overdue_is_exact_in_business_hours_over_evenings_weekends_and_holidays() -> None:
    practice = Practice(hours=HOURS)
    # Monday 30 November 9 am; an 8-hour target reaches back to Friday 27 at 8 am: Friday
    # after Thanksgiving had 9 open hours, Monday 2 so far (7 to 9), so 6 more on Friday.
    now = at(30, 9).astimezone(UTC)
    cutoff = ResponseClock(practice, 8, now).overdue_before()
    assert cutoff == at(27, 10)
    assert practice.business_seconds(cutoff, now) == 8 * HOUR
    # Free text: the time that passed.
    assert Practice(hours="Weekdays").business_start(now, 8 * HOUR) == now - timedelta(hours=8)


def test_todays_figures(app: Flask) -> None:
    app.extensions["practice"] = practice = Practice(hours=HOURS)
    now = at(30, 9).astimezone(UTC)
    make_user(app)
    overdue = add_submission(app, created_at=at(27, 9).astimezone(UTC))
    add_submission(app, created_at=at(27, 11).astimezone(UTC))  # 7 business hours: not yet
    add_submission(app, "contact", created_at=at(30, 8).astimezone(UTC))
    add_submission(
        app,
        created_at=at(29, 20).astimezone(UTC),
        status="contacted",
        first_response_at=at(30, 8, 30).astimezone(UTC),
        response_seconds=HOUR + 1800,
    )
    with app.app_context():
        day = front_desk.today(db.session, practice, now, 8)
    assert (day.new_today, day.waiting, day.overdue, day.answered_today) == (1, 3, 1, 1)
    assert day.oldest_reference == overdue
    assert day.oldest_seconds == 9 * HOUR  # Friday 9 to 4, Monday 7 to 9
    assert day.assigned == [("Nobody", 4)]


def test_weeks_count_requests_by_form_and_response_percentiles(app: Flask) -> None:
    app.extensions["practice"] = practice = Practice(hours=HOURS)
    now = at(30, 9).astimezone(UTC)  # Monday: this week has just begun
    last_week = at(23, 10).astimezone(UTC)
    for seconds in (100, 200, 300, 400, 500):
        add_submission(
            app,
            created_at=last_week,
            status="contacted",
            response_seconds=seconds,
            first_response_at=last_week + timedelta(hours=1),
        )
    add_submission(app, "contact", created_at=at(29, 23, 59).astimezone(UTC))  # Sunday night
    add_submission(app, created_at=at(30, 0, 1).astimezone(UTC))  # Monday after midnight
    add_submission(app, created_at=(at(30, 0) - timedelta(weeks=12)).astimezone(UTC))  # too old
    with app.app_context():
        weeks = dashboard.weekly(db.session, practice, now)
    assert len(weeks) == 12
    assert weeks[-1].start == date(2026, 11, 30)
    assert weeks[0].start == date(2026, 9, 14)
    assert weeks[-1].requests == {"appointment": 1, "contact": 0}
    assert weeks[-2].requests == {"appointment": 5, "contact": 1}
    assert (weeks[-2].median_seconds, weeks[-2].p80_seconds, weeks[-2].answered) == (300, 400, 5)
    assert sum(week.total for week in weeks) == 7


def test_requests_by_specialty_and_topic(app: Flask) -> None:
    add_submission(app, specialty="Total hip replacement")
    add_submission(app, specialty="Total hip replacement")
    add_submission(app, specialty="Total knee replacement")
    add_submission(app, specialty=None)
    add_submission(app, "contact", topic="Billing")
    with app.app_context():
        parts = dashboard.breakdowns(db.session, app.extensions["practice"], datetime.now(UTC))
    assert parts.specialty == [
        ("Total hip replacement", 2),
        ("Total knee replacement", 1),
        ("Not given", 1),
    ]
    assert parts.topic == [("Billing", 1)]


@pytest.mark.parametrize("values", [[], [5], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]])
def test_percentiles_are_nearest_rank(values: list[float]) -> None:
    expected = {0: None, 1: 5, 10: 8}[len(values)]
    assert dashboard.percentile(values, 0.8) == expected


def test_the_charts_are_svg_images_with_tables_and_no_inline_style(
    app: Flask, client: FlaskClient
) -> None:
    make_user(app)
    add_submission(app, specialty="Total hip replacement")
    add_submission(app, "contact", topic="Billing", preferred_language="es")
    sign_in(client)
    html = client.get("/admin/dashboard").get_data(as_text=True)
    figures = re.findall(r"<figure.*?</figure>", html, re.S)
    assert len(figures) == 5  # by form, response time, specialty, topic, language
    for figure in figures:
        assert "<figcaption" in figure and "<table" in figure
        svg = re.search(r'<svg [^>]*role="img" aria-labelledby="([^"]+)"', figure)
        assert svg and f'<title id="{svg.group(1)}">' in figure
    assert "style=" not in html and "<script>" not in html
    assert "Total hip replacement: 1" in html and "Billing" in html
    assert "Spanish: 1" in html  # the stored tag in words, as in the inbox
    # Patient names never appear on the dashboard.
    assert "Siobhán" not in html and "O&#39;Hara" not in html
