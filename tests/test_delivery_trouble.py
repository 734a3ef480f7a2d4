"""Delivery trouble is loud: a banner on every staff page, /healthz/delivery 503, one ERROR line
per transition and a POST to the alert webhook, claimed by exactly one process; staff end it by
fixing the cause and retrying."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from flask import Flask
from sqlalchemy import Update, select, update

from portal import logs, outbox
from portal.extensions import db
from portal.models import DeliveryState, OutboxMessage
from portal.outbox import alert, trouble

from .admin_helpers import ADMIN, STAFF, audit_events, csrf_token, make_user, sign_in
from .smtp import SMTPServer, StallingServer

FRONT_DESK = "front-desk@localhost"  # FRONT_DESK_EMAILS' default
REFUSED = "550 5.1.1 mailbox unavailable"


@dataclass
class Receiver:
    """A local alert webhook: an HTTP server on 127.0.0.1 that records each JSON POST."""

    url: str = ""
    posts: list[dict] = field(default_factory=list)
    # Status codes to answer, in order; 200 once they run out.
    answers: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        """Wait until at least count POSTs arrived; return them all."""
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.posts)


@pytest.fixture
def webhook(settings: dict) -> Iterator[Receiver]:
    """The receiver, started, with ALERT_WEBHOOK_URL pointing at it (ask for it before `app`)."""
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with receiver.lock:
                status = receiver.answers.pop(0) if receiver.answers else 200
                receiver.posts.append(
                    {"status": status, "type": self.headers["Content-Type"], **json.loads(body)}
                )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_port}/hooks/portal"
    settings["ALERT_WEBHOOK_URL"] = receiver.url
    yield receiver
    server.shutdown()
    thread.join()
    server.server_close()


def transitions(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    """(level, event) of every trouble transition logged."""
    return [
        (r.levelname, r.fields["event"])
        for r in caplog.records
        if r.name == trouble.__name__ and r.fields.get("event", "").startswith("delivery.trouble")
    ]


def deliver(app: Flask) -> int:
    with app.app_context():
        return outbox.Worker().run(once=True)


def banner(page: str) -> str | None:
    """The delivery trouble banner's text, if the page has one."""
    start = page.find('aria-labelledby="delivery-trouble-title"')
    if start == -1:
        return None
    return page[start : page.index("</section>", start)]


def test_refused_front_desk_address_is_loud_until_fixed_and_retried(
    smtp_server: SMTPServer, webhook: Receiver, app, client, post_appointment, caplog
):
    caplog.set_level(logging.INFO)
    smtp_server.handler.rcpt_answers[FRONT_DESK] = REFUSED
    assert post_appointment().status_code == 303
    # The server refuses the front desk's address; the patient's receipt goes out.
    deliver(app)
    with app.app_context():
        notification = db.session.scalar(
            select(OutboxMessage).where(OutboxMessage.template == "email/notification")
        )
        assert notification.status == "failed"
        reference = notification.reference
    assert [r.rcpt_tos for r in smtp_server.received] == [["siobhan@example.com"]]

    # One ERROR line, and one POST, from the worker's loop.
    assert transitions(caplog) == [("ERROR", trouble.START)]
    (alert,) = webhook.wait_for(1)
    assert alert["event"] == "delivery.trouble.start"
    assert alert["reason"] == "notification_failed"
    assert alert["since"] and alert["type"] == "application/json"
    assert "front-desk notification could not be delivered" in alert["text"]
    assert "/admin/outbox" in alert["text"]
    sent = json.dumps(alert)
    assert "@" not in sent and "Siobh" not in sent and reference not in sent

    # Every staff page, for staff and admins, says so at the top.
    make_user(app, STAFF, "staff")
    make_user(app, ADMIN, "admin")
    staff = app.test_client()
    sign_in(staff, STAFF)
    for url in ("/admin/", "/admin/account", f"/admin/submissions/{reference}", "/admin/outbox"):
        text = banner(staff.get(url).get_data(as_text=True))
        assert text is not None, url
        assert "1 notification to the front desk could not be delivered." in text
        assert f'The mail server said: <q class="trouble-banner__answer">{REFUSED}' in text
        assert 'href="/admin/outbox"' in text
    sign_in(client, ADMIN)
    assert banner(client.get("/admin/").get_data(as_text=True)) is not None
    assert banner(app.test_client().get("/admin/login").get_data(as_text=True)) is None

    monitor = app.test_client()
    assert monitor.get("/healthz/delivery").status_code == 503
    assert monitor.get("/healthz").status_code == 200
    # Asking again changes nothing: no second line, no second alert.
    with app.app_context():
        assert trouble.check() is None
    assert transitions(caplog) == [("ERROR", trouble.START)]

    # The mailbox is back; an admin retries all failed, after confirming.
    del smtp_server.handler.rcpt_answers[FRONT_DESK]
    outbox_page = client.get("/admin/outbox").get_data(as_text=True)
    assert "Retry all failed" in outbox_page and REFUSED in outbox_page
    confirm = client.get("/admin/outbox/retry-failed")
    assert "1 failed email that nobody has marked as handled" in confirm.get_data(as_text=True)
    response = client.post(
        "/admin/outbox/retry-failed",
        data={"csrf_token": csrf_token(client, "/admin/outbox/retry-failed")},
    )
    assert response.status_code == 303
    (event,) = audit_events(app, "outbox.retry_failed")
    assert event.actor == ADMIN and event.detail["messages"] == 1
    deliver(app)
    delivered = smtp_server.wait_for(2)
    assert [r.rcpt_tos for r in delivered] == [["siobhan@example.com"], [FRONT_DESK]]
    assert reference in delivered[1].message["Subject"]

    # The monitor sees it end: 200, one ERROR line for the end, one more POST.
    assert monitor.get("/healthz/delivery").status_code == 200
    assert transitions(caplog) == [("ERROR", trouble.START), ("ERROR", trouble.END)]
    posts = webhook.wait_for(2)
    assert [p["event"] for p in posts] == ["delivery.trouble.start", "delivery.trouble.end"]
    assert posts[1]["since"] == posts[0]["since"]
    assert banner(client.get("/admin/").get_data(as_text=True)) is None
    assert monitor.get("/healthz/delivery").status_code == 200
    assert len(transitions(caplog)) == 2


