"""Signing in and out: one answer for every failure, the throttle, sessions that end, two-factor."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pyotp
import pytest
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


def signed_in(client: FlaskClient) -> bool:
    return client.get("/admin/").status_code == 200


def without_tokens(page: str) -> str:
    return re.sub(r'value="[^"]*"', "", page)


def test_sign_in_page_has_the_labels_and_no_remember_me(client):
    page = client.get("/admin/login").get_data(as_text=True)
    assert re.search(r"<label[^>]*>Email address</label>", page)
    assert re.search(r"<label[^>]*>Password</label>", page)
    assert "remember" not in page.lower()


def test_right_password_signs_in_and_is_audited(app, client):
    make_user(app)
    response = sign_in(client)
    assert response.status_code == 303 and response.headers["Location"] == "/admin/"
    assert signed_in(client)
    [event] = audit_events(app, "login.success")
    assert event.actor == STAFF and event.ip == "127.0.0.1" and event.user_id is not None


def test_unknown_account_wrong_password_and_disabled_account_get_one_answer(app, client):
    make_user(app)
    make_user(app, "gone@example.org")
    with app.app_context():
        db.session.scalar(select(User).where(User.email == "gone@example.org")).active = False
        db.session.commit()
    answers = [
        sign_in(app.test_client(), "nobody@example.org"),
        sign_in(app.test_client(), STAFF, "wrong password here"),
        sign_in(app.test_client(), "gone@example.org"),
    ]
    assert {a.status_code for a in answers} == {200}
    pages = {without_tokens(a.get_data(as_text=True)) for a in answers[:2]}
    assert len(pages) == 1
    assert "The email address or password is not right" in answers[2].get_data(as_text=True)
    # The account is named only when it exists: what was typed for an unknown one (perhaps a
    # password in the wrong box) is never kept.
    failures = audit_events(app, "login.failed")
    assert [e.target for e in failures] == [None, STAFF, "gone@example.org"]
    assert "nobody@example.org" not in {failures[0].actor, str(failures[0].detail)}


def test_sixth_attempt_in_15_minutes_is_refused_even_with_the_right_password(app, client):
    make_user(app)
    for _ in range(5):
        assert sign_in(client, STAFF, "not the password").status_code == 200
    refused = sign_in(client, STAFF, PASSWORD)
    assert refused.status_code == 429
    assert "Try again later" in refused.get_data(as_text=True)
    assert not signed_in(client)
    assert len(audit_events(app, "login.blocked")) == 1


def test_failures_from_one_address_are_limited_whatever_the_account(app, client):
    make_user(app)
    for n in range(5):
        sign_in(client, f"guess{n}@example.org", "not the password")
    assert sign_in(client, STAFF, PASSWORD).status_code == 429
    # Another address may still sign in to this account.
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert sign_in(other, STAFF, PASSWORD).status_code == 303


def test_failures_are_counted_across_web_processes(settings, app, make_app):
    """Two app instances on one database stand for two gunicorn workers."""
    make_user(app)
    second_worker = make_app()
    clients = [app.test_client(), second_worker.test_client()]
    for n in range(5):
        client = clients[n % 2]
        client.environ_base["REMOTE_ADDR"] = "192.0.2.10"
        sign_in(client, STAFF, "not the password")
    fresh = second_worker.test_client()
    fresh.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    assert sign_in(fresh, STAFF, PASSWORD).status_code == 429
    # The failures were one address's: another address still signs in (no lock-out from afar).
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.99"
    assert sign_in(elsewhere, STAFF, PASSWORD).status_code == 303
    with second_worker.app_context():
        db.engine.dispose()


def test_failures_older_than_the_window_do_not_count(app, client):
    make_user(app)
    with app.app_context():
        for _ in range(5):
            db.session.add(
                AuditEvent(
                    action="login.failed",
                    actor=STAFF,
                    target=STAFF,
                    ip="127.0.0.1",
                    created_at=utcnow() - timedelta(minutes=16),
                )
            )
        db.session.commit()
    assert sign_in(client).status_code == 303


def test_sign_in_starts_a_new_session(app, client):
    make_user(app)
    client.get("/admin/login")
    with client.session_transaction() as session:
        session["planted"] = "before sign-in"
        old_csrf = session["csrf_token"]
    sign_in(client)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("csrf_token") != old_csrf


def test_session_cookie_is_httponly_lax_and_not_remembered(app, client):
    make_user(app)
    response = sign_in(client)
    cookies = response.headers.getlist("Set-Cookie")
    [session_cookie] = [c for c in cookies if c.startswith("session=")]
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    assert "Expires" not in session_cookie  # ends with the browser
    assert "Secure" not in session_cookie  # plain HTTP here
    assert not any(c.startswith("remember_token") for c in cookies)


def test_session_cookie_is_secure_over_https(app):
    make_user(app)
    client = app.test_client()
    https = "https://localhost/"
    page = client.get("/admin/login", base_url=https).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    data = {"csrf_token": token, "email": STAFF, "password": PASSWORD}
    response = client.post("/admin/login", data=data, base_url=https)
    assert response.status_code == 303
    [session_cookie] = [c for c in response.headers.getlist("Set-Cookie") if "session=" in c]
    assert "Secure" in session_cookie


def test_session_cookie_is_host_prefixed_over_https(app):
    """__Host-session: Secure, Path=/ and no Domain, so no other host of the domain can set it."""
    app.config["SESSION_COOKIE_DOMAIN"] = "practice.example"  # even when a domain is configured
    make_user(app)
    client = app.test_client()
    https = "https://localhost/"
    page = client.get("/admin/login", base_url=https).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    data = {"csrf_token": token, "email": STAFF, "password": PASSWORD}
    response = client.post("/admin/login", data=data, base_url=https)
    [cookie] = response.headers.getlist("Set-Cookie")
    assert cookie.startswith("__Host-session=")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert "secure" in attributes and "domain" not in attributes
    assert "; Path=/;" in cookie or cookie.endswith("; Path=/")
    assert client.get("/admin/", base_url=https).status_code == 200  # the session is read back
    assert client.get("/admin/", base_url="http://localhost/").status_code == 302


def test_session_ends_after_15_idle_minutes(app, client):
    make_user(app)
    sign_in(client)
    with client.session_transaction() as session:
        session["staff_seen_at"] -= 15 * 60 + 1
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login")
    assert not signed_in(client)
    [event] = audit_events(app, "session.expired")
    assert event.detail == {"reason": "idle"}


def test_activity_keeps_the_session_going(app, client):
    make_user(app)
    sign_in(client)
    with client.session_transaction() as session:
        session["staff_seen_at"] -= 14 * 60
    assert signed_in(client)
    with client.session_transaction() as session:
        session["staff_seen_at"] -= 14 * 60
    assert signed_in(client)


def test_idle_timeout_is_a_setting(settings, app, client):
    app.config["SESSION_IDLE_TIMEOUT"] = 60
    make_user(app)
    sign_in(client)
    with client.session_transaction() as session:
        session["staff_seen_at"] -= 61
    assert not signed_in(client)


def test_session_ends_12_hours_after_sign_in_however_busy(app, client):
    make_user(app)
    sign_in(client)
    with client.session_transaction() as session:
        session["staff_login_at"] -= 12 * 3600 + 1
    assert not signed_in(client)
    assert audit_events(app, "session.expired")[0].detail == {"reason": "time limit"}


def test_sign_out_ends_every_session_and_a_replayed_cookie(app, client):
    make_user(app)
    sign_in(client)
    copied = client.get_cookie("session").value
    elsewhere = app.test_client()
    sign_in(elsewhere)
    response = post(client, "/admin/logout", page="/admin/")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/login"
    assert "You have signed out" in client.get("/admin/login").get_data(as_text=True)
    assert not signed_in(client)
    replay = app.test_client()
    replay.set_cookie("session", copied)
    assert replay.get("/admin/").status_code == 302
    assert not signed_in(elsewhere)
    assert len(audit_events(app, "logout")) == 1


def test_disabling_a_user_ends_their_sessions(app, client):
    make_user(app)
    make_user(app, ADMIN, "admin")
    sign_in(client)
    admin = app.test_client()
    sign_in(admin, ADMIN)
    response = post(admin, "/admin/users/disable", {"email": STAFF}, page="/admin/users")
    assert response.status_code == 303
    assert not signed_in(client)
    assert sign_in(app.test_client()).status_code == 200  # refused with the usual answer
    [event] = audit_events(app, "user.disabled")
    assert event.actor == ADMIN and event.target == STAFF


def test_password_change_ends_other_sessions_and_keeps_this_one(app, client):
    make_user(app)
    sign_in(client)
    elsewhere = app.test_client()
    sign_in(elsewhere)
    new_password = "a much longer new passphrase"
    response = post(
        client,
        "/admin/account/password",
        {"current_password": PASSWORD, "new_password": new_password, "confirm": new_password},
    )
    assert response.status_code == 303
    assert signed_in(client)
    assert not signed_in(elsewhere)
    assert sign_in(app.test_client(), STAFF, new_password).status_code == 303
    assert audit_events(app, "user.password")[0].target == STAFF


@pytest.mark.parametrize(
    "new_password, message",
    [
        ("short pass", "at least 12 characters"),
        ("qwertyuiop123", "too common"),
        ("PasswordPassword", "too common"),
    ],
)
def test_weak_passwords_are_refused(app, client, new_password, message):
    make_user(app)
    sign_in(client)
    response = post(
        client,
        "/admin/account/password",
        {"current_password": PASSWORD, "new_password": new_password, "confirm": new_password},
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_passwords_are_hashed_with_scrypt(production_hashing, app):
    make_user(app)
    with app.app_context():
        user = db.session.scalar(select(User))
        assert user.password_hash.startswith("scrypt:")
        assert PASSWORD not in user.password_hash


def test_two_factor_sign_in_asks_for_a_code_once_turned_on(app, client):
    make_user(app)
    sign_in(client)
    secret = turn_on_two_factor(client)
    post(client, "/admin/logout", page="/admin/")

    fresh = app.test_client()
    response = sign_in(fresh)
    assert response.headers["Location"] == "/admin/login/code"
    assert not signed_in(fresh)
    page = fresh.get("/admin/login/code").get_data(as_text=True)
    assert re.search(r"<label[^>]*>Authentication code</label>", page)
    token = csrf_token(fresh, "/admin/login/code")
    wrong = fresh.post("/admin/login/code", data={"csrf_token": token, "code": "000000"})
    assert "The code is not right" in wrong.get_data(as_text=True)
    # The code that turned it on was used: the app's next code (one step ahead) is accepted.
    code = pyotp.TOTP(secret).at(int(time.time()) + 30)
    right = fresh.post("/admin/login/code", data={"csrf_token": token, "code": code})
    assert right.status_code == 303 and signed_in(fresh)
    assert audit_events(app, "user.2fa_enabled")
    assert audit_events(app, "login.failed")[0].detail == {"step": "code"}

    # The same code cannot sign in a second time.
    again = app.test_client()
    sign_in(again)
    token = csrf_token(again, "/admin/login/code")
    replay = again.post("/admin/login/code", data={"csrf_token": token, "code": code})
    assert replay.status_code == 200 and not signed_in(again)


def setup_link(runner, email: str = STAFF) -> str:
    """A one-time set-up link from the command line, as a path of this site."""
    result = runner.invoke(args=["users", "setup-link", email])
    assert result.exit_code == 0, result.output
    return urlsplit(result.output.strip().splitlines()[-1]).path


def enrol_with_setup_link(client: FlaskClient, link: str, password: str = PASSWORD) -> str:
    """Open the link, enter the password, and confirm the key it shows; returns that key."""
    assert "totp-key" not in client.get(link).get_data(as_text=True)  # the password comes first
    token = csrf_token(client, link)
    assert client.post(link, data={"csrf_token": token, "password": password}).status_code == 303
    page = client.get(link).get_data(as_text=True)
    secret = re.search(r'<code class="totp-key">([A-Z2-7 ]+)</code>', page).group(1)
    secret = secret.replace(" ", "")
    token = csrf_token(client, link)
    done = client.post(link, data={"csrf_token": token, "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 303, done.get_data(as_text=True)
    return secret


def test_require_2fa_makes_a_user_set_it_up_before_signing_in(app, client, runner):
    app.config["REQUIRE_2FA"] = True
    make_user(app)
    response = sign_in(client)
    assert response.headers["Location"] == "/admin/login/two-factor"
    assert not signed_in(client)
    # A password alone never reaches the enrolment page: only an admin's set-up link does.
    page = client.get("/admin/login/two-factor").get_data(as_text=True)
    assert "totp-key" not in page and "set-up link" in page
    secret = enrol_with_setup_link(client, setup_link(runner))
    assert signed_in(client)
    with app.app_context():
        assert db.session.scalar(select(User)).totp_secret == secret
    off = post(client, "/admin/account/two-factor/off", {"password": PASSWORD})
    assert off.status_code == 403


def test_sessions_from_before_2fa_became_mandatory_must_set_it_up_first(app, client):
    make_user(app)
    sign_in(client)
    app.config["REQUIRE_2FA"] = True
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/account/two-factor"
    assert client.get("/admin/account/two-factor").status_code == 200
