"""Two-factor sign-in: each code and each set-up link works once, even when requests carrying it
arrive together; with REQUIRE_2FA a password alone never reaches the enrolment page; the pending
secret lives encrypted in the database, never in the cookie; turning it on or off ends every
other session, and turning it off needs a current code."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlsplit

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, User, utcnow

from .admin_helpers import (
    ADMIN,
    PASSWORD,
    STAFF,
    audit_events,
    csrf_token,
    make_user,
    post,
    sign_in,
    turn_on_two_factor,
)

SECRET = pyotp.random_base32()


def signed_in(client: FlaskClient) -> bool:
    return client.get("/admin/").status_code == 200


def stored_user(app: Flask, email: str = STAFF) -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        db.session.expunge_all()
        return user


def session_payload(client: FlaskClient) -> str:
    """The session cookie's readable content (it is signed, not encrypted)."""
    value = client.get_cookie("session").value
    compressed = value.startswith(".")
    data = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    return (zlib.decompress(raw) if compressed else raw).decode()


def in_parallel(make_app, count: int, prepare, send, instances: int = 4) -> list[int]:
    """Prepare `count` clients spread over separate app instances (the processes of a web server)
    on the one database, then let them all send at once; the status of each answer."""
    apps = [make_app() for _ in range(instances)]
    clients = [prepare(apps[n % instances], n) for n in range(count)]
    barrier = threading.Barrier(count)

    def go(client: FlaskClient) -> int:
        barrier.wait(timeout=30)
        return send(client).status_code

    try:
        with ThreadPoolExecutor(max_workers=count) as pool:
            return list(pool.map(go, clients))
    finally:
        for other in apps:
            with other.app_context():
                db.session.remove()
                db.engine.dispose()


def test_one_code_signs_in_once_when_eight_sign_ins_send_it_together(settings, app, make_app):
    settings["LOGIN_RATE_LIMIT"] = "1000 per minute"
    make_user(app, totp_secret=SECRET)
    code = pyotp.TOTP(SECRET).now()

    def prepare(instance: Flask, n: int) -> FlaskClient:
        client = instance.test_client()
        client.environ_base["REMOTE_ADDR"] = f"192.0.2.{n + 1}"  # eight people, eight addresses
        assert sign_in(client).headers["Location"] == "/admin/login/code"
        client.token = csrf_token(client, "/admin/login/code")
        return client

    def send(client: FlaskClient):
        return client.post("/admin/login/code", data={"csrf_token": client.token, "code": code})

    statuses = in_parallel(make_app, 8, prepare, send)
    assert Counter(statuses) == {303: 1, 200: 7}
    assert len(audit_events(app, "login.success")) == 1


def test_a_code_is_refused_the_second_time_and_a_later_one_accepted(app):
    make_user(app, totp_secret=SECRET)
    now = time.time()
    code = pyotp.TOTP(SECRET).at(now)
    first = app.test_client()
    sign_in(first)
    token = csrf_token(first, "/admin/login/code")
    assert (
        first.post("/admin/login/code", data={"csrf_token": token, "code": code}).status_code == 303
    )
    second = app.test_client()
    sign_in(second)
    token = csrf_token(second, "/admin/login/code")
    assert (
        second.post("/admin/login/code", data={"csrf_token": token, "code": code}).status_code
        == 200
    )
    later = pyotp.TOTP(SECRET).at(now + 30)
    assert (
        second.post("/admin/login/code", data={"csrf_token": token, "code": later}).status_code
        == 303
    )


# --- Set-up links --------------------------------------------------------------------------------


def cli_setup_link(runner, email: str = STAFF) -> str:
    result = runner.invoke(args=["users", "setup-link", email])
    assert result.exit_code == 0, result.output
    assert "72 hours" in result.output
    return urlsplit(result.output.strip().splitlines()[-1]).path


def confirm_password(client: FlaskClient, link: str, password: str = PASSWORD):
    token = csrf_token(client, link)
    return client.post(link, data={"csrf_token": token, "password": password})