def outbox_update(**values: object) -> Update:
    """Change every outbox row, as outcomes recorded by a worker would."""
    return update(OutboxMessage).values(**values)


def test_transition_is_claimed_by_exactly_one_of_many_processes(app, post_appointment):
    post_appointment()
    with app.app_context():
        db.session.execute(
            outbox_update(status="failed", last_error="SMTPRecipientsRefused: " + REFUSED)
        )
        db.session.commit()

    def race() -> list[str | None]:
        barrier = threading.Barrier(4)
        results: list[str | None] = []

        def claim() -> None:
            with app.app_context():
                barrier.wait()
                results.append(trouble.check())

        threads = [threading.Thread(target=claim) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    # No delivery_state row yet: the first claimant creates it, the others find it claimed.
    assert sorted(race(), key=str) == [None, None, None, trouble.START]
    with app.app_context():
        db.session.execute(outbox_update(status="sent"))
        db.session.commit()
    assert sorted(race(), key=str) == [None, None, None, trouble.END]
    with app.app_context():
        state = db.session.get(DeliveryState, 1)
        assert state.trouble_since is None and state.trouble_reason is None


def test_json_log_line_carries_the_stable_event_name(app, capsys, post_appointment):
    post_appointment()
    logs.configure("json", "INFO")
    try:
        capsys.readouterr()
        with app.app_context():
            db.session.execute(outbox_update(status="failed", last_error="x: 550 5.1.1 no"))
            db.session.commit()
            assert trouble.check() == trouble.START
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    finally:
        logs.configure("text", "INFO")
    starts = [line for line in lines if line.get("event") == "delivery.trouble.start"]
    assert len(starts) == 1
    assert starts[0]["level"] == "ERROR" and starts[0]["reason"] == "notification_failed"
    assert "@" not in json.dumps(starts[0])


def test_worker_loop_checks_for_trouble_at_most_every_few_seconds(app, monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(trouble, "check", lambda background=False: calls.append(1))
    with app.app_context():
        outbox.Worker().run(once=True)
        outbox.Worker().run(once=True)
        assert calls == [1]
        monkeypatch.setattr(trouble, "CHECK_INTERVAL", 0.0)
        outbox.Worker().run(once=True)
        assert calls == [1, 1]


def test_webhook_is_retried_until_it_answers(webhook: Receiver, app):
    webhook.answers = [500, 503]
    payload = {"text": "t", "event": trouble.START, "reason": "outbox_stuck", "since": "s"}
    assert alert.post_alert(webhook.url, payload, budget=10.0) is True
    assert [p["status"] for p in webhook.posts] == [500, 503, 200]


def test_webhook_never_blocks_longer_than_mail_timeout(app):
    silent = StallingServer()  # accepts the connection and never answers
    try:
        started = time.monotonic()
        payload = {"text": "t", "event": trouble.START, "reason": "outbox_stuck", "since": "s"}
        assert alert.post_alert(f"http://127.0.0.1:{silent.port}/", payload, 1.0) is False
        assert time.monotonic() - started < 2.0
    finally:
        silent.stop()


def test_a_failing_check_never_stops_the_worker(app, monkeypatch, caplog):
    def broken(background: bool = False) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(trouble, "check", broken)
    with app.app_context():
        assert outbox.Worker().run(once=True) == 0
    assert any(r.getMessage() == "delivery trouble check failed" for r in caplog.records)
