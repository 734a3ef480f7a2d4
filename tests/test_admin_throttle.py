"""The sign-in throttle: counted per (account, address) and per account, atomically, so that an
attacker can neither lock staff out from elsewhere, nor get more guesses by sending them together,
nor fill the audit trail from a blocked address."""

from __future__ import annotations

import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import LoginThrottle, User, utcnow

from .admin_helpers import PASSWORD, STAFF, audit_events, csrf_token, make_user, sign_in


def client_at(app: Flask, address: str) -> FlaskClient:
    """A browser at this client address."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def signed_in(client: FlaskClient) -> bool:
    return client.get("/admin/").status_code == 200


def parallel_sign_ins(
    make_app, email: str, password: str, count: int, address: str = "198.51.100.7"
) -> list[int]:
    """`count` sign-ins sent together, from one address, through separate app instances (the
    processes of a web server) on the one database; the status of each answer."""
    apps = [make_app() for _ in range(4)]
    ready = []
    for n in range(count):
        client = client_at(apps[n % len(apps)], address)
        ready.append((client, csrf_token(client)))
    barrier = threading.Barrier(count)

    def attempt(item: tuple[FlaskClient, str]) -> int:
        client, token = item
        barrier.wait(timeout=30)
        data = {"csrf_token": token, "email": email, "password": password}
        return client.post("/admin/login", data=data).status_code

    try:
        with ThreadPoolExecutor(max_workers=count) as pool:
            return list(pool.map(attempt, ready))
    finally:
        for other in apps:
            with other.app_context():
                db.session.remove()
                db.engine.dispose()


def test_an_attack_from_one_address_does_not_stop_the_right_password_from_another(app):
    make_user(app)
    attacker = client_at(app, "203.0.113.66")
    for _ in range(20):
        assert sign_in(attacker, STAFF, "not the password").status_code in {200, 429}
    assert sign_in(attacker, STAFF, PASSWORD).status_code == 429
    office = client_at(app, "198.51.100.20")
    assert sign_in(office, STAFF, PASSWORD).status_code == 303
    assert signed_in(office)
    # The attacker's address stays blocked for this account while the window lasts.
    assert sign_in(client_at(app, "203.0.113.66"), STAFF, PASSWORD).status_code == 429


def test_wrong_passwords_for_real_accounts_behind_one_address_do_not_block_the_others(app):
    """One office behind one NAT: a colleague's typos do not lock everyone else out."""
    make_user(app)
    make_user(app, "nurse@example.org")
    office = client_at(app, "198.51.100.30")
    for _ in range(6):
        sign_in(office, STAFF, "not the password")
    assert sign_in(office, STAFF, PASSWORD).status_code == 429
    assert sign_in(client_at(app, "198.51.100.30"), "nurse@example.org").status_code == 303


def test_simultaneous_wrong_passwords_get_no_more_checks_than_the_limit(settings, app, make_app):
    settings["LOGIN_RATE_LIMIT"] = "1000 per minute"
    make_user(app)
    statuses = parallel_sign_ins(make_app, STAFF, "not the password", 30)
    assert Counter(statuses) == {200: 5, 429: 25}
    assert len(audit_events(app, "login.failed")) == 5
    # 25 refusals, one audit row: a blocked address cannot fill the audit trail.
    assert len(audit_events(app, "login.blocked")) == 1


def test_refused_attempts_are_audited_once_per_address_per_window(app):
    app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"  # the database's part, on its own
    make_user(app)
    attacker = client_at(app, "203.0.113.9")
    for n in range(50):
        sign_in(attacker, f"guess{n}@example.org", "not the password")
    for _ in range(10):
        sign_in(attacker, STAFF, "not the password")
    assert len(audit_events(app, "login.failed")) == 5
    [blocked] = audit_events(app, "login.blocked")
    assert blocked.ip == "203.0.113.9" and blocked.target is None
    # A new window: the address may be refused (and audited) again.
    with app.app_context():
        db.session.execute(
            update(LoginThrottle).values(window_start=utcnow() - timedelta(minutes=16))
        )
        db.session.commit()
    for n in range(7):
        sign_in(attacker, f"again{n}@example.org", "not the password")
    assert len(audit_events(app, "login.blocked")) == 2


def test_failures_counted_in_an_old_window_do_not_count(app):
    make_user(app)
    client = client_at(app, "198.51.100.40")
    for _ in range(5):
        sign_in(client, STAFF, "not the password")
    assert sign_in(client, STAFF, PASSWORD).status_code == 429
    with app.app_context():
        db.session.execute(
            update(LoginThrottle).values(window_start=utcnow() - timedelta(minutes=15, seconds=1))
        )
        db.session.commit()
    assert sign_in(client, STAFF, PASSWORD).status_code == 303


def test_a_right_password_takes_its_count_back_and_starts_the_address_afresh(app):
    make_user(app)
    client = client_at(app, "198.51.100.41")
    for _ in range(4):
        sign_in(client, STAFF, "not the password")
    assert sign_in(client, STAFF, PASSWORD).status_code == 303
    other = client_at(app, "198.51.100.41")
    for _ in range(5):
        assert sign_in(other, STAFF, "not the password").status_code == 200


def wait_asked(response) -> int:
    match = re.search(r"in (\d+) seconds?", response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)
    return int(match.group(1))


def test_an_account_under_a_spread_out_attack_asks_for_a_growing_delay_not_a_lock(settings, app):
    settings.update(LOGIN_ACCOUNT_MAX_FAILURES=3, LOGIN_MAX_FAILURES=50)
    app.config.update(LOGIN_ACCOUNT_MAX_FAILURES=3, LOGIN_MAX_FAILURES=50)
    make_user(app)
    attacker = client_at(app, "203.0.113.70")
    for _ in range(4):  # three reach the limit; the fourth takes the account's first turn
        assert sign_in(attacker, STAFF, "not the password").status_code == 200
    first = sign_in(attacker, STAFF, "not the password")
    assert first.status_code == 429
    # The right password from an address that has not failed is never held back.
    assert sign_in(client_at(app, "198.51.100.50"), STAFF, PASSWORD).status_code == 303

    with app.app_context():  # time passes: the turn is free again
        db.session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key.like("account:%"))
            .values(not_before=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    assert sign_in(attacker, STAFF, "not the password").status_code == 200
    second = sign_in(attacker, STAFF, "not the password")
    assert second.status_code == 429
    assert wait_asked(second) > wait_asked(first)
    with app.app_context():  # never locked: the account is still active and usable
        assert db.session.scalar(select(User)).active


def test_sign_in_pages_have_a_request_rate_limit_per_address(settings, app):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    make_user(app)
    client = client_at(app, "198.51.100.60")
    for _ in range(3):
        assert sign_in(client, STAFF, "not the password").status_code == 200
    assert sign_in(client, STAFF, PASSWORD).status_code == 429
    assert client.get("/admin/login").status_code == 200  # showing the form is not limited
    assert sign_in(client_at(app, "198.51.100.61"), STAFF).status_code == 303
