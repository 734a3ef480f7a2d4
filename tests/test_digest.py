"""The front desk's daily digest: once each business day at DIGEST_TIME, whatever the workers."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from portal import create_app, digest, outbox
from portal.extensions import db
from portal.models import DigestRun, OutboxMessage
from portal.practice import Practice
from portal.practice.hours import DAYS, OpeningHours

from .admin_helpers import add_submission
from .conftest import TEST_SETTINGS
from .smtp import SMTPServer

BOSTON = ZoneInfo("America/New_York")
# Monday 30 November 2026, 8 am in Boston: a business day, after the default 07:30.
MONDAY_8AM = datetime(2026, 11, 30, 8, tzinfo=BOSTON).astimezone(UTC)
HOURS = OpeningHours(
    days={day: [(time(7), time(16))] for day in DAYS[:5]}, holidays=[date(2026, 12, 25)]
)
FRONT_DESK = ["desk@practice.example", "lead@practice.example"]


def local(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BOSTON).astimezone(UTC)


def digests(app: Flask) -> list[OutboxMessage]:
    with app.app_context():
        found = list(
            db.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.template == digest.TEMPLATE)
                .order_by(OutboxMessage.id)
            )
        )
        db.session.expunge_all()
        return found


def runs(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(DigestRun)) or 0)


@pytest.fixture
def desk_app(settings: dict, make_app) -> Flask:
    """The portal with two front-desk addresses, structured opening hours and the digest on."""
    app = make_app(FRONT_DESK_EMAILS=FRONT_DESK, DIGEST_TIME="07:30")
    app.extensions["practice"] = Practice(hours=HOURS)
    with app.app_context():
        db.create_all()
    return app


def test_two_workers_at_once_send_one_digest_a_day(
    settings: dict, smtp_server: SMTPServer, make_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(FRONT_DESK_EMAILS=FRONT_DESK, DIGEST_TIME="07:30")
    with app.app_context():
        db.create_all()
    add_submission(app, created_at=MONDAY_8AM - timedelta(hours=30))
    monkeypatch.setattr(digest, "utcnow", lambda: MONDAY_8AM)
    # Both workers find the digest due and unsent before either claims the day.
    both_looked = threading.Barrier(2, timeout=10)
    compose = digest.compose

    def compose_together(*args: Any) -> dict[str, Any]:
        context = compose(*args)
        both_looked.wait()
        return context

    monkeypatch.setattr(digest, "compose", compose_together)
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            with app.app_context():
                outbox.Worker(name=name).run(once=True)
        except BaseException as error:  # noqa: BLE001 -- reported by the test below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(f"worker-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert runs(app) == 1
    received = smtp_server.wait_for(2)
    assert sorted(address for r in received for address in r.rcpt_tos) == sorted(FRONT_DESK)
    assert {m.status for m in digests(app)} == {"sent"}
    # A later poll the same day sends nothing more.
    with app.app_context():
        assert digest.send_scheduled(MONDAY_8AM + timedelta(hours=5)).reason == (
            "already sent today"
        )
    assert len(digests(app)) == 2


@pytest.mark.parametrize(
    ("now", "why"),
    [
        (local(28, 9), "a Saturday"),
        (local(29, 9), "a Sunday"),
        (local(25, 9, month=12), "a holiday"),
        (local(30, 7, 29), "before DIGEST_TIME"),
    ],
)
def test_no_digest_on_weekends_holidays_or_before_its_time(
    desk_app: Flask, now: datetime, why: str
) -> None:
    with desk_app.app_context():
        assert digest.send_scheduled(now).queued == 0, why
    assert digests(desk_app) == [] and runs(desk_app) == 0


def test_the_digest_goes_at_digest_time_on_a_business_day(desk_app: Flask) -> None:
    with desk_app.app_context():
        outcome = digest.send_scheduled(local(30, 7, 30))
    assert (outcome.queued, outcome.reason) == (2, "queued")
    assert [m.recipient for m in digests(desk_app)] == FRONT_DESK


def test_free_text_hours_make_monday_to_friday_the_business_days() -> None:
    practice = Practice(hours="Weekdays 9 to 5")
    assert digest.is_business_day(practice, date(2026, 11, 27))  # a Friday
    assert not digest.is_business_day(practice, date(2026, 11, 28))


def test_an_empty_digest_time_turns_it_off(settings: dict, make_app) -> None:
    app = make_app(DIGEST_TIME="")
    with app.app_context():
        db.create_all()
        assert digest.send_scheduled(MONDAY_8AM).reason == "not due"
    assert digests(app) == []


@pytest.mark.parametrize("value", ["7:30", "25:00", "07:30 am", 730])
def test_a_digest_time_that_is_no_time_is_refused_at_start(value: object) -> None:
    with pytest.raises(RuntimeError, match="DIGEST_TIME"):
        create_app({**TEST_SETTINGS, "DIGEST_TIME": value})


def test_dry_run_prints_the_digest_and_queues_nothing(desk_app: Flask) -> None:
    reference = add_submission(desk_app)
    result = desk_app.test_cli_runner().invoke(args=["digest", "send", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "To: desk@practice.example, lead@practice.example" in result.output
    assert "Waiting (New): 1" in result.output and reference in result.output
    assert "/admin/dashboard" in result.output
    assert digests(desk_app) == [] and runs(desk_app) == 0


def test_send_now_counts_as_todays_digest(desk_app: Flask, monkeypatch) -> None:
    monkeypatch.setattr(digest, "utcnow", lambda: MONDAY_8AM)
    runner: FlaskCliRunner = desk_app.test_cli_runner()
    result = runner.invoke(args=["digest", "send"])
    assert result.exit_code == 0, result.output
    assert "queued for 2 recipient(s)" in result.output
    with desk_app.app_context():
        assert digest.send_scheduled(MONDAY_8AM).reason == "already sent today"
    assert len(digests(desk_app)) == 2


def test_new_since_the_last_digest(desk_app: Flask) -> None:
    add_submission(desk_app, created_at=local(27, 12))
    with desk_app.app_context():
        digest.send_scheduled(local(30, 7, 30))
    add_submission(desk_app, created_at=local(30, 10))
    add_submission(desk_app, created_at=local(30, 15))
    with desk_app.app_context():
        digest.send_scheduled(local(1, 7, 45, month=12))
    first, _, second, _ = digests(desk_app)
    assert first.context["new_since"] == 0 and first.context["first"]  # Friday is > 24 h ago
    assert second.context["new_since"] == 2 and not second.context["first"]
    assert second.context["waiting"] == 3
    # Friday noon to Tuesday 7:45: 4 h Friday, 9 h Monday, 45 min Tuesday: 13 h 45 min, worded
    # as the inbox words it, a day being the practice's usual open day (9 h).
    assert second.context["oldest_waited"] == "1 day 4 h"
    assert second.context["overdue"] == 1  # Monday 10 am has waited 6 h 45 min: not yet


def test_the_digest_holds_references_and_counts_but_no_patient_data(
    desk_app: Flask, tmp_path
) -> None:
    patient = {
        "first_name": "Siobhán",
        "last_name": "O'Hara",
        "phone": "+16175550123",
        "email": "siobhan@example.com",
        "message": "My knee hurts.",
    }
    reference = add_submission(desk_app, created_at=local(27, 9), **patient)
    with desk_app.app_context():
        digest.send_scheduled(local(30, 7, 30))
        outbox.Worker(name="w").run(once=True)
    mail = list((tmp_path / "instance" / "mail").glob("*.eml"))
    assert len(mail) == 2
    text = mail[0].read_text()
    assert reference in text and "Overdue" in text and "/admin/dashboard" in text
    for value in [*patient.values(), "6175550123", "Siobh", "Hara"]:
        assert value not in text
