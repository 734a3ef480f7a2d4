"""The front desk's day: who calls back (assignment), how long requests wait in business time,
Overdue, the longest-waiting order, and the four export columns."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select

from portal import webhooks
from portal.extensions import db
from portal.models import OutboxMessage, Submission
from portal.practice import Practice
from portal.practice.hours import DAYS, OpeningHours
from portal.response_time import ResponseClock, business_day, duration_text, hours_text
from portal.services import accounts
from portal.services.actions import Actor
from portal.services.submissions import assign, set_status

from .admin_helpers import (
    ADMIN,
    STAFF,
    add_submission,
    audit_events,
    make_user,
    post,
    sign_in,
    stored,
)
from .helpers import MakeApp

BOSTON = ZoneInfo("America/New_York")
HOUR = 3600.0
OTHER = "nurse@example.org"
# Monday to Friday 7 am to 4 pm, an hour's lunch on Tuesdays; closed on Thanksgiving 2026.
HOURS = OpeningHours(
    days={
        **{day: [(time(7), time(16))] for day in DAYS[:5]},
        "tue": [(time(7), time(12)), (time(13), time(16))],
    },
    holidays=[date(2026, 11, 26)],
)
WEEKDAYS_PROFILE = "[hours]\n" + "".join(f'{d} = ["07:00-16:00"]\n' for d in DAYS[:5])


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """An instant given as the practice's wall-clock time in 2026."""
    return datetime(2026, month, day, hour, minute, tzinfo=BOSTON)


@pytest.fixture
def profile() -> str | None:
    """The practice profile (instance/practice.toml): none by default, so free-text hours."""
    return None


@pytest.fixture
def app(settings: dict, make_app: MakeApp, tmp_path: Path, profile: str | None) -> Flask:
    """The portal, with the profile written before it starts."""
    if profile is not None:
        instance = tmp_path / "instance"
        instance.mkdir(exist_ok=True)
        (instance / "practice.toml").write_text(profile)
    app = make_app()
    with app.app_context():
        db.create_all()
    return app


@pytest.fixture
def desk(app, client):
    """The front desk, signed in; a nurse and an admin have accounts too."""
    make_user(app, STAFF, "staff")
    make_user(app, OTHER, "staff")
    make_user(app, ADMIN, "admin")
    sign_in(client, STAFF)
    return client


def user_id(app: Flask, email: str) -> int:
    with app.app_context():
        user = accounts.find(db.session, email)
        assert user is not None
        return user.id


def references_in(page: str) -> list[str]:
    return re.findall(r'class="reference-link" href="/admin/submissions/([A-Z0-9-]+)"', page)


def row_of(page: str, reference: str) -> str:
    """The inbox's table row of one submission."""
    start = page.index(f">{reference}</a>")
    return page[start : page.index("</tr>", start)]


# --- Response time: the rules -------------------------------------------------------------------


@pytest.mark.parametrize(
    "seconds, day, text",
    [
        (0, 9 * HOUR, "under 1 min"),
        (59, 9 * HOUR, "under 1 min"),
        (45 * 60, 9 * HOUR, "45 min"),
        (2 * HOUR + 10 * 60 + 59, 9 * HOUR, "2 h 10 min"),
        (2 * HOUR, 9 * HOUR, "2 h"),
        (9 * HOUR, 9 * HOUR, "1 day"),
        (12 * HOUR + 50 * 60, 9 * HOUR, "1 day 3 h"),
        (27 * HOUR, 9 * HOUR, "3 days"),
        (27 * HOUR, 24 * HOUR, "1 day 3 h"),
    ],
)
def test_a_wait_reads_in_hours_and_minutes_then_in_days_and_hours(seconds, day, text):
    assert duration_text(seconds, day) == text


def test_a_day_of_waiting_is_the_practices_usual_open_day():
    assert business_day(Practice(hours=HOURS)) == 9 * HOUR  # Tuesday's lunch is the exception
    short_saturday = OpeningHours(days={**HOURS.days, "sat": [(time(9), time(12))]})
    assert business_day(Practice(hours=short_saturday)) == 9 * HOUR
    assert business_day(Practice(hours="Weekdays, 7 to 4")) == 24 * HOUR  # elapsed time


def test_export_gives_response_time_as_business_hours_with_two_decimals():
    assert hours_text(None) == ""
    assert hours_text(5400) == "1.50"
    assert hours_text(60) == "0.02"


