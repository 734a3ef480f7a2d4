"""The outbox: what a submission is told was received reaches the front desk, whatever the mail
server does. Every test sends through Flask-Mail to a real SMTP server (aiosmtpd on 127.0.0.1),
or to .eml files when no server is set; nothing is mocked."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import ssl
import stat
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from email.header import decode_header, make_header
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import select

from portal import outbox
from portal.extensions import db, mail
from portal.models import DeliveryState, OutboxMessage, Submission, utcnow
from portal.outbox.ledger import Ledger

from .helpers import VALID_APPOINTMENT, VALID_CONTACT, form_tokens
from .smtp import PLAIN_SMTP, PLAIN_SMTP_ENV, SMTPServer, StallingServer, free_port

ROOT = Path(__file__).resolve().parent.parent
FRONT_DESK = "desk@practice.example"
SENDER = "Clínica Ñandú <no-reply@practice.example>"
# What the patient typed that must not appear in a default notification (tests/helpers.py).
APPOINTMENT_PHI = [
    "Siobhán",
    "Siobh",
    "O'Hara",
    "O&#39;Hara",
    "Knee pain",
    "siobhan@example.com",
    "253-1000",
    "6172531000",
    "March 27",
    "1980-03-27",
    "Blue Cross",
    "Nguy",
]


# --- helpers ----------------------------------------------------------------------------------


def configure(app: Flask, **settings) -> None:
    """Change settings of a created app, Flask-Mail's included (it reads them when bound)."""
    app.config.update(settings)
    mail.init_app(app)


def deliver(app: Flask, **settings) -> int:
    """Run one worker until nothing queued before now is due (`outbox run --once`)."""
    app.config.update(settings)
    with app.app_context():
        return outbox.Worker().run(once=True)


def messages(app: Flask) -> list[OutboxMessage]:
    """Every outbox row, in the order queued, detached from any session."""
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        db.session.expunge_all()
        return list(rows)


def queue(app: Flask, recipients: list[str], template: str = "email/acknowledgement", **kw):
    """Queue one message per recipient and commit, as a caller's transaction would."""
    with app.app_context():
        for n, recipient in enumerate(recipients):
            outbox.queue(
                db.session,
                recipient=recipient,
                subject=f"Test {n} — ünïcode",
                template=kw.get("template_for", {}).get(recipient, template),
                context={"reference": f"REF-{n}", "form": "contact", "noun": "message"},
                reply_to=kw.get("reply_to"),
                reference=f"REF-{n}",
            )
        db.session.commit()


