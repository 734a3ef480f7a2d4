"""/healthz: 200 with JSON while the database answers (503 otherwise), for load balancers;
/healthz/delivery: 503 during delivery trouble, for monitors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from portal.extensions import db, limiter
from portal.models import DeliveryState, OutboxMessage


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
    # A monitor's check: /healthz/delivery answers 503 while the outbox is stuck.
    response = client.get("/healthz/delivery")
    assert response.status_code == 503
    report = response.get_json()
    assert report["status"] == "fail"
    assert report["database"] == {"reachable": True}
    assert report["delivery"] == "trouble" and report["reason"] == "outbox_stuck"
    assert report["oldest_pending_age_seconds"] > 15 * 60
    # /healthz reports the same outbox, and stays 200 for the load balancer.
    response = client.get("/healthz")
    assert response.status_code == 200
    report = response.get_json()
    assert report["outbox"]["ok"] is False
    assert report["outbox"]["oldest_pending_age_seconds"] > 15 * 60
    assert report["delivery"] == "trouble" and report["reason"] == "outbox_stuck"


def test_retrying_messages_are_pending_too(app, client, post_appointment):
    post_appointment()
    age_outbox(app, minutes=20, status="retrying")
    assert client.get("/healthz/delivery").status_code == 503


@pytest.mark.parametrize("status", ["sent", "failed"])
def test_sent_and_failed_messages_are_not_pending(app, client, post_appointment, status):
    post_appointment()
    age_outbox(app, minutes=60, status=status)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["outbox"]["pending"] == 0
    assert response.get_json()["outbox"]["ok"] is True


def test_the_age_limit_is_a_setting(settings, app, client, post_appointment):
    post_appointment()
    age_outbox(app, minutes=2)
    assert client.get("/healthz/delivery").status_code == 200
    app.config["HEALTH_OUTBOX_MAX_AGE"] = 60
    assert client.get("/healthz/delivery").status_code == 503
    assert client.get("/healthz").status_code == 200  # the load balancer's check is unmoved
    app.config["HEALTH_OUTBOX_MAX_AGE"] = 0  # off: the outbox's age is never trouble
    assert client.get("/healthz/delivery").status_code == 200


def test_database_down_gives_503(settings, database_url, make_app, tmp_path):
    if database_url.startswith("sqlite"):
        settings["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path}/missing/dir/db.sqlite3"
    else:  # nothing listens on port 1
        settings["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://postgres@127.0.0.1:1/test"
    response = make_app().test_client().get("/healthz")
    assert response.status_code == 503
    report = response.get_json()
    assert report["status"] == "fail"
    assert report["database"]["reachable"] is False
    assert response.headers["Content-Security-Policy"]


def test_health_checks_are_exempt_from_a_default_rate_limit(settings, app, make_app, monkeypatch):
    """A load balancer or monitor polls far more often than any limit a deployment may set."""
    # The one module-level limiter keeps the first default limit it is given, across app
    # instances: the apps of later tests must not inherit this one's.
    monkeypatch.setattr(limiter.limit_manager, "_default_limits", [])
    app.config["SUBMISSION_RATE_LIMIT"] = "1 per minute"
    assert {app.test_client().get("/healthz").status_code for _ in range(20)} == {200}
    # A limit on every route (Flask-Limiter's RATELIMIT_DEFAULT) leaves both checks alone...
    client = make_app(RATELIMIT_DEFAULT="1 per minute").test_client()
    assert {client.get("/healthz").status_code for _ in range(5)} == {200}
    assert {client.get("/healthz/delivery").status_code for _ in range(5)} == {200}
    # ...while it holds on a page that is not exempt: the limit above was in force.
    assert [client.get("/contact-us").status_code for _ in range(2)] == [200, 429]


def fail_messages(app, template: str, error: str = "SMTPRecipientsRefused: 550 5.1.1 <desk@x>"):
    """Mark every message of one template failed, as the worker does when a server refuses it."""
    with app.app_context():
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.template == template)
            .values(status="failed", attempts=1, last_error=error)
        )
        db.session.commit()


def set_delivery_state(app, **values) -> None:
    """Write the workers' shared row, as the delivery engine does after each attempt."""
    with app.app_context():
        db.session.merge(DeliveryState(id=1, **values))
        db.session.commit()