@pytest.mark.parametrize(
    "now, before",
    [
        # Monday 10 am: 3 h on Monday, 5 h on Friday (the weekend is closed).
        (at(23, 10), at(20, 11)),
        # Friday 8 am after Thanksgiving: 1 h on Friday, the holiday skipped, 7 h on Wednesday.
        (at(27, 8), at(25, 9)),
        # Wednesday 2 pm: 7 h on Wednesday, then 1 h of Tuesday afternoon (lunch is closed).
        (at(25, 14), at(24, 15)),
        # Sunday: the open hours of Friday alone hold the target.
        (at(22, 12), at(20, 8)),
    ],
)
def test_overdue_means_received_before_the_instant_eight_open_hours_ago(now, before):
    clock = ResponseClock(Practice(hours=HOURS), 8, now.astimezone(UTC))
    assert clock.overdue_before() == before
    # The same as counting each request's business time: the SQL condition is exact.
    for minutes in range(-600, 600, 7):
        received = before + timedelta(minutes=minutes)
        waited = HOURS.business_seconds(received, now, BOSTON)
        assert (received < before) == (waited > 8 * HOUR), received


def test_without_structured_hours_overdue_is_eight_hours_of_elapsed_time():
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    clock = ResponseClock(Practice(hours="Weekdays, 7 to 4"), 8, now)
    assert clock.overdue_before() == now - timedelta(hours=8)


def test_hours_that_never_hold_the_target_make_nothing_overdue():
    once_a_week = OpeningHours(days={"mon": [(time(9), time(10))]})
    clock = ResponseClock(Practice(hours=once_a_week), 10_000, datetime.now(UTC))
    assert clock.overdue_before() is None


# --- Assignment: one service call, audited, announced -------------------------------------------


def test_assigning_and_unassigning_is_audited_once_per_change(app):
    reference = add_submission(app)
    make_user(app, STAFF, "staff")
    make_user(app, OTHER, "staff")
    with app.app_context():
        desk = accounts.find(db.session, STAFF)
        nurse = accounts.find(db.session, OTHER)
        submission = db.session.scalar(select(Submission).where(Submission.reference == reference))
        assert submission.assigned_to is None  # a new request is unassigned
        actor = Actor(user=desk)
        assert assign(db.session, submission, actor, desk) is True
        assert assign(db.session, submission, actor, desk) is False  # no change, no record
        assert assign(db.session, submission, actor, nurse) is True
        assert assign(db.session, submission, actor, None) is True
    events = audit_events(app, "submission.assigned")
    assert [(e.target, e.actor) for e in events] == [(reference, STAFF)] * 3
    assert [e.detail for e in events] == [
        {"from": None, "to": STAFF},
        {"from": STAFF, "to": OTHER},
        {"from": OTHER, "to": None},
    ]
    assert stored(app, reference).assigned_to_id is None


def test_a_disabled_account_cannot_be_given_a_request(app):
    reference = add_submission(app)
    make_user(app, OTHER, "staff")
    with app.app_context():
        nurse = accounts.find(db.session, OTHER)
        nurse.active = False
        db.session.commit()
        submission = db.session.scalar(select(Submission).where(Submission.reference == reference))
        with pytest.raises(ValueError, match="active accounts only"):
            assign(db.session, submission, Actor(), nurse)
    assert stored(app, reference).assigned_to_id is None
    assert audit_events(app, "submission.assigned") == []


def test_assignment_emits_submission_updated_naming_the_change_but_no_one(app):
    reference = add_submission(app)
    make_user(app, STAFF, "staff")
    with app.app_context():
        webhooks.create_endpoint(
            db.session, "https://hooks.example/portal", ["submission.updated"], False
        )
        db.session.commit()
        desk = accounts.find(db.session, STAFF)
        submission = db.session.scalar(select(Submission).where(Submission.reference == reference))
        assign(db.session, submission, Actor(user=desk), desk)
        [message] = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "submission.updated")
        ).all()
        assert message.reference == reference
        assert message.context["data"]["changes"] == ["assigned_to"]
        assert STAFF not in json.dumps(message.context)  # thin: who, the API tells


# --- Assignment on the staff pages --------------------------------------------------------------