def make_due(app: Flask) -> None:
    """Bring every pending retry, and the workers' shared backoff, forward to now (instead of
    waiting them out)."""
    with app.app_context():
        db.session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.status.in_(outbox.PENDING))
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        db.session.execute(
            sa.update(DeliveryState)
            .where(DeliveryState.backoff_until.is_not(None))
            .values(backoff_until=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()


def delivery_state(app: Flask) -> DeliveryState:
    """The shared delivery state row, detached."""
    with app.app_context():
        state = db.session.get(DeliveryState, 1)
        db.session.expunge_all()
        return state


def text_of(message) -> str:
    """The plain-text and HTML parts of a received email, decoded."""
    return "\n".join(
        part.get_content() for part in message.walk() if part.get_content_maintype() == "text"
    )


def subject_of(message) -> str:
    return str(make_header(decode_header(message["Subject"])))


# --- what is sent -------------------------------------------------------------------------------


def test_submission_is_acknowledged_before_anything_is_sent(app, post_appointment):
    response = post_appointment()
    assert response.status_code == 303
    rows = messages(app)
    assert [(m.template, m.status, m.attempts) for m in rows] == [
        ("email/notification", "queued", 0),
        ("email/acknowledgement", "queued", 0),
    ]
    # Queued, not delivered: no worker ran, so not even an .eml file exists yet.
    assert not (Path(app.instance_path) / "mail").exists()


def test_both_emails_arrive_with_the_right_headers(settings, smtp_server, app, post_appointment):
    # Reply-To carries the patient's address only where the practice chose details.
    configure(
        app, FRONT_DESK_EMAILS=[FRONT_DESK], MAIL_DEFAULT_SENDER=SENDER, NOTIFY_INCLUDE_DETAILS=True
    )
    assert post_appointment().status_code == 303
    with app.app_context():
        reference = db.session.scalar(select(Submission.reference))
    assert deliver(app) == 2

    received = {r.rcpt_tos[0]: r for r in smtp_server.wait_for(2)}
    notification = received[FRONT_DESK].message
    acknowledgement = received["siobhan@example.com"].message
    rows = {m.recipient: m for m in messages(app)}

    assert subject_of(notification) == f"New appointment request — {reference}"
    assert notification["Reply-To"] == "siobhan@example.com"
    assert str(notification["From"]) == SENDER
    assert received[FRONT_DESK].mail_from == "no-reply@practice.example"
    assert notification["Message-ID"] == rows[FRONT_DESK].message_id
    assert notification["Message-ID"].endswith("@practice.example>")

    assert subject_of(acknowledgement) == f"We received your appointment request — {reference}"
    assert acknowledgement["Reply-To"] is None
    assert str(acknowledgement["From"]) == SENDER
    assert acknowledgement["To"] == "siobhan@example.com"
    assert acknowledgement["Message-ID"] == rows["siobhan@example.com"].message_id

    for message in (notification, acknowledgement):
        types = [part.get_content_type() for part in message.walk()]
        assert "text/plain" in types and "text/html" in types
    assert {m.status for m in rows.values()} == {"sent"}
    assert all(m.sent_at is not None and m.attempts == 1 for m in rows.values())


def test_default_notification_carries_no_patient_details(
    settings, smtp_server, app, post_appointment
):
    app.config.update(FRONT_DESK_EMAILS=[FRONT_DESK])
    post_appointment()
    with app.app_context():
        submission = db.session.scalars(select(Submission)).one()
        reference, created = submission.reference, submission.created_at
    deliver(app)
    [notification] = [r.message for r in smtp_server.wait_for(2) if r.rcpt_tos == [FRONT_DESK]]
    body = text_of(notification)
    # Not even in Reply-To: an address beside the treatment sought is health information.
    assert notification["Reply-To"] is None
    headers = "\n".join(f"{name}: {value}" for name, value in notification.items())
    for secret in APPOINTMENT_PHI:
        assert secret not in body, secret
        assert secret not in headers, secret
    assert reference in body
    assert "Appointment request" in body
    # Which treatment the patient seeks is health information too.
    assert "Total knee replacement" not in body and "Specialty" not in body
    received = created.astimezone(app.extensions["practice"].zone)
    assert received.strftime("%B %-d, %Y at %-I:%M %p %Z") in body
    assert f"http://127.0.0.1:5000/admin/submissions/{reference}" in body


def test_acknowledgement_says_what_happens_next_and_nothing_of_the_request(
    settings, smtp_server, app, post_appointment
):
    post_appointment()
    deliver(app)
    [ack] = [r.message for r in smtp_server.wait_for(2) if r.rcpt_tos == ["siobhan@example.com"]]
    body = text_of(ack)
    assert "(781) 209-5645" in body
    assert "not a confirmed appointment" in body
    assert "In an emergency, call 911." in body
    for secret in ("Knee pain", "Total knee", "Blue Cross", "March 27", "Siobh"):
        assert secret not in body, secret


def test_details_setting_adds_every_field_escaped_in_html(
    settings, smtp_server, app, post_appointment
):
    configure(app, NOTIFY_INCLUDE_DETAILS=True, FRONT_DESK_EMAILS=[FRONT_DESK])
    post_appointment(reason="<script>alert(1)</script> & stairs\nWorse at night.")
    deliver(app)
    [notification] = [r.message for r in smtp_server.wait_for(2) if r.rcpt_tos == [FRONT_DESK]]
    plain = notification.get_body(("plain",)).get_content()
    html = notification.get_body(("html",)).get_content()
    for field in (
        "First name: Siobhán",
        "Last name: O'Hara",
        "Date of birth: March 27, 1980",
        "Phone number: (617) 253-1000",
        "Email address: siobhan@example.com",
        "How should we contact you?: Phone",
        "Preferred days: Monday, Thursday",
        "Preferred time of day: Morning",
        "Insurance provider: Blue Cross",
        "Referring physician: Dr. Nguyễn",
        "Reason for visit: <script>alert(1)</script> & stairs",
    ):
        assert field in plain, field
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; stairs" in html
    assert "Siobhán" in html and "O&#39;Hara" in html
    assert "Specialty: Total knee replacement" in plain
    assert notification["Reply-To"] == "siobhan@example.com"


def submit_with_routing(make_app, tmp_path, monkeypatch, routing: str, url: str, valid: dict):
    """Send one valid form to a portal whose profile routes by ``routing``, and deliver it."""
    instance = tmp_path / "routed-instance"
    instance.mkdir()
    (instance / "practice.toml").write_text(f"[routing]\n{routing}\n")
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(instance))
    app = make_app()
    with app.app_context():
        db.create_all()
    client = app.test_client()
    try:
        data = {**valid, **form_tokens(client, url)}
        assert client.post(url, data=data).status_code == 303
        deliver(app)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_contact_topic_is_routed_by_the_practice_profile(
    settings, smtp_server, make_app, tmp_path, monkeypatch
):
    routing = '"Billing" = ["billing@practice.example"]'
    submit_with_routing(make_app, tmp_path, monkeypatch, routing, "/contact-us", VALID_CONTACT)
    received = smtp_server.wait_for(2)
    recipients = sorted(r.rcpt_tos[0] for r in received)
    assert recipients == ["billing@practice.example", "taro@example.com"]
    [notification] = [r.message for r in received if r.rcpt_tos == ["billing@practice.example"]]
    assert subject_of(notification).startswith("New message — MSG-")
    # The recipient list shows the routing; the message itself names neither topic nor patient.
    assert notification["Reply-To"] is None
    assert "山田" not in text_of(notification)
    assert "Billing" not in text_of(notification) and "taro@" not in text_of(notification)


def test_specialty_routing_chooses_recipients_without_naming_the_specialty(
    settings, smtp_server, make_app, tmp_path, monkeypatch
):
    routing = '"Total knee replacement" = ["knees@practice.example"]'
    url = "/request-an-appointment"
    submit_with_routing(make_app, tmp_path, monkeypatch, routing, url, VALID_APPOINTMENT)
    received = smtp_server.wait_for(2)
    [notification] = [r.message for r in received if r.rcpt_tos == ["knees@practice.example"]]
    body = text_of(notification)
    assert "Total knee" not in body and "Specialty" not in body
    assert notification["Reply-To"] is None
    assert subject_of(notification).startswith("New appointment request — APT-")


def test_request_without_email_notifies_the_front_desk_only(app, post_appointment):
    post_appointment(email="", contact_method="phone")
    [notification] = messages(app)
    assert notification.template == "email/notification"
    assert notification.reply_to is None


def test_without_a_mail_server_messages_become_eml_files(app, post_appointment, runner):
    post_appointment()
    result = runner.invoke(args=["outbox", "run", "--once"])
    assert result.exit_code == 0, result.output
    files = sorted((Path(app.instance_path) / "mail").glob("*.eml"))
    assert len(files) == 2
    assert {m.status for m in messages(app)} == {"sent"}
    assert b"Subject: =?utf-8?q?New_appointment_request_=E2=80=94_APT-" in b"".join(
        f.read_bytes() for f in files
    )


# --- failures of the mail server ------------------------------------------------------------------


def test_server_down_then_back_delivers_every_message_once(settings, app, post_appointment):
    server = SMTPServer()  # its port, not yet listening
    configure(app, MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, **PLAIN_SMTP)
    for _ in range(3):
        assert post_appointment().status_code == 303

    for attempt in (1, 2):
        deliver(app)
        rows = messages(app)
        # The connection cannot be opened: the message it was opened for is charged an attempt;
        # the others keep their state and are not charged (issue 8: the old assertion that all
        # six were charged each time is replaced by this rule).
        assert [(m.status, m.attempts) for m in rows] == [("retrying", attempt)] + [
            ("queued", 0)
        ] * 5
        assert "ConnectionRefusedError" in rows[0].last_error
        assert rows[0].next_attempt_at > utcnow()
        assert all(m.lease_owner is None for m in rows)  # given back at once
        state = delivery_state(app)
        assert "ConnectionRefusedError" in state.last_error
        assert state.backoff_until > utcnow() and state.backoff_step == attempt
        make_due(app)

    server.start()
    try:
        assert deliver(app) == 6
        received = server.wait_for(6)
    finally:
        server.stop()
    rows = messages(app)
    assert [m.status for m in rows] == ["sent"] * 6
    assert sorted(r.message_id for r in received) == sorted(m.message_id for m in rows)


def test_stalling_server_times_out_and_never_holds_up_a_form(settings, app, post_appointment):
    stalling = StallingServer()
    configure(app, MAIL_SERVER="127.0.0.1", MAIL_PORT=stalling.port, MAIL_TIMEOUT=1.0, **PLAIN_SMTP)
    app.config.update(OUTBOX_POLL_INTERVAL=0.05)
    assert post_appointment().status_code == 303
    with app.app_context():
        worker = outbox.Worker()

    def run() -> None:
        with app.app_context():
            worker.run()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert stalling.accepted.wait(10)
        # The worker is now waiting on a server that says nothing; a patient still gets through.
        assert post_appointment().status_code == 303
        assert [m.attempts for m in messages(app)[:2]] == [0, 0]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and messages(app)[0].attempts == 0:
            time.sleep(0.05)
    finally:
        worker.stop.set()
        thread.join(10)
        stalling.stop()
    first = messages(app)[:2]
    # The greeting never came: the first message is charged, the second is given back uncharged
    # (issue 8; it used to be charged too).
    assert [m.status for m in first] == ["retrying", "queued"]
    assert "timed out" in first[0].last_error
    assert "timed out" in delivery_state(app).last_error

    # The server recovers on the same port: the retry goes through.
    server = SMTPServer(port=stalling.port).start()
    try:
        make_due(app)
        deliver(app)
        assert len(server.wait_for(4)) == 4
    finally:
        server.stop()
    assert {m.status for m in messages(app)} == {"sent"}


def test_temporary_answers_are_retried_and_permanent_ones_fail_at_once(
    settings, smtp_server, app, caplog
):
    handler = smtp_server.handler
    handler.rcpt_answers.update(
        {
            "temp-rcpt@example.com": "451 4.3.0 Mailbox busy, try later",
            "perm-rcpt@example.com": "550 5.1.1 No such user",
        }
    )
    handler.data_answers.update(
        {
            "temp-data@example.com": "452 4.3.1 Insufficient storage",
            "perm-data@example.com": "554 5.6.0 Message rejected",
        }
    )
    addresses = [
        "ok@example.com",
        "temp-rcpt@example.com",
        "perm-rcpt@example.com",
        "temp-data@example.com",
        "perm-data@example.com",
        "ok2@example.com",
    ]
    queue(app, addresses)
    with caplog.at_level(logging.WARNING, logger="portal.outbox"):
        deliver(app)
    rows = {m.recipient: m for m in messages(app)}
    status = {address: rows[address].status for address in addresses}
    assert status == {
        "ok@example.com": "sent",
        "temp-rcpt@example.com": "retrying",
        "perm-rcpt@example.com": "failed",
        "temp-data@example.com": "retrying",
        # A 5xx to DATA is not about the recipient: retried (issue 8; it used to fail at once).
        "perm-data@example.com": "retrying",
        "ok2@example.com": "sent",
    }
    assert "451" in rows["temp-rcpt@example.com"].last_error
    assert "550 5.1.1 No such user" in rows["perm-rcpt@example.com"].last_error
    assert "452" in rows["temp-data@example.com"].last_error
    assert "554" in rows["perm-data@example.com"].last_error
    # Refusals do not cost the connection: both good messages went over the same one.
    assert len({r.peer for r in smtp_server.received}) == 1

    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    for record, address in zip(errors, ["perm-rcpt@example.com"], strict=True):
        text = record.getMessage()
        assert rows[address].message_id in text and rows[address].reference in text
        assert "@example.com" not in text.replace(rows[address].message_id, "")

    # The server recovers: the temporary failures are sent, the permanent one is not retried.
    handler.rcpt_answers.clear()
    handler.data_answers.clear()
    make_due(app)
    deliver(app)
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == [
        "ok2@example.com",
        "ok@example.com",
        "perm-data@example.com",
        "temp-data@example.com",
        "temp-rcpt@example.com",
    ]
    assert Counter(m.status for m in messages(app)) == {"sent": 5, "failed": 1}


def test_poison_message_fails_alone(settings, smtp_server, app, caplog):
    recipients = [
        "one@example.com",
        "missing-template@example.com",
        "two@example.com",
        "three@example.com",
    ]
    queue(app, recipients, template_for={"missing-template@example.com": "email/no_such_template"})
    with app.app_context():
        # A header with a line break in it (never possible from the forms): refused, not sent.
        outbox.queue(
            db.session,
            recipient="three@example.com",
            subject="Injected",
            template="email/acknowledgement",
            context={"reference": "REF-X", "form": "contact", "noun": "message"},
            reply_to="x@example.com\r\nBcc: victim@example.com",
            reference="REF-X",
        )
        db.session.commit()
    with caplog.at_level(logging.ERROR, logger="portal.outbox"):
        assert deliver(app) == 5
    by_status = Counter((m.recipient, m.status) for m in messages(app))
    assert by_status == {
        ("one@example.com", "sent"): 1,
        ("missing-template@example.com", "failed"): 1,
        ("two@example.com", "sent"): 1,
        ("three@example.com", "sent"): 1,
        ("three@example.com", "failed"): 1,
    }
    failed = [m for m in messages(app) if m.status == "failed"]
    assert "TemplateNotFound" in failed[0].last_error
    assert "BadHeaderError" in failed[1].last_error
    assert len(smtp_server.wait_for(3)) == 3
    assert not any("victim" in r.content.decode() for r in smtp_server.received)
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 2


def test_retries_back_off_exponentially_up_to_the_maximum(settings, app):
    configure(app, MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), **PLAIN_SMTP)
    queue(app, ["a@example.com"])
    base, ceiling = 60, 1800
    for attempts, low, high in [(0, 48, 72), (1, 96, 144), (3, 384, 576), (9, 1440, 1800)]:
        with app.app_context():
            row = db.session.scalars(select(OutboxMessage)).one()
            row.attempts, row.next_attempt_at = attempts, utcnow()
            db.session.commit()
        make_due(app)  # and the workers' shared backoff after the last refused connection
        before = utcnow()
        deliver(app, OUTBOX_RETRY_BASE=base, OUTBOX_RETRY_MAX=ceiling)
        [row] = messages(app)
        assert row.status == "retrying" and row.attempts == attempts + 1
        wait = (row.next_attempt_at - before).total_seconds()
        assert low - 1 <= wait <= high + 1, (attempts, wait)


