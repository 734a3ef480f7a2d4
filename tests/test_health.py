"""/healthz: 200 with JSON while the database answers and the outbox moves; 503 otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from portal import create_app
from portal.extensions import db
from portal.models import OutboxMessage


def age_outbox(app, minutes: float, status: str | None = None) -> None:
    """Make every message look as if it had been queued this many minutes ago."""
    values: dict = {"queued_at": datetime.now(UTC) - timedelta(minutes=minutes)}
    if status:
        values["status"] = status
    with app.app_context():
        db.session.execute(update(OutboxMessage).values(**values))
        db.session.commit()


def test_healthy_portal_answers_200_with_json(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    report = response.get_json()
    assert report["status"] == "ok"
    assert report["database"] == {"reachable": True}
    assert report["outbox"]["pending"] == 0
    assert report["outbox"]["oldest_pending_age_seconds"] is None
    assert report["outbox"]["max_age_seconds"] == 15 * 60


def test_pending_messages_are_counted_with_the_age_of_the_oldest(app, client, post_appointment):
    post_appointment()  # the front desk's notification and the patient's acknowledgement
    age_outbox(app, minutes=5)
    report = client.get("/healthz").get_json()
    assert report["status"] == "ok"
    assert report["outbox"]["pending"] == 2
    assert 299 <= report["outbox"]["oldest_pending_age_seconds"] <= 330


def test_outbox_stuck_past_fifteen_minutes_gives_503(app, client, post_appointment):
    post_appointment()
    age_outbox(app, minutes=16)
    response = client.get("/healthz")
    assert response.status_code == 503
    report = response.get_json()
    assert report["status"] == "fail"
    assert report["database"] == {"reachable": True}
    assert report["outbox"]["ok"] is False
    assert report["outbox"]["oldest_pending_age_seconds"] > 15 * 60


def test_retrying_messages_are_pending_too(app, client, post_appointment):
    post_appointment()
    age_outbox(app, minutes=20, status="retrying")
    assert client.get("/healthz").status_code == 503


@pytest.mark.parametrize("status", ["sent", "failed"])
def test_sent_and_failed_messages_are_not_pending(app, client, post_appointment, status):
    post_appointment()
    age_outbox(app, minutes=60, status=status)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["outbox"]["pending"] == 0


def test_the_age_limit_is_a_setting(settings, app, client, post_appointment):
    post_appointment()
    age_outbox(app, minutes=2)
    assert client.get("/healthz").status_code == 200
    app.config["HEALTH_OUTBOX_MAX_AGE"] = 60
    assert client.get("/healthz").status_code == 503
    app.config["HEALTH_OUTBOX_MAX_AGE"] = 0  # off: only the database can fail the check
    assert client.get("/healthz").status_code == 200


def test_database_down_gives_503(settings, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path / "instance"))
    if database_url.startswith("sqlite"):
        settings["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path}/missing/dir/db.sqlite3"
    else:  # nothing listens on port 1
        settings["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://postgres@127.0.0.1:1/test"
    response = create_app(settings).test_client().get("/healthz")
    assert response.status_code == 503
    report = response.get_json()
    assert report["status"] == "fail"
    assert report["database"]["reachable"] is False
    assert response.headers["Content-Security-Policy"]


def test_health_checks_are_never_rate_limited(settings, app, client):
    app.config["SUBMISSION_RATE_LIMIT"] = "1 per minute"
    assert {client.get("/healthz").status_code for _ in range(20)} == {200}
