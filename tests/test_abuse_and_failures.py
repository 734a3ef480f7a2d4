"""Abuse and failure: the rate limit, a locked or missing database, and the designed error pages."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Submission

from .helpers import VALID_CONTACT, form_tokens

PHONE = "(781) 209-5645"


def post_contact_form(client):
    return client.post("/contact-us", data={**VALID_CONTACT, **form_tokens(client, "/contact-us")})


def count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Submission))


@pytest.fixture
def default_rate_limit(settings):
    # back to the shipped "5 per 10 minutes" submissions and "30 per 10 minutes" POSTs
    settings.pop("SUBMISSION_RATE_LIMIT")
    settings.pop("FORM_POST_RATE_LIMIT")


def test_sixth_submission_in_ten_minutes_gets_the_friendly_429(
    default_rate_limit, app, post_appointment, post_contact
):
    assert app.config["SUBMISSION_RATE_LIMIT"] == "5 per 10 minutes"
    for post in (post_appointment, post_contact, post_appointment, post_contact, post_appointment):
        assert post().status_code == 303
    response = post_contact()
    page = response.get_data(as_text=True)
    assert response.status_code == 429
    assert "Too many requests" in page
    assert PHONE in page and 'href="tel:+17812095645"' in page
    assert count(app) == 5


def test_forms_sent_back_with_errors_do_not_count_against_the_submission_limit(
    default_rate_limit, app, post_appointment, post_contact
):
    """A patient who makes five mistakes and then sends a valid form is accepted."""
    mistakes = [
        post_appointment(**{"date_of_birth-day": "32"}),
        post_appointment(phone="12"),
        post_contact(email="taro@"),
        post_appointment(consent=None),
        post_contact(message=""),
    ]
    assert [r.status_code for r in mistakes] == [422] * 5
    assert post_appointment().status_code == 303
    # Accepted submissions are still limited: four more, then the sixth is refused.
    for post in (post_contact, post_appointment, post_contact, post_appointment):
        assert post().status_code == 303
    assert post_contact().status_code == 429
    assert count(app) == 5


def test_thirty_first_form_post_in_ten_minutes_gets_the_friendly_429(
    default_rate_limit, app, post_appointment, post_contact
):
    assert app.config["FORM_POST_RATE_LIMIT"] == "30 per 10 minutes"
    # Both forms share the limit, and every POST counts: accepted, invalid or without a token.
    assert post_appointment().status_code == 303
    assert post_contact().status_code == 303
    for n in range(14):
        assert post_appointment(first_name="").status_code == 422, n
        assert post_contact(csrf_token="").status_code == 400, n
    response = post_appointment()
    page = response.get_data(as_text=True)
    assert response.status_code == 429
    assert "Too many requests" in page
    assert PHONE in page and 'href="tel:+17812095645"' in page
    assert count(app) == 2
    # Another address is not affected.
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    assert post_contact_form(other).status_code == 303


def test_form_post_limit_setting_is_honoured(app, post_contact):
    app.config["FORM_POST_RATE_LIMIT"] = "3 per minute"
    assert [post_contact(email="").status_code for _ in range(3)] == [422] * 3
    assert post_contact().status_code == 429
    assert count(app) == 0


def test_rate_limit_counts_posts_only(default_rate_limit, client):
    for _ in range(10):
        assert client.get("/request-an-appointment").status_code == 200


def test_rate_limit_setting_is_honoured(settings, app, post_appointment):
    app.config["SUBMISSION_RATE_LIMIT"] = "2 per minute"
    assert post_appointment().status_code == 303
    assert post_appointment().status_code == 303
    assert post_appointment().status_code == 429


@pytest.fixture
def short_busy_timeout(settings):
    settings["DATABASE_BUSY_TIMEOUT"] = 0.2


def test_locked_database_gives_503_with_the_form_and_its_values(
    short_busy_timeout, database_url, app, post_appointment
):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    blocker = sqlite3.connect(database_url.removeprefix("sqlite:///"))
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        response = post_appointment()
    finally:
        blocker.rollback()
        blocker.close()
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "Your form was not sent" in page
    assert 'value="Siobhán"' in page and "Knee pain when running." in page
    assert PHONE in page
    assert "received" not in page.lower()
    assert count(app) == 0
    # Once the lock is gone, the same rendered form goes through.
    assert post_appointment().status_code == 303


def test_unreachable_database_gives_503_and_never_a_false_success(settings, make_app, tmp_path):
    settings["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path}/missing/dir/db.sqlite3"
    client = make_app().test_client()
    response = post_contact_form(client)
    assert response.status_code == 503
    assert "Your form was not sent" in response.get_data(as_text=True)
    assert 'value="taro@example.com"' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "url", "status", "title"),
    [
        ("get", "/no-such-page", 404, "Page not found"),
        ("delete", "/request-an-appointment", 405, "Sorry, that did not work"),
        ("get", "/notices/no-such-notice", 404, "Page not found"),
    ],
)
def test_error_pages_are_designed_with_the_phone_number(client, method, url, status, title):
    response = getattr(client, method)(url)
    page = response.get_data(as_text=True)
    assert response.status_code == status
    assert f"<h1>{title}</h1>" in page
    assert 'href="tel:+17812095645"' in page
    assert "840 Winter Street" in page


@pytest.mark.parametrize("code", [400, 403, 404, 405, 413, 429, 500, 503])
def test_every_error_page_has_a_title_and_the_phone(app, code):
    from portal.errors import ERROR_PAGES, render_error

    with app.test_request_context():
        page, status = render_error(code)
    assert status == code
    assert str(ERROR_PAGES[code][0]) in page
    assert PHONE in page


def test_unhandled_exception_gives_the_500_page(app, client):
    @app.get("/explode")
    def explode():
        raise RuntimeError("boom")

    response = client.get("/explode")
    assert response.status_code == 500
    assert "problem with the service" in response.get_data(as_text=True)