def test_message_not_accepted_within_the_give_up_period_fails(settings, app, caplog):
    configure(app, MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), **PLAIN_SMTP)
    queue(app, ["a@example.com", "b@example.com"])
    with app.app_context():
        old = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
        old.queued_at = utcnow() - timedelta(hours=24, seconds=1)
        db.session.commit()
    with caplog.at_level(logging.ERROR, logger="portal.outbox"):
        deliver(app)
    # The second was not attempted (the connection was refused): it keeps its state (issue 8).
    assert [m.status for m in messages(app)] == ["failed", "queued"]
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "REF-0" in record.getMessage() and "a@example.com" not in record.getMessage()


def test_server_certificate_is_verified(settings, tmp_path, app, monkeypatch):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    server = SMTPServer(tls_context=server_tls, require_starttls=True).start()
    configure(app, MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_USE_TLS=True)
    queue(app, ["a@example.com"])
    try:
        deliver(app)
        [row] = messages(app)
        assert row.status == "retrying"
        assert "CERTIFICATE_VERIFY_FAILED" in row.last_error
        assert server.received == []

        # Once the certificate is trusted (here through OpenSSL's SSL_CERT_FILE), it goes.
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        make_due(app)
        deliver(app)
        assert len(server.wait_for(1)) == 1
        assert messages(app)[0].status == "sent"
    finally:
        server.stop()