def shown_secret(client: FlaskClient, link: str) -> str:
    page = client.get(link).get_data(as_text=True)
    return re.search(r'<code class="totp-key">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")


def test_require_2fa_a_password_alone_never_reaches_the_enrolment_page(app, client):
    app.config["REQUIRE_2FA"] = True
    make_user(app)
    assert sign_in(client).headers["Location"] == "/admin/login/two-factor"
    page = client.get("/admin/login/two-factor").get_data(as_text=True)
    assert "totp-key" not in page and "otpauth://" not in page
    assert "Ask an admin for a <strong>set-up link</strong>" in page
    assert not signed_in(client)
    for path in ("/admin/account/two-factor", "/admin/setup/made-up-token"):
        assert "totp-key" not in client.get(path).get_data(as_text=True)
    assert stored_user(app).totp_pending is None


def test_setup_link_asks_the_password_then_a_code_and_works_once(app, client, runner):
    app.config["REQUIRE_2FA"] = True
    make_user(app)
    link = cli_setup_link(runner)
    assert link.startswith("/admin/setup/")
    assert confirm_password(client, link, "not the password").status_code == 200
    assert "totp-key" not in client.get(link).get_data(as_text=True)
    assert confirm_password(client, link).status_code == 303
    secret = shown_secret(client, link)
    token = csrf_token(client, link)
    done = client.post(link, data={"csrf_token": token, "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 303 and signed_in(client)
    user = stored_user(app)
    assert user.totp_secret == secret and user.setup_token_hash is None
    assert user.totp_pending is None
    # Used: the same link does nothing any more, for anyone.
    again = app.test_client()
    assert again.get(link).status_code == 404
    assert app.test_client().post(link, data={"password": PASSWORD}).status_code == 404
    assert [e.detail for e in audit_events(app, "user.2fa_enabled")] == [{"by": "set-up link"}]
    assert audit_events(app, "user.setup_link")[0].actor == "command line"


def test_setup_link_expires_after_72_hours_and_a_newer_one_replaces_it(app, runner):
    make_user(app)
    old = cli_setup_link(runner)
    new = cli_setup_link(runner)
    assert app.test_client().get(old).status_code == 404
    assert app.test_client().get(new).status_code == 200
    with app.app_context():
        user = db.session.scalar(select(User))
        remaining = user.setup_expires_at - utcnow()
        assert timedelta(hours=71, minutes=59) < remaining <= timedelta(hours=72)
        user.setup_expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert app.test_client().get(new).status_code == 404


def test_setup_link_is_used_once_when_eight_requests_send_it_together(
    settings, app, make_app, runner
):
    settings["LOGIN_RATE_LIMIT"] = "1000 per minute"
    make_user(app)
    link = cli_setup_link(runner)
    browser = app.test_client()
    assert confirm_password(browser, link).status_code == 303
    secret = shown_secret(browser, link)
    cookie = browser.get_cookie("session").value
    token = csrf_token(browser, link)
    code = pyotp.TOTP(secret).now()

    def prepare(instance: Flask, n: int) -> FlaskClient:
        copy = instance.test_client()  # the same browser's cookie, eight times over
        copy.set_cookie("session", cookie)
        return copy

    def send(copy: FlaskClient):
        return copy.post(link, data={"csrf_token": token, "code": code})

    statuses = in_parallel(make_app, 8, prepare, send)
    assert statuses.count(303) == 1, statuses
    assert len(audit_events(app, "user.2fa_enabled")) == 1


def test_pending_secret_is_kept_encrypted_in_the_database_never_in_the_cookie(app, client, runner):
    make_user(app)
    sign_in(client)
    page = client.get("/admin/account/two-factor").get_data(as_text=True)
    secret = re.search(r'<code class="totp-key">([A-Z2-7 ]+)</code>', page).group(1)
    secret = secret.replace(" ", "")
    assert secret not in session_payload(client)
    pending = stored_user(app).totp_pending
    assert pending and secret not in pending
    # The same secret is shown again (it is read back from the database), and the link's flow
    # keeps it out of the cookie as well.
    assert secret in client.get("/admin/account/two-factor").get_data(as_text=True).replace(" ", "")
    make_user(app, "nurse@example.org")
    link = cli_setup_link(runner, "nurse@example.org")
    other = app.test_client()
    confirm_password(other, link)
    assert shown_secret(other, link) not in session_payload(other)
    assert json.loads(session_payload(other))  # a readable payload: the check above means something


def test_turning_two_factor_on_ends_every_other_session(app, client):
    make_user(app)
    sign_in(client)
    elsewhere = app.test_client()
    sign_in(elsewhere)
    turn_on_two_factor(client)
    assert signed_in(client)
    assert not signed_in(elsewhere)


def test_turning_two_factor_off_needs_a_current_code_and_ends_other_sessions(app, client):
    make_user(app)
    sign_in(client)
    # Three codes within the 90 seconds that are accepted: the one before now, now, and next.
    secret = turn_on_two_factor(client, offset=-30)
    elsewhere = app.test_client()
    sign_in(elsewhere)
    token = csrf_token(elsewhere, "/admin/login/code")
    elsewhere.post(
        "/admin/login/code", data={"csrf_token": token, "code": pyotp.TOTP(secret).now()}
    )
    assert signed_in(elsewhere)

    password_only = post(client, "/admin/account/two-factor/off", {"password": PASSWORD})
    assert password_only.status_code == 422
    assert "Enter the 6-digit code" in password_only.get_data(as_text=True)
    wrong = post(client, "/admin/account/two-factor/off", {"password": PASSWORD, "code": "000000"})
    assert wrong.status_code == 422 and "The code is not right" in wrong.get_data(as_text=True)
    assert stored_user(app).totp_secret == secret
    code = pyotp.TOTP(secret).at(time.time() + 30)
    off = post(client, "/admin/account/two-factor/off", {"password": PASSWORD, "code": code})
    assert off.status_code == 303
    assert stored_user(app).totp_secret is None
    assert signed_in(client)
    assert not signed_in(elsewhere)


def test_admin_creates_a_setup_link_on_the_users_page(app, client):
    make_user(app, ADMIN, "admin")
    make_user(app)
    sign_in(client, ADMIN)
    page = client.get("/admin/users").get_data(as_text=True)
    assert "Create set-up link" in page
    response = post(client, "/admin/users/setup-link", {"email": STAFF}, page="/admin/users")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    link = re.search(r'<code class="setup-link">([^<]+)</code>', text).group(1)
    assert link.startswith("http://127.0.0.1:5000/admin/setup/")  # PUBLIC_BASE_URL, not Host
    assert link not in session_payload(client)
    assert app.test_client().get(urlsplit(link).path).status_code == 200
    [event] = audit_events(app, "user.setup_link")
    assert event.actor == ADMIN and event.target == STAFF


def test_setup_link_token_is_not_written_to_the_request_log(app, runner, caplog):
    make_user(app)
    link = cli_setup_link(runner)
    with caplog.at_level("INFO", logger="portal.requests"):
        assert app.test_client().get(link).status_code == 200
    token = link.rsplit("/", 1)[1]
    assert "/admin/setup/" in caplog.text and token not in caplog.text


def test_turning_two_factor_off_with_wrong_passwords_is_throttled_and_audited(app, client):
    """The password check behind "turn two-factor off" is no unthrottled password oracle."""
    make_user(app)
    sign_in(client)
    answers = [
        post(client, "/admin/account/two-factor/off", {"password": f"wrong guess {n:04d}"})
        for n in range(6)
    ]
    assert [a.status_code for a in answers] == [422] * 5 + [429]
    with app.app_context():
        failures = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "login.failed")
        ).all()
    assert len(failures) == 5
    assert {(f.target, f.detail["step"]) for f in failures} == {(STAFF, "two-factor off")}
    # Even the right password is refused while the throttle holds.
    right = post(client, "/admin/account/two-factor/off", {"password": PASSWORD})
    assert right.status_code == 429