def test_assign_to_me_then_to_another_person_then_to_nobody(app, desk):
    reference = add_submission(app)
    url = f"/admin/submissions/{reference}"
    page = desk.get(url).get_data(as_text=True)
    assert re.search(r'<option selected value="">Nobody</option>', page)
    assert ">Assign to me</button>" in page
    # Active staff and admins are offered, each by email.
    for email in (STAFF, OTHER, ADMIN):
        assert f">{email}</option>" in page

    answer = post(desk, f"{url}/assign", {"to": "me", "assigned_to": ""}, page=url)
    assert answer.status_code == 303
    page = desk.get(url).get_data(as_text=True)
    assert "Assigned to you." in page
    assert ">Assign to me</button>" not in page  # it is already
    assert stored(app, reference).assigned_to_id == user_id(app, STAFF)

    nurse = str(user_id(app, OTHER))
    post(desk, f"{url}/assign", {"assigned_to": nurse}, page=url)
    assert f"Assigned to {OTHER}." in desk.get(url).get_data(as_text=True)
    post(desk, f"{url}/assign", {"assigned_to": ""}, page=url)
    assert "Assigned to nobody." in desk.get(url).get_data(as_text=True)
    assert stored(app, reference).assigned_to_id is None
    assert len(audit_events(app, "submission.assigned")) == 3


def test_assigning_to_an_unknown_account_is_refused_and_changes_nothing(app, desk):
    reference = add_submission(app)
    url = f"/admin/submissions/{reference}"
    answer = post(desk, f"{url}/assign", {"assigned_to": "99999"}, page=url)
    assert answer.status_code == 422
    assert "There is a problem" in answer.get_data(as_text=True)
    assert stored(app, reference).assigned_to_id is None


def test_inbox_filters_by_assignment_me_nobody_and_a_person(app, desk):
    mine = add_submission(app, assigned_to_id=user_id(app, STAFF))
    theirs = add_submission(app, assigned_to_id=user_id(app, OTHER))
    nobodys = add_submission(app)
    everyone = set(references_in(desk.get("/admin/").get_data(as_text=True)))
    assert everyone == {mine, theirs, nobodys}
    for value, expected in (
        ("me", [mine]),
        ("nobody", [nobodys]),
        (str(user_id(app, OTHER)), [theirs]),
    ):
        page = desk.get(f"/admin/?assigned_to={value}").get_data(as_text=True)
        assert references_in(page) == expected, value
        # The filter is in the audit trail's record of the inbox, as the others are.
        assert audit_events(app, "inbox.viewed")[-1].detail["assigned_to"] == value
    page = desk.get("/admin/").get_data(as_text=True)
    assert f"<bdi>{OTHER}</bdi>" in row_of(page, theirs)
    assert ">Nobody</span>" in row_of(page, nobodys)


# --- Response times in the inbox and on the submission page -------------------------------------


def test_a_request_waiting_past_the_target_is_marked_overdue_in_words(app, desk):
    now = datetime.now(UTC)
    old = add_submission(app, created_at=now - timedelta(hours=9, minutes=5))
    fresh = add_submission(app, created_at=now - timedelta(hours=2, minutes=10, seconds=20))
    answered = add_submission(
        app,
        created_at=now - timedelta(days=3),
        status="contacted",
        first_response_at=now - timedelta(days=2),
        response_seconds=int(1.5 * HOUR),
    )
    page = desk.get("/admin/").get_data(as_text=True)
    assert re.search(r'<strong class="new-count__number">1</strong> Overdue', page)
    old_row, fresh_row = row_of(page, old), row_of(page, fresh)
    assert "Waiting 9 h 5 min" in old_row and ">Overdue</strong>" in old_row
    assert "Waiting 2 h 10 min" in fresh_row and "Overdue" not in fresh_row
    assert "1 h 30 min" in row_of(page, answered) and "Waiting" not in row_of(page, answered)
    # Free-text hours: the rule below the table says that all hours count.
    assert "Response times count all hours" in page

    page = desk.get("/admin/?status=overdue").get_data(as_text=True)
    assert references_in(page) == [old]


def test_a_request_answered_before_response_times_were_kept_says_so(app, desk):
    reference = add_submission(app, status="closed")
    assert "Not recorded" in row_of(desk.get("/admin/").get_data(as_text=True), reference)


@pytest.mark.parametrize("profile", [WEEKDAYS_PROFILE])
def test_with_opening_hours_a_request_from_weeks_ago_is_overdue_and_a_new_one_is_not(app, desk):
    now = datetime.now(UTC)
    old = add_submission(app, created_at=now - timedelta(days=30))
    fresh = add_submission(app, created_at=now - timedelta(seconds=30))
    page = desk.get("/admin/?status=overdue").get_data(as_text=True)
    assert references_in(page) == [old]
    page = desk.get("/admin/").get_data(as_text=True)
    # Thirty days hold at least four weeks of open days: days of waiting, nine hours each.
    assert re.search(r"Waiting (2[0-2]) days", row_of(page, old))
    assert "Waiting under 1 min" in row_of(page, fresh)
    assert "Response times count business hours only" in page
    assert "a day is one usual open day (9 hours)" in page


