"""The staff service layer: one unit of work per action, shared by the views and the CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest
from flask import Flask

from portal.admin.staff import current_staff
from portal.extensions import db
from portal.models import Submission, User
from portal.services import accounts, retention
from portal.services.actions import Actor, staff_action
from portal.services.submissions import set_status

from .admin_helpers import STAFF, add_submission, audit_events, make_user, stored

OPERATOR = Actor()


def account(email: str = STAFF) -> User:
    user = accounts.find(db.session, email)
    assert user is not None
    return user


def test_staff_action_commits_the_change_with_its_audit_event(app: Flask) -> None:
    make_user(app)
    with app.app_context():
        accounts.set_active(db.session, OPERATOR, account(), False)
        db.session.expunge_all()
        assert account().active is False
    (event,) = audit_events(app, "user.disabled")
    assert event.actor == "command line" and event.target == STAFF


def test_staff_action_undoes_the_change_when_its_audit_event_fails(app: Flask) -> None:
    make_user(app)
    with app.app_context():
        user = account()
        with pytest.raises(ValueError, match="unknown audit action"):
            with staff_action(db.session, OPERATOR, "no.such.action", target=user.email):
                user.active = False
        db.session.expunge_all()
        assert account().active is True  # no audit record, no change
    assert audit_events(app) == []


def test_staff_action_undoes_the_change_when_the_block_fails(app: Flask) -> None:
    make_user(app)
    with app.app_context():
        user = account()
        with pytest.raises(RuntimeError):
            with staff_action(db.session, OPERATOR, "user.disabled", target=user.email):
                user.active = False
                raise RuntimeError("the action failed half-way")
        db.session.expunge_all()
        assert account().active is True
    assert audit_events(app, "user.disabled") == []


def test_account_service_refuses_a_password_the_rule_refuses(app: Flask) -> None:
    make_user(app)
    with app.app_context():
        with pytest.raises(accounts.AccountError, match="too common"):
            accounts.set_password(db.session, OPERATOR, account(), "password1234")
    assert audit_events(app, "user.password") == []


def test_setup_link_refused_for_a_disabled_account(app: Flask) -> None:
    make_user(app)
    with app.app_context():
        accounts.set_active(db.session, OPERATOR, account(), False)
        with pytest.raises(accounts.AccountError, match="disabled"):
            accounts.setup_link(db.session, OPERATOR, account())
    assert audit_events(app, "user.setup_link") == []


def test_status_set_to_what_it_was_is_no_action(app: Flask) -> None:
    reference = add_submission(app)
    with app.app_context():
        submission = db.session.query(Submission).filter_by(reference=reference).one()
        assert set_status(db.session, submission, OPERATOR, "new") is False
        assert set_status(db.session, submission, OPERATOR, "contacted") is True
    assert stored(app, reference).status == "contacted"
    (event,) = audit_events(app, "submission.status")
    assert event.detail == {"from": "new", "to": "contacted"}


@pytest.mark.parametrize("days", [0, -1, "30", None])
def test_purge_refuses_anything_but_a_positive_number_of_days(app: Flask, days: object) -> None:
    add_submission(app)
    with app.app_context():
        with pytest.raises(ValueError, match="RETENTION_DAYS"):
            retention.purge(db.session, OPERATOR, days)  # type: ignore[arg-type]
    assert audit_events(app, "purge") == []


def test_current_staff_refuses_a_request_without_a_signed_in_account(app: Flask) -> None:
    with app.test_request_context("/admin/"):
        with pytest.raises(RuntimeError, match="signed-in staff"):
            current_staff()


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("portal.cli", "portal.admin"),
        ("portal.cli_users", "portal.admin"),
        ("portal.admin", "portal.public"),
    ],
)
def test_each_side_imports_only_what_it_owns_or_what_is_shared(module: str, forbidden: str) -> None:
    # A fresh interpreter: this test process has long since imported every module.
    code = (
        f"import sys, {module}; "
        f"print(sorted(m for m in sys.modules if m == {forbidden!r} "
        f"or m.startswith({forbidden + '.'!r})))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert found == "[]", f"{module} imports {found}"
