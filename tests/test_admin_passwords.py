"""One password rule, in one place, for the command line, the users page and the account page:
12 characters or more, not a common password, not made from the account's email address or the
practice's name or domain, and a zxcvbn strength score of 3 or more."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.admin.passwords import password_problem
from portal.extensions import db
from portal.models import User

from .admin_helpers import ADMIN, PASSWORD, make_user, post, sign_in

RECEPTION = "frontdesk.reception@example.org"
# A keyboard walk, the practice's name run together, its name with digits, the account's email.
WEAK = ["qwertyuiopas", "bostonoutpatient", "Boston123456", "frontdesk.reception"]
STRONG = "violet tractor lantern oyster"


def account(app, email: str = RECEPTION) -> User | None:
    with app.app_context():
        found = db.session.scalar(select(User).where(User.email == email))
        db.session.expunge_all()
        return found


@pytest.mark.parametrize("password", WEAK)
def test_weak_password_is_refused_by_the_command_line(app, runner, password):
    result = runner.invoke(
        args=["users", "create", RECEPTION, "--role", "staff"], input=f"{password}\n{password}\n"
    )
    assert result.exit_code == 1, result.output
    assert account(app) is None


@pytest.mark.parametrize("password", WEAK)
def test_weak_password_is_refused_by_the_users_page(app, client, password):
    make_user(app, ADMIN, "admin")
    sign_in(client, ADMIN)
    response = post(
        client,
        "/admin/users",
        {"email": RECEPTION, "role": "staff", "password": password, "confirm": password},
        page="/admin/users",
    )
    assert response.status_code == 422
    assert account(app) is None


@pytest.mark.parametrize("password", WEAK)
def test_weak_password_is_refused_by_the_account_page(app, client, password):
    make_user(app, RECEPTION)
    sign_in(client, RECEPTION)
    response = post(
        client,
        "/admin/account/password",
        {"current_password": PASSWORD, "new_password": password, "confirm": password},
    )
    assert response.status_code == 422
    assert sign_in(app.test_client(), RECEPTION, password).status_code == 200  # unchanged


def test_a_strong_password_is_accepted_on_all_three_paths(app, client, runner):
    created = runner.invoke(
        args=["users", "create", RECEPTION, "--role", "staff"], input=f"{STRONG}\n{STRONG}\n"
    )
    assert created.exit_code == 0, created.output
    make_user(app, ADMIN, "admin")
    sign_in(client, ADMIN)
    page = post(
        client,
        "/admin/users",
        {"email": "nurse@example.org", "role": "staff", "password": STRONG, "confirm": STRONG},
        page="/admin/users",
    )
    assert page.status_code == 303
    reception = app.test_client()
    sign_in(reception, RECEPTION, STRONG)
    changed = post(
        reception,
        "/admin/account/password",
        {"current_password": STRONG, "new_password": PASSWORD, "confirm": PASSWORD},
    )
    assert changed.status_code == 303


def test_each_rule_says_what_is_wrong(app):
    with app.app_context():
        assert "at least 12" in password_problem("short one", RECEPTION)
        assert "too common" in password_problem("qwertyuiopasdfghjkl", RECEPTION)
        assert "practice's name" in password_problem("bostonoutpatient", RECEPTION)
        assert "email address" in password_problem("frontdesk.reception", RECEPTION)
        assert "email address" in password_problem("Reception2026!", RECEPTION)
        assert "too easy to guess" in password_problem("qwertyuiopas", RECEPTION)
        assert password_problem(STRONG, RECEPTION) is None


def test_the_practice_domain_counts_as_its_name(app):
    with app.app_context():
        app.config["PUBLIC_BASE_URL"] = "https://portal.bostonsurgical.org"
        assert "practice's name" in password_problem("bostonsurgical2026", "a@example.org")