def test_longest_waiting_first_puts_the_oldest_waiting_request_on_top(app, desk):
    now = datetime.now(UTC)
    answered_old = add_submission(app, created_at=now - timedelta(days=9), status="scheduled")
    waiting_old = add_submission(app, created_at=now - timedelta(days=5))
    waiting_new = add_submission(app, created_at=now - timedelta(hours=1))
    answered_new = add_submission(app, created_at=now - timedelta(minutes=5), status="closed")
    # Back to New after a response: answered, so it waits for nothing.
    reopened = add_submission(
        app,
        created_at=now - timedelta(days=7),
        first_response_at=now - timedelta(days=6),
        response_seconds=3600,
    )
    newest = desk.get("/admin/").get_data(as_text=True)
    assert references_in(newest) == [answered_new, waiting_new, waiting_old, reopened, answered_old]
    page = desk.get("/admin/?sort=waiting").get_data(as_text=True)
    assert references_in(page) == [waiting_old, waiting_new, answered_new, reopened, answered_old]
    assert "5 submissions, longest waiting first." in page
    assert "Overdue" not in row_of(page, reopened)


def test_moving_a_request_on_records_and_shows_its_first_response(app, desk):
    reference = add_submission(app, created_at=datetime.now(UTC) - timedelta(hours=3, minutes=4))
    url = f"/admin/submissions/{reference}"
    page = desk.get(url).get_data(as_text=True)
    assert "Waiting 3 h 4 min" in page and "First response at" not in page
    post(desk, f"{url}/status", {"status": "contacted"}, page=url)
    page = desk.get(url).get_data(as_text=True)
    answered = stored(app, reference)
    assert answered.first_response_by_id == user_id(app, STAFF)
    assert re.search(r"<dt>First response at</dt>\s*<dd><time datetime=", page)
    assert re.search(rf"<dt>First response by</dt>\s*<dd><bdi>{re.escape(STAFF)}</bdi>", page)
    assert re.search(r"<dt>Response time</dt>\s*<dd>3 h 4 min</dd>", page)


# --- Exports ------------------------------------------------------------------------------------


def test_exports_name_the_assignee_and_the_first_response(app, client):
    make_user(app, ADMIN, "admin")
    make_user(app, STAFF, "staff")
    answered = add_submission(app, created_at=datetime(2026, 7, 6, 13, tzinfo=UTC))
    waiting = add_submission(app, created_at=datetime(2026, 7, 7, 13, tzinfo=UTC))
    with app.app_context():
        desk = accounts.find(db.session, STAFF)
        submission = db.session.scalar(select(Submission).where(Submission.reference == answered))
        assign(db.session, submission, Actor(user=desk), desk)
        set_status(db.session, submission, Actor(user=desk), "contacted")
        # As if answered at 3:30 pm Boston time, 45 minutes after it came in.
        submission.first_response_at = datetime(2026, 7, 6, 19, 30, tzinfo=UTC)
        submission.response_seconds = 45 * 60
        db.session.commit()
    sign_in(client, ADMIN)
    data = client.get("/admin/export.csv").get_data().decode("utf-8-sig")
    rows = {r["Reference"]: r for r in csv.DictReader(io.StringIO(data))}
    headers = list(rows[answered])
    at = headers.index("Status") + 1
    assert headers[at : at + 4] == [
        "Assigned to",
        "First response at",
        "First response by",
        "Response time (business hours)",
    ]
    assert rows[answered]["Assigned to"] == STAFF
    assert rows[answered]["First response at"] == "2026-07-06T15:30:00-04:00"
    assert rows[answered]["First response by"] == STAFF
    assert rows[answered]["Response time (business hours)"] == "0.75"
    for header in headers[at : at + 4]:
        assert rows[waiting][header] == ""

    [item] = [i for i in client.get("/admin/export.json").get_json() if i["reference"] == answered]
    assert item["assigned_to"] == STAFF and item["response_hours"] == "0.75"
    sheet = load_workbook(io.BytesIO(client.get("/admin/export.xlsx").get_data())).active
    header = [cell.value for cell in sheet[1]]
    assert header[at : at + 4] == headers[at : at + 4]
