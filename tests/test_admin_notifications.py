"""A submission's emails in the staff area: their state in the inbox, the details on the
submission's page, and the Resend button (audited)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal import outbox
from portal.extensions import db
from portal.models import OutboxMessage

from .admin_helpers import STAFF, XSS, add_submission, audit_events, make_user, post, sign_in


@pytest.fixture
def staff(app, client):
    make_user(app, STAFF, "staff")
    sign_in(client, STAFF)
    return client


def only_reference(page: str) -> str:
    [reference] = re.findall(r'class="reference-link" href="/admin/submissions/([A-Z0-9-]+)"', page)
    return reference


def messages(app) -> list[OutboxMessage]:
    with app.app_context():
        found = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        db.session.expunge_all()
        return found


def notification_cell(page: str) -> str:
    return page.split('data-label="Notification">', 1)[1].split("</td>", 1)[0]


def test_inbox_shows_the_state_of_a_submissions_emails(app, staff, post_appointment):
    post_appointment()
    page = staff.get("/admin/").get_data(as_text=True)
    assert "Queued" in notification_cell(page)
    with app.app_context():
        outbox.Worker().run(once=True)  # no MAIL_SERVER: written as .eml files
    assert "Sent" in notification_cell(staff.get("/admin/").get_data(as_text=True))
    with app.app_context():
        first = db.session.scalar(select(OutboxMessage).order_by(OutboxMessage.id))
        first.status = "failed"
        db.session.commit()
    # One failed email is what the front desk must see, whatever the others did.
    assert "Failed" in notification_cell(staff.get("/admin/").get_data(as_text=True))


def test_submission_without_emails_says_so(app, staff):
    add_submission(app)
    assert "None" in notification_cell(staff.get("/admin/").get_data(as_text=True))


def test_submission_page_lists_each_email_with_attempts_and_last_error(
    app, staff, post_appointment
):
    post_appointment()
    reference = only_reference(staff.get("/admin/").get_data(as_text=True))
    with app.app_context():
        notification = db.session.scalar(
            select(OutboxMessage).where(OutboxMessage.template == "email/notification")
        )
        notification.status = "failed"
        notification.attempts = 7
        notification.last_error = f"550 mailbox unavailable {XSS}"
        db.session.commit()
    page = staff.get(f"/admin/submissions/{reference}").get_data(as_text=True)
    section = page.split('id="notifications-title"', 1)[1].split("</section>", 1)[0]
    assert "Front-desk notification" in section and "Patient acknowledgement" in section
    assert "<dt>Attempts</dt><dd>7</dd>" in section
    assert "550 mailbox unavailable &lt;script&gt;" in section and "<script>" not in section
    assert section.count(">Resend<") == 2


def test_resend_queues_the_email_again_and_is_audited(app, staff, post_appointment):
    post_appointment()
    reference = only_reference(staff.get("/admin/").get_data(as_text=True))
    with app.app_context():
        message = db.session.scalar(
            select(OutboxMessage).where(OutboxMessage.template == "email/notification")
        )
        message.status = "failed"
        message.last_error = "550 no such user"
        db.session.commit()
        message_id = message.id
    response = post(
        staff,
        f"/admin/submissions/{reference}/resend",
        {"message": str(message_id)},
        page=f"/admin/submissions/{reference}",
    )
    assert response.status_code == 303
    resent = next(m for m in messages(app) if m.id == message_id)
    assert resent.status == "queued"
    assert "will be sent again" in staff.get(response.headers["Location"]).get_data(as_text=True)
    [event] = audit_events(app, "notification.resent")
    assert event.actor == STAFF and event.target == reference
    assert event.detail == {"email": "Front-desk notification", "previous_status": "failed"}
    with app.app_context():
        assert outbox.Worker().run(once=True) >= 1
    assert next(m for m in messages(app) if m.id == message_id).status == "sent"


def test_resend_only_touches_this_submissions_own_emails(app, staff, post_appointment):
    post_appointment()
    other = add_submission(app)
    message_id = messages(app)[0].id
    response = post(
        staff, f"/admin/submissions/{other}/resend", {"message": str(message_id)}, page="/admin/"
    )
    assert response.status_code == 404
    bogus = post(staff, f"/admin/submissions/{other}/resend", {"message": "x"}, page="/admin/")
    assert bogus.status_code == 404
    assert not audit_events(app, "notification.resent")
