"""The Outbox page: counts, failed and waiting emails with the server's answer; admins retry
(all, after confirming, or one), mark failed notifications handled and send a test email; the
same retry from the command line; `outbox status` says whether delivery is in trouble."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update

from portal import outbox
from portal.extensions import db
from portal.models import OutboxMessage, utcnow
from portal.outbox import trouble

from .admin_helpers import ADMIN, STAFF, audit_events, csrf_token, make_user, sign_in
from .smtp import SMTPServer

REFUSED = "SMTPRecipientsRefused: 550 5.1.1 mailbox unavailable"
PATIENT = "siobhan@example.com"  # VALID_APPOINTMENT's address


def fail_notifications(app: Flask) -> int:
    """Fail the front desk's notifications as a refusing server would; returns the first id."""
    with app.app_context():
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.template == "email/notification")
            .values(status="failed", attempts=1, last_error=REFUSED)
        )
        db.session.commit()
        return db.session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.template == "email/notification")
        )


def row(app: Flask, message_id: int) -> OutboxMessage:
    with app.app_context():
        message = db.session.get(OutboxMessage, message_id)
        db.session.expunge(message)
        return message


@pytest.fixture
def admin(app: Flask, client):
    make_user(app, ADMIN, "admin")
    sign_in(client, ADMIN)
    return client


@pytest.fixture
def staff(app: Flask):
    make_user(app, STAFF, "staff")
    staff = app.test_client()
    sign_in(staff, STAFF)
    return staff


def post(client, url: str, **data: str):
    return client.post(url, data={"csrf_token": csrf_token(client, "/admin/outbox"), **data})


def test_outbox_page_counts_and_lists_failed_and_waiting_emails(app, admin, post_appointment):
    post_appointment()
    fail_notifications(app)
    page = admin.get("/admin/outbox")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "<strong>1</strong> Queued" in text and "<strong>1</strong> Failed" in text
    assert "Front desk" in text and "Patient" in text
    assert "550 5.1.1 mailbox unavailable" in text
    assert "SMTPRecipientsRefused" not in text  # the server's words, not Python's
    assert "front-desk@localhost" in text and PATIENT in text  # admins see recipients
    assert "Retry all failed" in text and "Mark as handled" in text
    assert 'href="/admin/outbox" aria-current="page">Outbox</a>' in text


def test_staff_read_the_outbox_without_addresses_or_actions(app, staff, post_appointment):
    post_appointment()
    message_id = fail_notifications(app)
    text = staff.get("/admin/outbox").get_data(as_text=True)
    assert "550 5.1.1 mailbox unavailable" in text and "Front desk" in text
    assert "front-desk@localhost" not in text and PATIENT not in text
    assert "Retry all failed" not in text and "Mark as handled" not in text
    assert ">Outbox</a>" in staff.get("/admin/").get_data(as_text=True)
    for url in ("/admin/outbox/retry", "/admin/outbox/handled"):
        assert post(staff, url, message=str(message_id)).status_code == 403
    assert post(staff, "/admin/outbox/retry-failed").status_code == 403
    assert staff.get("/admin/outbox/retry-failed").status_code == 403
    assert post(staff, "/admin/outbox/test", email="x@example.org").status_code == 403
    assert row(app, message_id).status == "failed"


def test_retry_all_failed_asks_to_confirm_then_requeues_and_is_audited(
    app, admin, post_appointment
):
    post_appointment()
    post_appointment()
    message_id = fail_notifications(app)
    confirm = admin.get("/admin/outbox/retry-failed")
    text = confirm.get_data(as_text=True)
    assert "2 failed emails that nobody has marked as handled" in text
    assert "Front desk: 2" in text and "Yes, retry all failed" in text
    assert row(app, message_id).status == "failed"  # the confirmation page changes nothing
    assert post(admin, "/admin/outbox/retry-failed").status_code == 303
    with app.app_context():
        statuses = db.session.scalars(
            select(OutboxMessage.status).where(OutboxMessage.template == "email/notification")
        ).all()
    assert statuses == ["queued", "queued"]
    (event,) = audit_events(app, "outbox.retry_failed")
    assert event.actor == ADMIN and event.ip == "127.0.0.1"
    assert event.detail == {"messages": 2, "kinds": {"Front desk": 2}}
    assert "2 failed emails will be sent again" in admin.get("/admin/outbox").get_data(as_text=True)


def test_retry_all_failed_leaves_handled_emails_alone(app, admin, post_appointment):
    post_appointment()
    message_id = fail_notifications(app)
    assert post(admin, "/admin/outbox/handled", message=str(message_id)).status_code == 303
    assert post(admin, "/admin/outbox/retry-failed").status_code == 303
    assert row(app, message_id).status == "failed"
    assert audit_events(app, "outbox.retry_failed")[0].detail["messages"] == 0


def test_mark_as_handled_ends_the_trouble_and_is_audited(app, admin, post_appointment):
    post_appointment()
    message_id = fail_notifications(app)
    assert admin.get("/healthz/delivery").status_code == 503
    assert post(admin, "/admin/outbox/handled", message=str(message_id)).status_code == 303
    handled = row(app, message_id)
    assert handled.status == "failed" and handled.handled_by == ADMIN and handled.handled_at
    (event,) = audit_events(app, "outbox.handled")
    assert event.target == handled.reference and event.detail == {"email": "Front desk"}
    assert admin.get("/healthz/delivery").status_code == 200
    assert f"handled by {ADMIN}" in admin.get("/admin/outbox").get_data(as_text=True)
    # Retried and failed again: trouble again, until someone deals with it once more.
    assert post(admin, "/admin/outbox/retry", message=str(message_id)).status_code == 303
    assert row(app, message_id).handled_at is None
    fail_notifications(app)
    assert admin.get("/healthz/delivery").status_code == 503


