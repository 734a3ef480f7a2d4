"""The outbox against a mail server that is wrong for a while: nothing acknowledged is lost.

Every test talks to a real SMTP server (aiosmtpd on 127.0.0.1, tests/smtp.py) scripted to refuse
at a given stage of the conversation, and runs a real worker (in a thread, or as the
`flask --app portal outbox run` command) on SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import select

from portal import outbox
from portal.extensions import db
from portal.models import DeliveryState, OutboxMessage, utcnow

from .smtp import PLAIN_SMTP, PLAIN_SMTP_ENV, SMTPServer, StallingServer, free_port
from .test_outbox import configure, delivery_state, make_due, messages, queue

FRONT_DESK = "desk@practice.example"
PATIENTS = [f"patient{n}@example.com" for n in range(5)]
ROOT = Path(__file__).resolve().parent.parent
# Short waits, so that a test sees several retries and backoff steps within seconds.
FAST_RETRIES = {
    "OUTBOX_RETRY_BASE": 0.05,
    "OUTBOX_RETRY_MAX": 0.2,
    "OUTBOX_POLL_INTERVAL": 0.02,
}


def run_worker_until(
    app: Flask, done: Callable[[], bool], timeout: float = 30, during: Callable[[], None] = None
) -> None:
    """Run one worker (`outbox run`) in a thread until done() holds or the timeout passes."""
    app.config.update(FAST_RETRIES)
    with app.app_context():
        worker = outbox.Worker()

    def run() -> None:
        with app.app_context():
            worker.run()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done():
            if during is not None:
                during()
            time.sleep(0.05)
    finally:
        worker.stop.set()
        thread.join(30)


def settled(app: Flask) -> bool:
    """No message is waiting any more: each was sent or failed for good."""
    return all(m.status in ("sent", "failed") for m in messages(app))


def assert_each_delivered_once(server: SMTPServer, app: Flask, failed: set[str] = frozenset()):
    """Every message sent exactly once, except those to `failed` recipients, which failed."""
    rows = messages(app)
    status = {m.recipient: m.status for m in rows}
    assert status == {m.recipient: "failed" if m.recipient in failed else "sent" for m in rows}
    copies = Counter(r.message_id for r in server.received)
    assert set(copies) == {m.message_id for m in rows if m.status == "sent"}
    assert max(copies.values()) == 1, copies


# --- the scenario matrix: a server that refuses at one stage, then recovers ------------------


@pytest.mark.parametrize(
    ("stage", "answer"),
    [
        ("mail", "550 5.7.1 Relay access denied"),
        ("greeting", "554 5.3.2 Down for maintenance"),
        ("mail", "451 4.3.0 Temporary local problem"),
    ],
)
def test_server_wide_refusal_is_retried_and_every_message_arrives_once(
    settings, smtp_server, app, stage, answer
):
    smtp_server.handler.refuse(stage, answer, times=3)
    queue(app, [FRONT_DESK, *PATIENTS])
    run_worker_until(app, lambda: settled(app))
    assert_each_delivered_once(smtp_server, app)
    rows = messages(app)
    # Each refused batch charged one attempt (the message it was opened for) and gave the rest
    # back: three refusals cost three attempts in all, not three per message.
    assert sum(m.attempts for m in rows) == len(rows) + 3
    # One connection per backoff step while the server refused, and in it one MAIL FROM at most.
    seen = smtp_server.handler.seen
    assert seen["mail"] == len(rows) + (3 if stage == "mail" else 0)
    assert 3 + 1 <= seen["greeting"] <= 3 + len(rows)
    state = delivery_state(app)
    assert state.consecutive_failures == 0 and state.backoff_until is None
    assert state.last_success_at is not None
    assert state.last_error.startswith(
        "SMTPSenderRefused: " if stage == "mail" else "SMTPConnectError: "
    )
    assert answer[:3] in state.last_error


def test_greylisting_451_to_every_recipient_is_retried_per_message(settings, smtp_server, app):
    smtp_server.handler.refuse("rcpt", "451 4.7.1 Greylisted, try again later", times=6)
    queue(app, [FRONT_DESK, *PATIENTS])
    run_worker_until(app, lambda: settled(app))
    assert_each_delivered_once(smtp_server, app)
    assert all(m.attempts == 2 for m in messages(app))
    assert delivery_state(app).consecutive_failures == 0


def test_refused_front_desk_address_fails_its_messages_only(settings, smtp_server, app):
    smtp_server.handler.rcpt_answers[FRONT_DESK] = (
        f"550 5.1.1 <{FRONT_DESK}>: Recipient address rejected: mailbox unavailable"
    )
    queue(app, [FRONT_DESK, *PATIENTS, FRONT_DESK])
    run_worker_until(app, lambda: settled(app))
    assert_each_delivered_once(smtp_server, app, failed={FRONT_DESK})
    failed = [m for m in messages(app) if m.status == "failed"]
    assert len(failed) == 2 and all(m.attempts == 1 for m in failed)
    assert "550 5.1.1" in failed[0].last_error
    state = delivery_state(app)
    # The shared state carries the answer without the address in it.
    assert state.last_error == (
        "SMTPRecipientsRefused: 550 5.1.1 <address>: Recipient address rejected: "
        "mailbox unavailable"
    )
    assert state.consecutive_failures == 1  # the last one failed, after five accepted


def test_one_refused_patient_fails_alone(settings, smtp_server, app):
    smtp_server.handler.rcpt_answers["gone@example.com"] = "550 5.1.1 No such user"
    smtp_server.handler.refuse("mail", "550 5.7.1 Sender blocked for now", times=2)
    queue(app, [FRONT_DESK, "gone@example.com", *PATIENTS])
    run_worker_until(app, lambda: settled(app))
    assert_each_delivered_once(smtp_server, app, failed={"gone@example.com"})


def test_authentication_failure_is_retried_and_raises_the_alarm_at_once(settings, smtp_server, app):
    smtp_server.require_auth("mailer", "right-password")
    configure(app, MAIL_USERNAME="mailer", MAIL_PASSWORD="wrong-password")
    queue(app, [FRONT_DESK, *PATIENTS])
    with app.app_context():
        outbox.Worker().run(once=True)
    state = delivery_state(app)
    assert state.consecutive_failures >= app.config["DELIVERY_ALARM_AFTER"] == 5
    assert state.last_error.startswith("SMTPAuthenticationError: 535")
    assert "wrong-password" not in state.last_error
    rows = messages(app)
    assert [m.status for m in rows] == ["retrying"] + ["queued"] * 5
    assert smtp_server.received == []

    # Someone fixes the password: everything goes, once.
    configure(app, MAIL_PASSWORD="right-password")
    make_due(app)
    run_worker_until(app, lambda: settled(app))
    assert_each_delivered_once(smtp_server, app)
    assert delivery_state(app).consecutive_failures == 0


def test_stalled_server_is_retried_and_every_message_arrives_once(settings, app):
    stalling = StallingServer()
    configure(app, MAIL_SERVER="127.0.0.1", MAIL_PORT=stalling.port, MAIL_TIMEOUT=0.5, **PLAIN_SMTP)
    queue(app, [FRONT_DESK, *PATIENTS])
    server = SMTPServer(port=stalling.port)
    recovered = threading.Event()

    def recover_after_two_timeouts() -> None:
        state = delivery_state(app)
        if not recovered.is_set() and state is not None and state.backoff_step >= 2:
            stalling.stop()
            server.start()
            recovered.set()

    try:
        run_worker_until(app, lambda: settled(app), during=recover_after_two_timeouts)
        assert recovered.is_set()
        assert_each_delivered_once(server, app)
        # Each timed-out probe charged one message, not the whole batch (that would be 12+).
        assert 6 + 2 <= sum(m.attempts for m in messages(app)) <= 6 + 4
    finally:
        if not recovered.is_set():
            stalling.stop()
        server.stop()


# --- the worker keeps its promises -----------------------------------------------------------


def test_batch_that_fails_midway_gives_back_the_rest_at_once(settings, smtp_server, app):
    smtp_server.handler.refuse("mail", "421 4.3.2 Service shutting down", after=2)
    queue(app, [FRONT_DESK, *PATIENTS])
    with app.app_context():
        assert outbox.Worker(name="midway").deliver_batch() == 6
    rows = messages(app)
    assert [(m.status, m.attempts) for m in rows] == [
        ("sent", 1),
        ("sent", 1),
        ("retrying", 1),
        ("queued", 0),
        ("queued", 0),
        ("queued", 0),
    ]
    # Not one claim is left to run out: another worker may take them as soon as it may send.
    assert all(m.lease_owner is None and m.lease_expires_at is None for m in rows)
    assert delivery_state(app).backoff_step == 1


def test_outage_gives_back_the_batch_but_fails_messages_past_the_give_up_deadline(settings, app):
    configure(app, MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), **PLAIN_SMTP)  # nobody there
    queue(app, ["a@example.com", "b@example.com", "c@example.com"])
    with app.app_context():
        old = db.session.get(OutboxMessage, 3)
        old.queued_at = utcnow() - timedelta(hours=24, seconds=1)
        db.session.commit()
        outbox.Worker().deliver_batch()
    rows = messages(app)
    assert [(m.status, m.attempts) for m in rows] == [("retrying", 1), ("queued", 0), ("failed", 1)]
    assert "ConnectionRefusedError" in rows[2].last_error


def test_worker_wide_backoff_holds_every_worker_until_one_probe(settings, smtp_server, app):
    smtp_server.handler.refuse("greeting", "554 5.3.2 Down for maintenance", times=1)
    queue(app, PATIENTS)
    with app.app_context():
        first, second = outbox.Worker(name="first"), outbox.Worker(name="second")
        assert first.deliver_batch() == 5
        # The server is down: no worker on any host claims anything before the step ends,
        # although four messages were never attempted and are due.
        assert first.deliver_batch() == 0 and second.deliver_batch() == 0
    assert smtp_server.handler.seen["greeting"] == 1
    assert [m.status for m in messages(app)].count("queued") == 4

    # The step ends: exactly one of the two workers gets to send the probe.
    make_due(app)
    with app.app_context():
        now = utcnow()
        assert [first.state.may_deliver(now), second.state.may_deliver(now)] == [True, False]
    make_due(app)
    with app.app_context():
        assert first.deliver_batch() == 5
    assert smtp_server.handler.seen["greeting"] == 2
    assert_each_delivered_once(smtp_server, app)
    state = delivery_state(app)
    assert (state.backoff_step, state.backoff_until) == (0, None)


def test_delivery_state_row_is_created_once_by_many_workers(settings, app):
    def start() -> None:
        with app.app_context():
            outbox.Worker().state.ensure()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    with app.app_context():
        assert db.session.scalar(select(sa.func.count()).select_from(DeliveryState)) == 1


@pytest.fixture
def break_database(settings: dict, database_url: str) -> Iterator[Callable[[], None]]:
    """Something that breaks the app's database connections for a moment (ask before `app`).

    PostgreSQL: the server ends every connection the app holds (pg_terminate_backend, found by
    an application_name of this test's own). SQLite: another process holds the write lock for a
    second, while the app waits only 0.1 s for it.
    """
    if database_url.startswith("sqlite"):
        settings["DATABASE_BUSY_TIMEOUT"] = 0.1
        path = database_url.removeprefix("sqlite:///")

        def lock_for_a_second() -> None:
            holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            holder.execute("BEGIN EXCLUSIVE")
            threading.Timer(1.0, lambda: (holder.execute("COMMIT"), holder.close())).start()

        yield lock_for_a_second
        return
    name = f"portal-test-{uuid.uuid4().hex[:12]}"
    settings["SQLALCHEMY_DATABASE_URI"] = f"{database_url}&application_name={name}"
    admin = sa.create_engine(database_url)

    def terminate() -> None:
        with admin.connect() as connection:
            connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name"
                ),
                {"name": name},
            )
            connection.commit()

    yield terminate
    admin.dispose()


def test_database_failure_right_after_a_send_does_not_send_it_again(
    settings, smtp_server, break_database, app, caplog
):
    broken = []

    def break_once(received) -> None:
        if not broken:
            broken.append(received.message_id)
            break_database()

    smtp_server.handler.on_accept = break_once
    queue(app, [FRONT_DESK, "patient@example.com"])
    with caplog.at_level(logging.WARNING, logger="portal.outbox"):
        deliver_until = time.monotonic() + 30
        app.config.update(FAST_RETRIES)
        with app.app_context():
            while not settled(app) and time.monotonic() < deliver_until:
                outbox.Worker().run(once=True)
    assert broken, "the server never accepted a message"
    assert_each_delivered_once(smtp_server, app)
    assert [m.attempts for m in messages(app)] == [1, 1]
    assert any("could not record an outcome" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_killed_worker_batch_is_delivered_by_another_within_the_default_lease(
    settings, smtp_server, app, database_url, tmp_path
):
    total = 12
    smtp_server.handler.delay = 0.3  # the batch takes a few seconds: kill it in the middle
    queue(app, [f"patient{n}@example.com" for n in range(total)])
    assert app.config["OUTBOX_LEASE"] == 60  # the default, not shortened here

    def worker(name: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PORTAL_INSTANCE_PATH": str(tmp_path / name),
            "PORTAL_SECRET_KEY": "test-secret-key",
            "PORTAL_SQLALCHEMY_DATABASE_URI": database_url,
            "PORTAL_MAIL_SERVER": "127.0.0.1",
            "PORTAL_MAIL_PORT": str(smtp_server.port),
            **PLAIN_SMTP_ENV,
            "PORTAL_OUTBOX_POLL_INTERVAL": "0.5",
        }
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "portal", "outbox", "run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    first = worker("first")
    second = None
    try:
        smtp_server.wait_for(3, timeout=30)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        killed_at = time.monotonic()
        second = worker("second")
        while (
            time.monotonic() - killed_at < 75
            and len({r.message_id for r in smtp_server.received}) < total
        ):
            time.sleep(0.2)
        elapsed = time.monotonic() - killed_at
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(10)
    copies = Counter(r.message_id for r in smtp_server.received)
    assert set(copies) == {m.message_id for m in messages(app)}
    assert elapsed < 70, elapsed
    # At most the message in flight when the worker died went out twice, with one Message-ID.
    assert sum(copies.values()) - total <= 1, copies
