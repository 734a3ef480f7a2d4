"""Signed webhooks delivered by the outbox: a real HTTP receiver on 127.0.0.1, a real worker,
every signature checked with the `standardwebhooks` package, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from portal import webhooks
from portal.extensions import db
from portal.models import (
    AuditEvent,
    DeliveryState,
    OutboxMessage,
    Submission,
    WebhookAttempt,
    WebhookEndpoint,
    utcnow,
)
from portal.outbox import RetryPolicy, trouble
from portal.outbox.ledger import Ledger
from portal.outbox.policy import webhook_verdict
from portal.outbox.state import DeliveryStateStore
from portal.services.submissions import Actor, update_submission

from .admin_helpers import ADMIN, audit_events, make_user, post, sign_in
from .test_outbox import deliver, make_due

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Received:
    """One request as the receiver saw it."""

    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers from a script."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # then 204s
    delay: float = 0.0  # seconds before answering (a slow receiver)
    arrived: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def wait_for(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.received) >= count, self.received


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
            state.arrived.set()
            if state.delay:
                time.sleep(state.delay)
            status, headers = state.answers.pop(0) if state.answers else (204, {})
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def private_hooks(settings):
    """The receiver is on 127.0.0.1 over plain HTTP: both settings are needed for it."""
    settings.update(WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_ALLOW_HTTP=True)
    return settings


def add_endpoint(app, url: str, events: tuple[str, ...] = tuple(webhooks.WEBHOOK_EVENTS)) -> str:
    """Store an endpoint as the admin page would; returns its secret."""
    with app.app_context():
        endpoint, secret = webhooks.create_endpoint(db.session, url, list(events), False)
        db.session.commit()
        return secret


def verified(secret: str, request: Received) -> dict:
    """The body, after the standardwebhooks package has checked the signature."""
    return Webhook(secret).verify(request.body, request.headers)


def webhook_rows(app) -> list[OutboxMessage]:
    with app.app_context():
        rows = db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.channel == "webhook")
            .order_by(OutboxMessage.id)
        ).all()
        db.session.expunge_all()
        return list(rows)


def test_new_appointment_status_change_and_note_arrive_signed_and_thin(
    private_hooks, app, receiver, post_appointment
):
    secret = add_endpoint(app, receiver.url)
    assert post_appointment().status_code == 303
    with app.app_context():
        submission = db.session.scalars(select(Submission)).one()
        reference = submission.reference
        update_submission(db.session, submission, Actor(), status="scheduled")
        db.session.commit()
        update_submission(db.session, submission, Actor(), note="Called: Tuesday 9 am.")
        db.session.commit()
    deliver(app)
    receiver.wait_for(3)
    bodies = [verified(secret, request) for request in receiver.received]
    assert [b["type"] for b in bodies] == ["submission.created"] + ["submission.updated"] * 2
    assert [b["data"].get("changes") for b in bodies] == [None, ["status"], ["note"]]
    assert [b["data"]["status"] for b in bodies] == ["new", "scheduled", "scheduled"]
    for body, request in zip(bodies, receiver.received, strict=True):
        assert request.headers["content-type"] == "application/json"
        assert request.headers["webhook-id"].startswith("msg_")
        assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
        assert set(body) == {"type", "timestamp", "data"}
        data = body["data"]
        assert {"reference", "kind", "status", "received_at", "url"} <= set(data)
        assert data["reference"] == reference and data["kind"] == "appointment"
        assert data["url"].endswith(f"/admin/submissions/{reference}")
        # Thin: nothing the patient typed, not even the note's text.
        raw = request.body.decode()
        for typed in ("Alex", "555", "@example", "Called", "Knee", "fhir"):
            assert typed not in raw
    assert {m.status for m in webhook_rows(app)} == {"sent"}
    with app.app_context():
        codes = db.session.scalars(select(WebhookAttempt.status_code)).all()
    assert codes == [204, 204, 204]


def test_retried_delivery_keeps_its_webhook_id_after_a_500(
    private_hooks, app, receiver, post_appointment
):
    secret = add_endpoint(app, receiver.url, ("submission.created",))
    receiver.answers = [(500, {})]
    post_appointment()
    deliver(app)
    (row,) = webhook_rows(app)
    assert row.status == "retrying" and "HTTP500" in row.last_error
    make_due(app)
    deliver(app)
    receiver.wait_for(2)
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == row.message_id
    assert verified(secret, first) == verified(secret, second)
    (row,) = webhook_rows(app)
    assert row.status == "sent" and row.attempts == 2


def test_retry_after_is_honoured_and_other_4xx_fail_after_a_few_attempts(settings, app):
    policy = RetryPolicy(base=1, ceiling=60, give_up_after=timedelta(hours=1))
    with app.app_context():
        lease = timedelta(seconds=60)
        ledger = Ledger("w", policy, DeliveryStateStore(policy, lease), lease)
    now = utcnow()

    @dataclass(frozen=True)
    class Row:
        attempts: int
        queued_at: object = now

    busy = webhook_verdict(429, "Too Many Requests", 120.0, 3)
    values = ledger._failure_values(Row(0), busy, now)
    assert values["status"] == "retrying"
    assert values["next_attempt_at"] >= now + timedelta(seconds=120)
    down = webhook_verdict(503, "Service Unavailable", None, 3)
    assert ledger._failure_values(Row(5), down, now)["status"] == "retrying"
    refused = webhook_verdict(400, "Bad Request", None, 3)
    assert ledger._failure_values(Row(1), refused, now)["status"] == "retrying"
    assert ledger._failure_values(Row(2), refused, now)["status"] == "failed"
    assert not refused.server_wide and not down.server_wide


def test_410_disables_the_endpoint_audited_and_raises_the_alarm(
    private_hooks, app, client, receiver, post_appointment
):
    add_endpoint(app, receiver.url, ("submission.created",))
    receiver.answers = [(410, {})]
    post_appointment()
    deliver(app)
    (row,) = webhook_rows(app)
    assert row.status == "failed"
    with app.app_context():
        endpoint = db.session.scalars(select(WebhookEndpoint)).one()
        endpoint_id = endpoint.id
        assert not endpoint.enabled and "410" in endpoint.disabled_reason
        # The delivery alarm: it holds (banner, /healthz/delivery) until an admin acts, even
        # though the emails of the same batch went out.
        state = trouble.evaluate(db.session)
        assert "webhook_gone" in state.reasons and state.gone_endpoints == 1
    (event,) = audit_events(app, "webhook.disabled")
    assert event.actor == "delivery worker"
    assert client.get("/healthz/delivery").status_code == 503
    make_user(app, ADMIN, "admin")
    sign_in(client, ADMIN)
    page = client.get("/admin/").get_data(as_text=True)
    assert "1 webhook receiver answered 410 Gone, so its endpoint was disabled" in page
    post(client, "/admin/webhooks/enable", {"endpoint": endpoint_id}, "/admin/webhooks")
    with app.app_context():
        assert "webhook_gone" not in trouble.evaluate(db.session).reasons


def test_a_receiver_that_keeps_failing_raises_webhook_trouble_not_email_trouble(
    private_hooks, app, client, receiver, post_appointment, caplog
):
    add_endpoint(app, receiver.url, ("submission.created",))
    receiver.answers = [(503, {})] * 5
    post_appointment()
    for _ in range(5):  # DELIVERY_ALARM_AFTER: the emails go out, the event is refused each time
        deliver(app)
        make_due(app)
    (row,) = webhook_rows(app)
    assert (row.status, row.attempts) == ("retrying", 5)
    with app.app_context():
        state = trouble.evaluate(db.session)
        assert state.reasons == ("webhooks_failing",) and state.failing_webhooks == 1
        assert state.consecutive_failures == 0 and state.server_answer is None
        assert state.webhook_answer == "503 Service Unavailable"
        caplog.set_level(logging.ERROR, logger=trouble.__name__)
        assert trouble.check() == trouble.START
    (line,) = [r.getMessage() for r in caplog.records if r.name == trouble.__name__]
    assert "Webhook delivery trouble at" in line and "(the receiver answered HTTP 503)" in line
    assert "1 webhook event failed 5 or more attempts in a row" in line
    assert "mail server" not in line and "send email" not in line
    assert client.get("/healthz/delivery").get_json()["reason"] == "webhooks_failing"
    make_user(app, ADMIN, "admin")
    sign_in(client, ADMIN)
    banner = client.get("/admin/").get_data(as_text=True)
    assert "Webhook events are not reaching the practice's systems" in banner
    assert "1 webhook event failed 5 or more attempts in a row and is still being retried" in banner
    answer = '<q class="trouble-banner__answer">503 Service Unavailable</q>'
    assert f"The last answer from the practice's systems: {answer}" in banner
    assert "Email is not reaching" not in banner and "attempts to send email" not in banner
    # The receiver is back: the event goes out and the trouble ends, said as webhook trouble.
    make_due(app)
    deliver(app)
    (row,) = webhook_rows(app)
    assert row.status == "sent"
    with app.app_context():
        assert trouble.check() == trouble.END
    assert "Webhook delivery is back to normal" in caplog.records[-1].getMessage()


def test_a_webhook_that_failed_for_good_is_trouble_until_an_admin_deals_with_it(
    private_hooks, app, client, receiver, post_appointment
):
    add_endpoint(app, receiver.url, ("submission.created",))
    receiver.answers = [(401, {})] * 3  # e.g. the receiver checks an old secret
    post_appointment()
    for _ in range(3):  # WEBHOOK_4XX_ATTEMPTS
        deliver(app)
        make_due(app)
    (row,) = webhook_rows(app)
    assert row.status == "failed"
    with app.app_context():
        state = trouble.evaluate(db.session)
    assert state.reasons == ("webhooks_failing",)
    assert (state.failed_webhooks, state.failing_webhooks) == (1, 0)
    assert state.webhook_answer == "401 Unauthorized"
    make_user(app, ADMIN, "admin")
    sign_in(client, ADMIN)
    banner = client.get("/admin/").get_data(as_text=True)
    assert "1 webhook event to the practice's systems could not be delivered." in banner
    post(client, "/admin/outbox/handled", {"message": row.id}, "/admin/outbox")
    with app.app_context():
        assert trouble.evaluate(db.session).reasons == ()


def test_a_webhook_waiting_long_is_not_reported_as_email_waiting(
    private_hooks, app, receiver, post_appointment
):
    add_endpoint(app, receiver.url, ("submission.created",))
    receiver.answers = [(429, {"Retry-After": "7200"})]
    post_appointment()
    deliver(app)
    (row,) = webhook_rows(app)
    assert row.status == "retrying"  # the receiver asked for two hours; the emails went out
    with app.app_context():
        db.session.execute(
            sa.update(OutboxMessage).values(queued_at=utcnow() - timedelta(minutes=30))
        )
        db.session.commit()
        state = trouble.evaluate(db.session)
        assert state.reasons == () and state.oldest_pending_at is None


def test_endpoint_resolving_to_loopback_is_refused_at_creation_and_at_delivery(
    settings, app, client, receiver, post_appointment
):
    make_user(app, ADMIN, "admin")
    sign_in(client, ADMIN)
    # localhost resolves to 127.0.0.1: refused when it is created (https, so only the address
    # is at fault) ...
    url = f"https://localhost:{receiver.port}/hooks"
    answer = post(
        client, "/admin/webhooks", {"url": url, "events": ["submission.created"]}, "/admin/webhooks"
    )
    assert answer.status_code == 422
    assert "loopback, private" in answer.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(WebhookEndpoint)).all() == []
    # ... and when it is delivered, for an endpoint stored while the setting was on (or a name
    # that resolved elsewhere then): checked again on the resolved address, nothing is sent.
    add_endpoint(app, url, ("submission.created",))
    post_appointment()
    deliver(app)
    (row,) = webhook_rows(app)
    assert row.status == "failed" and "BlockedAddress" in row.last_error
    assert receiver.received == []
    with app.app_context():
        (attempt,) = db.session.scalars(select(WebhookAttempt)).all()
    assert attempt.status_code is None and attempt.error.startswith("blocked")


def test_http_url_and_fhir_over_http_need_their_settings(settings, app):
    settings_off = {"WEBHOOK_ALLOW_PRIVATE": True}
    app.config.update(settings_off)
    with app.test_request_context():
        assert "WEBHOOK_ALLOW_HTTP" in webhooks.validate_url("http://127.0.0.1:9/x")
        assert webhooks.validate_url("https://127.0.0.1:9/x") is None
        with pytest.raises(ValueError):
            webhooks.create_endpoint(db.session, "http://127.0.0.1:9/x", ["delivery.failed"], True)


def test_rotated_secret_signs_with_both_for_24_hours(private_hooks, app, receiver):
    old = add_endpoint(app, receiver.url)
    with app.app_context():
        endpoint = db.session.scalars(select(WebhookEndpoint)).one()
        new = webhooks.rotate_secret(endpoint)
        assert new.startswith("whsec_") and len(new) == len("whsec_") + 44 and new != old
        webhooks.send_test_event(db.session, endpoint)
        db.session.commit()
    deliver(app)
    receiver.wait_for(1)
    (request,) = receiver.received
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert verified(old, request)["type"] == verified(new, request)["type"] == "webhook.test"
    with app.app_context():
        endpoint = db.session.scalars(select(WebhookEndpoint)).one()
        endpoint.previous_secret_until = utcnow() - timedelta(seconds=1)
        webhooks.send_test_event(db.session, endpoint)
        db.session.commit()
    deliver(app)
    receiver.wait_for(2)
    later = receiver.received[1]
    assert len(later.headers["webhook-signature"].split(" ")) == 1
    verified(new, later)


def test_failed_email_emits_delivery_failed(private_hooks, app, receiver, post_appointment):
    secret = add_endpoint(app, receiver.url, ("delivery.failed",))
    post_appointment()
    with app.app_context():
        # A template that cannot be built fails at once, for good.
        db.session.execute(sa.update(OutboxMessage).values(template="email/missing"))
        db.session.commit()
    deliver(app)
    make_due(app)
    deliver(app)
    receiver.wait_for(2)
    bodies = [verified(secret, r) for r in receiver.received]
    assert {b["type"] for b in bodies} == {"delivery.failed"}
    assert {b["data"]["channel"] for b in bodies} == {"email"}
    assert all(b["data"]["kind"] == "appointment" for b in bodies)


@pytest.mark.slow
def test_worker_killed_mid_delivery_loses_no_webhook(
    private_hooks, app, receiver, post_appointment, database_url, tmp_path
):
    secret = add_endpoint(app, receiver.url, ("submission.created",))
    for _ in range(3):
        post_appointment()
    receiver.delay = 30  # the first request hangs: the worker is killed while it waits
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PORTAL_INSTANCE_PATH": str(tmp_path / "killed"),
        "PORTAL_SECRET_KEY": "test-secret-key",
        "PORTAL_SQLALCHEMY_DATABASE_URI": database_url,
        "PORTAL_WEBHOOK_ALLOW_PRIVATE": "true",
        "PORTAL_WEBHOOK_ALLOW_HTTP": "true",
        "PORTAL_OUTBOX_LEASE": "2",
        "PORTAL_OUTBOX_POLL_INTERVAL": "0.2",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "portal", "outbox", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert receiver.arrived.wait(30), "the worker never reached the receiver"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(10)
    in_flight = receiver.received[0].headers["webhook-id"]
    receiver.delay = 0
    time.sleep(2.5)  # the dead worker's lease (2 s) runs out
    make_due(app)
    deliver(app, OUTBOX_LEASE=2)
    rows = webhook_rows(app)
    assert [r.status for r in rows] == ["sent"] * 3
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert set(ids) == {r.message_id for r in rows}
    # Only the event in flight at the kill arrived twice, with the same webhook-id.
    assert len(ids) == 4 and ids.count(in_flight) == 2
    for request in receiver.received:
        verified(secret, request)


def test_admin_creates_an_endpoint_sees_the_secret_once_and_its_deliveries(
    private_hooks, app, client, receiver
):
    make_user(app, ADMIN, "admin")
    sign_in(client, ADMIN)
    answer = post(
        client,
        "/admin/webhooks",
        {"url": receiver.url, "events": ["submission.created", "submission.updated"]},
        "/admin/webhooks",
    )
    assert answer.status_code == 201
    page = answer.get_data(as_text=True)
    with app.app_context():
        endpoint = db.session.scalars(select(WebhookEndpoint)).one()
        secret, endpoint_id = endpoint.secret, endpoint.id
    assert secret in page and secret not in client.get("/admin/webhooks").get_data(as_text=True)
    assert audit_events(app, "webhook.created")[0].target == f"webhook {endpoint_id}"
    # Send test event: queued, delivered, shown with its answer code.
    answer = post(client, "/admin/webhooks/test", {"endpoint": endpoint_id}, "/admin/webhooks")
    assert answer.status_code == 303
    deliver(app)
    receiver.wait_for(1)
    assert verified(secret, receiver.received[0])["type"] == "webhook.test"
    page = client.get("/admin/webhooks").get_data(as_text=True)
    assert "webhook.test" in page and "204" in page and " ms" in page
    # Disable, then enable: audited, and a disabled endpoint gets no events.
    post(client, "/admin/webhooks/disable", {"endpoint": endpoint_id}, "/admin/webhooks")
    with app.app_context():
        assert not db.session.get(WebhookEndpoint, endpoint_id).enabled
        assert webhooks.queue_event(db.session, "submission.created", {}) == []
    post(client, "/admin/webhooks/enable", {"endpoint": endpoint_id}, "/admin/webhooks")
    actions = [e.action for e in audit_events(app) if e.action.startswith("webhook.")]
    assert actions == ["webhook.created", "webhook.test", "webhook.disabled", "webhook.enabled"]


def test_staff_cannot_open_the_webhooks_page(app, client):
    make_user(app)
    sign_in(client)
    assert client.get("/admin/webhooks").status_code == 403


def test_webhook_events_are_in_the_audit_vocabulary():
    from portal import audit

    assert {"webhook.created", "webhook.disabled", "webhook.rotated"} <= set(audit.ACTIONS)
    assert AuditEvent.__tablename__ == "audit_event"


def test_fhir_bundle_is_added_at_delivery_only_for_https_endpoints_that_opt_in(
    settings, app, post_appointment
):
    post_appointment()
    with app.app_context():
        submission = db.session.scalars(select(Submission)).one()
        body = {"type": "submission.created", "data": webhooks.thin_data(submission)}
        opted_in = WebhookEndpoint(url="https://engine.example/h", include_fhir=True)
        plain = WebhookEndpoint(url="https://engine.example/h", include_fhir=False)
        over_http = WebhookEndpoint(url="http://engine.example/h", include_fhir=True)
        bundle = webhooks.body_with_fhir(body, opted_in)["data"]["fhir"]
        assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
        assert webhooks.body_with_fhir(body, plain) == body
        assert webhooks.body_with_fhir(body, over_http) == body
        # The outbox row itself never holds the Bundle.
        assert all("fhir" not in m.context["data"] for m in webhook_rows(app))


def test_api_patch_emits_one_submission_updated_and_no_change_emits_none(
    private_hooks, app, client, receiver
):
    from .admin_helpers import add_submission
    from .test_api import bearer, make_token

    secret = add_endpoint(app, receiver.url, ("submission.updated",))
    token = make_token(app)
    reference = add_submission(app)
    url = f"/api/v1/submissions/{reference}"
    answer = client.patch(
        url, json={"status": "scheduled", "note": "Booked."}, headers=bearer(token)
    )
    assert answer.status_code == 200
    assert client.patch(url, json={"status": "scheduled"}, headers=bearer(token)).status_code == 200
    deliver(app)
    receiver.wait_for(1)
    time.sleep(0.2)
    (request,) = receiver.received
    body = verified(secret, request)
    assert body["data"]["changes"] == ["status", "note"] and "Booked" not in request.body.decode()


def test_webhooks_flow_while_the_mail_server_is_down_and_do_not_hide_its_failures(
    private_hooks, app, receiver, post_appointment
):
    from .smtp import PLAIN_SMTP, free_port

    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), **PLAIN_SMTP)
    secret = add_endpoint(app, receiver.url, ("submission.created",))
    post_appointment()
    deliver(app)
    receiver.wait_for(1)
    with app.app_context():
        state = db.session.get(DeliveryState, 1)
        assert state.backoff_until is not None and state.consecutive_failures == 1
    # The workers hold email back; a new event still goes out at once, and its success does not
    # end the mail server's failure streak or its backoff.
    post_appointment()
    deliver(app)
    receiver.wait_for(2)
    assert [verified(secret, r)["type"] for r in receiver.received] == ["submission.created"] * 2
    with app.app_context():
        state = db.session.get(DeliveryState, 1)
        assert state.backoff_until is not None and state.consecutive_failures == 1
        emails = db.session.scalars(
            select(OutboxMessage.status).where(OutboxMessage.channel == "email")
        ).all()
    assert set(emails) <= {"queued", "retrying"}


def test_a_receiver_that_drips_its_answer_is_cut_off_at_the_timeout(private_hooks, app):
    import socket as sockets

    listener = sockets.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                if stop.wait(0.2):  # one byte every 0.2 s: never a read timeout, 8 s in all
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    add_endpoint(app, f"http://127.0.0.1:{listener.getsockname()[1]}/", ("submission.created",))
    with app.app_context():
        webhooks.queue_event(db.session, "submission.created", {"reference": None})
        db.session.commit()
    started = time.monotonic()
    try:
        deliver(app, WEBHOOK_TIMEOUT=1)
    finally:
        stop.set()
        listener.close()
        thread.join(5)
    assert time.monotonic() - started < 5
    (row,) = webhook_rows(app)
    assert row.status == "retrying" and "TimeoutError" in row.last_error


def test_a_redirect_is_not_followed_and_counts_as_a_refusal(
    private_hooks, app, receiver, post_appointment
):
    add_endpoint(app, receiver.url, ("submission.created",))
    elsewhere = f"http://127.0.0.1:{receiver.port}/elsewhere"
    receiver.answers = [(307, {"Location": elsewhere})]
    post_appointment()
    deliver(app)
    time.sleep(0.2)
    assert len(receiver.received) == 1  # nothing went to the Location
    (row,) = webhook_rows(app)
    assert row.status == "retrying" and "HTTP307" in row.last_error