def test_only_a_failed_email_can_be_marked_handled(app, admin, post_appointment):
    post_appointment()
    with app.app_context():
        queued = db.session.scalar(select(OutboxMessage.id))
    assert post(admin, "/admin/outbox/handled", message=str(queued)).status_code == 404
    assert post(admin, "/admin/outbox/handled", message="999999").status_code == 404
    assert post(admin, "/admin/outbox/retry", message="not-a-number").status_code == 400
    assert audit_events(app, "outbox.handled") == []


def test_retry_one_email_is_audited_without_its_address(app, admin, post_appointment):
    post_appointment()
    message_id = fail_notifications(app)
    assert post(admin, "/admin/outbox/retry", message=str(message_id)).status_code == 303
    assert row(app, message_id).status == "queued"
    (event,) = audit_events(app, "outbox.retried")
    assert event.detail == {"email": "Front desk", "previous_status": "failed"}
    assert "@" not in str(event.detail) and event.target == row(app, message_id).reference


def test_send_a_test_email_through_the_outbox_and_see_its_outcome(
    smtp_server: SMTPServer, app, admin
):
    response = post(admin, "/admin/outbox/test", email="  Office.Manager@Practice.example ")
    assert response.status_code == 303
    assert "Test email TEST-" in admin.get("/admin/outbox").get_data(as_text=True)
    (event,) = audit_events(app, "outbox.test_email")
    assert event.actor == ADMIN and event.target == "office.manager@practice.example"
    text = admin.get("/admin/outbox").get_data(as_text=True)
    assert "Queued: not sent yet" in text
    with app.app_context():
        outbox.Worker().run(once=True)
    (received,) = smtp_server.wait_for(1)
    assert received.rcpt_tos == ["office.manager@practice.example"]
    assert received.message["Subject"].startswith("Test email from the ")
    assert "email delivery works" in received.message.get_body(("plain",)).get_content()
    assert "Delivered to the mail server" in admin.get("/admin/outbox").get_data(as_text=True)


def test_a_refused_test_email_shows_the_server_answer_and_is_not_trouble(
    smtp_server: SMTPServer, app, admin
):
    smtp_server.handler.rcpt_answers["nobody@practice.example"] = "550 5.1.1 no such user"
    post(admin, "/admin/outbox/test", email="nobody@practice.example")
    with app.app_context():
        outbox.Worker().run(once=True)
        assert not trouble.evaluate(db.session).active
    text = admin.get("/admin/outbox").get_data(as_text=True)
    assert "550 5.1.1 no such user" in text and ">Failed<" in text


@pytest.mark.parametrize(
    "typed", ["", "not an address", "a@b@c.example", "x" * 250 + "@example.org"]
)
def test_test_email_address_is_validated(app, admin, typed):
    response = post(admin, "/admin/outbox/test", email=typed)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "<title>Error: Outbox" in text and 'aria-invalid="true"' in text
    assert ("Enter an email address" in text) == (len(typed) < 254)
    assert audit_events(app, "outbox.test_email") == []
    with app.app_context():
        assert db.session.scalar(select(OutboxMessage.id)) is None


def test_retry_failed_command_is_the_same_action_audited_as_command_line(
    app, runner, post_appointment
):
    post_appointment()
    message_id = fail_notifications(app)
    result = runner.invoke(args=["outbox", "retry-failed"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 failed email(s) queued again."
    assert row(app, message_id).status == "queued"
    (event,) = audit_events(app, "outbox.retry_failed")
    assert event.actor == "command line" and event.user_id is None


def test_status_command_says_whether_delivery_is_in_trouble_and_why(app, runner, post_appointment):
    result = runner.invoke(args=["outbox", "status"])
    assert result.exit_code == 0 and result.output.splitlines()[-1] == "delivery: ok"
    post_appointment()
    fail_notifications(app)
    with app.app_context():
        trouble.check()
    lines = runner.invoke(args=["outbox", "status"]).output.splitlines()
    assert lines[5].startswith("delivery: TROUBLE since ")
    assert lines[5].endswith(" UTC (notification_failed)")
    assert (
        lines[6]
        == "  1 front-desk notification could not be delivered (the mail server said 550 5.1.1)."
    )
    assert lines[7] == "  the mail server said: 550 5.1.1 mailbox unavailable"
    assert lines[8] == "  fix the cause, then: flask --app portal outbox retry-failed"

    with app.app_context():
        db.session.execute(
            update(OutboxMessage).values(
                status="queued", queued_at=utcnow() - timedelta(minutes=20)
            )
        )
        db.session.commit()
    lines = runner.invoke(args=["outbox", "status"]).output.splitlines()
    assert "(outbox_stuck)" in lines[5]
    assert lines[6].startswith("  The oldest email has waited 20 minutes")


def test_outbox_names_who_each_message_was_for_webhooks_included():
    from portal.services.delivery import kind_of

    assert kind_of("email/notification") == "Front desk"
    assert kind_of("email/acknowledgement") == "Patient"
    assert kind_of("email/test") == "Test"
    assert kind_of("submission.created") == "Webhook"
    assert kind_of("email/something-new") == "Other"