def test_by_default_mail_is_never_sent_to_a_server_without_starttls(settings, app):
    server = SMTPServer().start()  # plain SMTP only: it offers no STARTTLS
    configure(app, MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port)  # the shipped TLS settings
    queue(app, ["a@example.com"])
    try:
        deliver(app)
        [row] = messages(app)
        # smtplib refuses to go on without the STARTTLS it was told to use.
        assert row.status != "sent" and "SMTPNotSupportedError" in row.last_error
        assert server.received == []
    finally:
        server.stop()


# --- workers ------------------------------------------------------------------------------------


def test_one_smtp_connection_carries_a_whole_batch(settings, smtp_server, app):
    queue(app, [f"patient{n}@example.com" for n in range(20)])
    assert deliver(app, OUTBOX_BATCH_SIZE=50) == 20
    received = smtp_server.wait_for(20)
    assert len(received) == 20 and len({r.peer for r in received}) == 1


def test_two_workers_at_once_never_send_a_message_twice(settings, smtp_server, app):
    total = 300
    queue(app, [f"patient{n}@example.com" for n in range(total)])
    app.config.update(OUTBOX_BATCH_SIZE=10)
    start = threading.Barrier(2)
    handled: dict[str, int] = {}

    def work(name: str) -> None:
        with app.app_context():
            worker = outbox.Worker(name=name)
            start.wait()
            handled[name] = worker.run(once=True)

    threads = [threading.Thread(target=work, args=(f"worker-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    received = smtp_server.wait_for(total)
    ids = Counter(r.message_id for r in received)
    assert len(received) == total and max(ids.values()) == 1
    assert set(ids) == {m.message_id for m in messages(app)}
    assert {m.status for m in messages(app)} == {"sent"}
    assert sum(handled.values()) == total
    assert all(handled.values()), handled  # both really worked, at the same time


def test_live_claim_is_not_taken_and_a_lost_one_is_not_recorded(settings, smtp_server, app):
    queue(app, ["a@example.com"])
    with app.app_context():
        first = outbox.Worker(name="first")
        [claimed] = first.claim()
        assert outbox.Worker(name="second").claim() == []

        # The first worker's lease runs out (it hangs, or its host is gone): another takes over.
        db.session.execute(
            sa.update(OutboxMessage).values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        second = outbox.Worker(name="second")
        assert second.deliver_batch() == 1
        # The first worker wakes up: its outcome is not written over the second's.
        late = Ledger(first.name, first.policy, first.state, first.lease)
        late.failed(claimed, outbox.classify(TimeoutError("timed out")))
        late.close()
    [row] = messages(app)
    assert (row.status, row.attempts, row.lease_owner) == ("sent", 1, None)
    assert [r.message_id for r in smtp_server.wait_for(1)] == [claimed.message_id]


def test_batch_that_outlasts_its_lease_renews_it(settings, smtp_server, app):
    smtp_server.handler.delay = 0.25  # eight messages: twice as long as the lease
    queue(app, [f"patient{n}@example.com" for n in range(8)])
    app.config.update(OUTBOX_LEASE=1.2)
    with app.app_context():
        worker = outbox.Worker(name="slow")

    def run() -> None:
        with app.app_context():
            worker.run(once=True)

    thread = threading.Thread(target=run)
    thread.start()
    while thread.is_alive() and messages(app)[0].lease_owner != "slow":
        time.sleep(0.01)
    taken = []
    with app.app_context():
        other = outbox.Worker(name="other")
        while thread.is_alive():
            taken += other.claim()
            time.sleep(0.05)
    thread.join()
    assert taken == []
    received = smtp_server.wait_for(8)
    assert len(received) == 8 and len({r.message_id for r in received}) == 8
    assert {m.status for m in messages(app)} == {"sent"}


def test_killed_worker_claim_is_taken_over_with_the_same_message_id(
    settings, smtp_server, app, database_url, tmp_path
):
    queue(app, ["a@example.com", "b@example.com"])
    smtp_server.handler.hold.set()  # the server takes the first message's DATA and stalls
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PORTAL_INSTANCE_PATH": str(tmp_path / "worker-instance"),
        "PORTAL_SECRET_KEY": "test-secret-key",
        "PORTAL_SQLALCHEMY_DATABASE_URI": database_url,
        "PORTAL_MAIL_SERVER": "127.0.0.1",
        "PORTAL_MAIL_PORT": str(smtp_server.port),
        **PLAIN_SMTP_ENV,
        "PORTAL_OUTBOX_LEASE": "3",
        "PORTAL_OUTBOX_POLL_INTERVAL": "0.1",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "portal", "outbox", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert smtp_server.handler.holding.wait(30), "the worker never reached DATA"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.stderr.close()
    [held] = smtp_server.handler.held
    smtp_server.handler.hold.clear()

    rows = messages(app)
    assert all(m.status == "queued" and m.attempts == 0 for m in rows)
    assert all(m.lease_owner and m.lease_expires_at > utcnow() for m in rows)
    # While the dead worker's lease holds, nobody else sends its messages...
    assert deliver(app) == 0
    # ...and once it has run out, another worker takes them over.
    while messages(app)[0].lease_expires_at > utcnow():
        time.sleep(0.1)
    assert deliver(app) == 2
    received = smtp_server.wait_for(2)
    assert sorted(r.message_id for r in received) == sorted(m.message_id for m in rows)
    assert held.message_id == rows[0].message_id  # the resend is recognisably the same message
    assert {m.status for m in messages(app)} == {"sent"}


def test_worker_command_writes_eml_files_and_stops_on_sigterm(app, post_appointment, database_url):
    """The README's `make run` worker, on the embedded default: no mail server, .eml files."""
    post_appointment()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PORTAL_INSTANCE_PATH": app.instance_path,
        "PORTAL_SECRET_KEY": "test-secret-key",
        "PORTAL_SQLALCHEMY_DATABASE_URI": database_url,
        "PORTAL_OUTBOX_POLL_INTERVAL": "0.1",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "portal", "outbox", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    mail = Path(app.instance_path) / "mail"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(list(mail.glob("*.eml"))) < 2:
            time.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=30)
    assert len(list(mail.glob("*.eml"))) == 2
    assert worker.returncode == 0, stderr
    assert stderr.count("wrote outbox message") == 2
    assert "siobhan" not in stderr.lower()


# --- the transaction, resending and the status command -----------------------------------------


def test_submission_and_its_emails_are_one_transaction(app, database_url, post_appointment):
    """If the commit fails, neither the submission nor its emails exist."""
    with app.app_context(), db.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse_email BEFORE INSERT ON outbox_message "
                "BEGIN SELECT RAISE(ABORT, 'outbox refused'); END"
            )
        else:
            connection.exec_driver_sql(
                "CREATE FUNCTION refuse_email() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'outbox refused'; END $$"
            )
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse_email BEFORE INSERT ON outbox_message "
                "FOR EACH ROW EXECUTE FUNCTION refuse_email()"
            )
    response = post_appointment()
    assert response.status_code == 503
    with app.app_context():
        assert db.session.scalar(select(sa.func.count()).select_from(Submission)) == 0
        assert db.session.scalar(select(sa.func.count()).select_from(OutboxMessage)) == 0


def test_resend_keeps_the_message_id_unless_the_message_was_sent(settings, smtp_server, app):
    smtp_server.handler.rcpt_answers["gone@example.com"] = "550 5.1.1 No such user"
    queue(app, ["gone@example.com", "ok@example.com"])
    deliver(app)
    failed, sent = messages(app)
    assert (failed.status, sent.status) == ("failed", "sent")

    smtp_server.handler.rcpt_answers.clear()
    with app.app_context():
        for row in db.session.scalars(select(OutboxMessage)):
            outbox.resend(db.session, row)
        db.session.commit()
    again_failed, again_sent = messages(app)
    assert (again_failed.status, again_sent.status) == ("queued", "queued")
    assert again_failed.message_id == failed.message_id
    assert again_sent.message_id != sent.message_id
    deliver(app)
    received = smtp_server.wait_for(3)
    assert {r.message_id for r in received[1:]} == {again_failed.message_id, again_sent.message_id}
    assert {m.status for m in messages(app)} == {"sent"}


def test_status_command_prints_counts_and_the_oldest_pending_age(app, runner):
    result = runner.invoke(args=["outbox", "status"])
    assert result.exit_code == 0, result.output
    assert "queued    0" in result.output and "oldest pending: none" in result.output

    queue(app, ["a@example.com", "b@example.com", "c@example.com"])
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        rows[0].queued_at = utcnow() - timedelta(minutes=7, seconds=5)
        rows[1].status, rows[2].status = "sent", "failed"
        db.session.commit()
    result = runner.invoke(args=["outbox", "status"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:4] == ["queued    1", "retrying  0", "sent      1", "failed    1"]
    assert lines[4].startswith("oldest pending: 7 min 5 s (queued ")


def test_eml_files_with_patient_data_are_readable_by_their_owner_only(
    app, post_appointment, runner
):
    """Like the CLI export, the .eml files (patient addresses, details) are mode 0600."""
    assert post_appointment().status_code == 303
    result = runner.invoke(args=["outbox", "run", "--once"])
    assert result.exit_code == 0, result.output
    files = list((Path(app.instance_path) / "mail").glob("*.eml"))
    assert len(files) == 2
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
