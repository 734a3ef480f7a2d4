"""Managing accounts: adding or promoting an admin, changing another account's role and disabling
an admin ask for the acting admin's password again (a step-up, valid 10 minutes)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.extensions import db
from portal.models import User

from .admin_helpers import (
    ADMIN,
    PASSWORD,
    STAFF,
    audit_events,
    csrf_token,
    make_user,
    post,
    sign_in,
)

NEW_PASSWORD = "violet tractor lantern oyster"
STEP_UP = "/admin/confirm-password?next=/admin/users"


@pytest.fixture
def admin(app, client) -> FlaskClient:
    make_user(app, ADMIN, "admin")
    sign_in(client, ADMIN)
    return client


def account(app, email: str) -> User | None:
    with app.app_context():
        found = db.session.scalar(select(User).where(User.email == email))
        db.session.expunge_all()
        return found


def step_up(client: FlaskClient, password: str = PASSWORD):
    token = csrf_token(client, STEP_UP)
    return client.post(STEP_UP, data={"csrf_token": token, "password": password})


def add_account(client: FlaskClient, email: str, role: str):
    data = {"email": email, "role": role, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    return post(client, "/admin/users", data, page="/admin/users")


def test_adding_an_admin_asks_for_the_admins_password_again(app, admin):
    refused = add_account(admin, "second@example.org", "admin")
    assert refused.status_code == 303 and refused.headers["Location"] == STEP_UP
    assert account(app, "second@example.org") is None
    assert "Enter your password again" in admin.get(STEP_UP).get_data(as_text=True)
    assert step_up(admin, "not my password").status_code == 422
    assert audit_events(app, "login.failed")[0].detail == {"step": "step-up"}
    confirmed = step_up(admin)
    assert confirmed.status_code == 303 and confirmed.headers["Location"] == "/admin/users"
    assert add_account(admin, "second@example.org", "admin").status_code == 303
    assert account(app, "second@example.org").role == "admin"


def test_adding_staff_needs_no_step_up(app, admin):
    assert add_account(admin, STAFF, "staff").status_code == 303
    assert account(app, STAFF).role == "staff"


def test_the_step_up_lasts_ten_minutes(app, admin):
    step_up(admin)
    with admin.session_transaction() as session:
        session["staff_step_up_at"] -= 9 * 60
    assert add_account(admin, "second@example.org", "admin").status_code == 303
    assert account(app, "second@example.org") is not None
    with admin.session_transaction() as session:
        session["staff_step_up_at"] -= 60 + 1
    refused = add_account(admin, "third@example.org", "admin")
    assert refused.headers["Location"] == STEP_UP
    assert account(app, "third@example.org") is None


def test_changing_a_role_asks_for_the_password_and_ends_that_accounts_sessions(app, admin):
    make_user(app, STAFF, "staff")
    staff = app.test_client()
    sign_in(staff, STAFF)
    promote = {"email": STAFF, "role": "admin"}
    refused = post(admin, "/admin/users/role", promote, page="/admin/users")
    assert refused.headers["Location"] == STEP_UP
    assert account(app, STAFF).role == "staff"
    step_up(admin)
    assert post(admin, "/admin/users/role", promote, page="/admin/users").status_code == 303
    assert account(app, STAFF).role == "admin"
    assert staff.get("/admin/").status_code == 302  # signs in again, with the new role
    [event] = audit_events(app, "user.role")
    assert event.actor == ADMIN and event.detail == {"from": "staff", "to": "admin"}
    demote = {"email": STAFF, "role": "staff"}
    assert post(admin, "/admin/users/role", demote, page="/admin/users").status_code == 303
    assert account(app, STAFF).role == "staff"


def test_an_admin_cannot_change_their_own_role(app, admin):
    step_up(admin)
    post(admin, "/admin/users/role", {"email": ADMIN, "role": "staff"}, page="/admin/users")
    assert account(app, ADMIN).role == "admin"


def test_disabling_an_admin_asks_for_the_password_disabling_staff_does_not(app, admin):
    make_user(app, "second@example.org", "admin")
    make_user(app, STAFF, "staff")
    assert (
        post(admin, "/admin/users/disable", {"email": STAFF}, page="/admin/users").status_code
        == 303
    )
    assert not account(app, STAFF).active
    refused = post(
        admin, "/admin/users/disable", {"email": "second@example.org"}, page="/admin/users"
    )
    assert refused.headers["Location"] == STEP_UP
    assert account(app, "second@example.org").active
    step_up(admin)
    post(admin, "/admin/users/disable", {"email": "second@example.org"}, page="/admin/users")
    assert not account(app, "second@example.org").active


def test_the_step_up_page_is_throttled_like_signing_in(app, admin):
    answers = [step_up(admin, f"wrong guess {n:04d}").status_code for n in range(6)]
    assert answers == [422] * 5 + [429]
    assert step_up(admin).status_code == 429