def test_healthy_delivery_answers_200_with_status_reason_and_age_only(client):
    response = client.get("/healthz/delivery")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_json() == {
        "status": "ok",
        "database": {"reachable": True},
        "delivery": "ok",
        "reason": None,
        "reasons": [],
        "trouble_age_seconds": None,
        "oldest_pending_age_seconds": None,
    }
    assert client.get("/healthz").get_json()["delivery"] == "ok"


def test_failed_front_desk_notification_is_trouble_until_handled(app, client, post_appointment):
    post_appointment()
    fail_messages(app, "email/notification")
    response = client.get("/healthz/delivery")
    assert response.status_code == 503
    report = response.get_json()
    assert report["reason"] == "notification_failed"
    assert 0 <= report["trouble_age_seconds"] < 60
    # Status, reason codes and ages: no address, no count of patients or messages.
    body = response.get_data(as_text=True)
    assert "@" not in body and "550" not in body
    assert set(report) == {
        "status",
        "database",
        "delivery",
        "reason",
        "reasons",
        "trouble_age_seconds",
        "oldest_pending_age_seconds",
    }
    liveness = client.get("/healthz")
    assert liveness.status_code == 200
    assert liveness.get_json()["delivery"] == "trouble"
    assert liveness.get_json()["reason"] == "notification_failed"

    with app.app_context():
        message = db.session.scalar(
            select(OutboxMessage).where(OutboxMessage.template == "email/notification")
        )
        message.handled_at = datetime.now(UTC)
        db.session.commit()
    assert client.get("/healthz/delivery").status_code == 200


def test_a_failed_patient_acknowledgement_alone_is_not_trouble(app, client, post_appointment):
    post_appointment()
    fail_messages(app, "email/acknowledgement")
    with app.app_context():
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.template == "email/notification")
            .values(status="sent")
        )
        db.session.commit()
    assert client.get("/healthz/delivery").status_code == 200


def test_delivery_alarm_after_failed_attempts_in_a_row(app, client):
    set_delivery_state(app, consecutive_failures=4, last_error="SMTPDataError: 451 4.3.0 later")
    assert client.get("/healthz/delivery").status_code == 200
    set_delivery_state(app, consecutive_failures=5, last_error="SMTPDataError: 451 4.3.0 later")
    response = client.get("/healthz/delivery")
    assert response.status_code == 503
    assert response.get_json()["reason"] == "attempts_failing"
    app.config["DELIVERY_ALARM_AFTER"] = 6
    assert client.get("/healthz/delivery").status_code == 200


@pytest.mark.parametrize(
    ("last_error", "reason"),
    [
        ("SMTPAuthenticationError: 535 5.7.8 Authentication credentials invalid", "mail_auth"),
        ("SSLCertVerificationError: certificate verify failed: self-signed", "mail_tls"),
    ],
)
def test_configuration_errors_have_their_own_reason(app, client, last_error, reason):
    set_delivery_state(app, consecutive_failures=5, last_error=last_error)
    report = client.get("/healthz/delivery").get_json()
    assert report["reason"] == reason and report["reasons"] == [reason]


def test_database_down_gives_503_on_the_delivery_check_too(
    settings, database_url, make_app, tmp_path
):
    if database_url.startswith("sqlite"):
        settings["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path}/missing/dir/db.sqlite3"
    else:
        settings["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://postgres@127.0.0.1:1/test"
    response = make_app().test_client().get("/healthz/delivery")
    assert response.status_code == 503
    assert response.get_json()["database"]["reachable"] is False
