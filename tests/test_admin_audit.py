"""The audit trail: written with each action or the action does not happen, never changed or
deleted, and readable by admins with filters."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select, update

from portal import audit
from portal.audit import AuditTrailIsAppendOnly
from portal.extensions import db
from portal.models import AuditEvent, Note, User

from .admin_helpers import (
    ADMIN,
    PASSWORD,
    STAFF,
    add_submission,
    audit_events,
    isolation_of,
    make_user,
    post,
    sign_in,
    stored,
)


@pytest.fixture
def admin(app, client):
    make_user(app, ADMIN, "admin")
    sign_in(client, ADMIN)
    return client


def break_the_audit_trail(app) -> None:
    """Make every audit insert fail, as a full disk or a revoked grant would."""
    with app.app_context():
        db.session.execute(db.text("DROP TABLE audit_event"))
        db.session.commit()


def test_each_event_records_who_when_what_and_from_where(app, admin):
    reference = add_submission(app)
    before = datetime.now(UTC)
    admin.get(f"/admin/submissions/{reference}", environ_base={"REMOTE_ADDR": "198.51.100.4"})
    [event] = audit_events(app, "submission.viewed")
    assert event.actor == ADMIN and event.user_id is not None
    assert event.target == reference and event.ip == "198.51.100.4"
    assert event.created_at.tzinfo is not None and event.created_at >= before.replace(microsecond=0)


def test_account_changes_in_the_staff_area_are_audited(app, admin):
    new_password = "another long passphrase"
    response = post(
        admin,
        "/admin/users",
        {"email": STAFF, "role": "staff", "password": new_password, "confirm": new_password},
        page="/admin/users",
    )
    assert response.status_code == 303
    post(admin, "/admin/users/disable", {"email": STAFF}, page="/admin/users")
    post(admin, "/admin/users/enable", {"email": STAFF}, page="/admin/users")
    assert sign_in(app.test_client(), STAFF, new_password).status_code == 303
    actions = [(e.action, e.target) for e in audit_events(app) if e.action.startswith("user.")]
    assert actions == [
        ("user.created", STAFF),
        ("user.disabled", STAFF),
        ("user.enabled", STAFF),
    ]
    assert audit_events(app, "user.created")[0].detail == {"role": "staff"}


def test_new_account_needs_a_strong_password_and_a_unique_email(app, admin):
    weak = post(
        admin,
        "/admin/users",
        {"email": STAFF, "role": "staff", "password": "letmein", "confirm": "letmein"},
        page="/admin/users",
    )
    assert weak.status_code == 422 and "at least 12 characters" in weak.get_data(as_text=True)
    taken = post(
        admin,
        "/admin/users",
        {"email": ADMIN.upper(), "role": "staff", "password": PASSWORD, "confirm": PASSWORD},
        page="/admin/users",
    )
    assert taken.status_code == 422 and "already an account" in taken.get_data(as_text=True)
    assert not audit_events(app, "user.created")


def test_no_status_change_without_its_audit_record(app, admin):
    reference = add_submission(app)
    page = admin.get(f"/admin/submissions/{reference}")
    assert page.status_code == 200
    token = admin.get("/admin/account").get_data(as_text=True).split('name="csrf_token" value="')[1]
    token = token.split('"')[0]
    break_the_audit_trail(app)
    response = admin.post(
        f"/admin/submissions/{reference}/status", data={"csrf_token": token, "status": "closed"}
    )
    assert response.status_code == 503
    assert stored(app, reference).status == "new"
    note = admin.post(
        f"/admin/submissions/{reference}/notes", data={"csrf_token": token, "text": "Called."}
    )
    assert note.status_code == 503
    with app.app_context():
        assert db.session.scalar(select(Note)) is None


def test_no_sign_in_and_no_page_without_the_audit_record(app, client):
    make_user(app, STAFF, "staff")
    reference = add_submission(app)
    break_the_audit_trail(app)
    response = sign_in(client, STAFF)
    assert response.status_code == 503
    assert client.get(f"/admin/submissions/{reference}").status_code == 302


def test_audit_events_cannot_be_changed_or_deleted(app, admin):
    with app.app_context():
        event = db.session.scalar(select(AuditEvent))
        event.actor = "someone else"
        with pytest.raises(AuditTrailIsAppendOnly):
            db.session.flush()
        db.session.rollback()
        event = db.session.scalar(select(AuditEvent))
        db.session.delete(event)
        with pytest.raises(AuditTrailIsAppendOnly):
            db.session.flush()
        db.session.rollback()
        with pytest.raises(AuditTrailIsAppendOnly):
            db.session.execute(delete(AuditEvent))
        with pytest.raises(AuditTrailIsAppendOnly):
            db.session.execute(update(AuditEvent).values(actor="x"))
        db.session.rollback()
        assert db.session.scalar(select(AuditEvent)).actor == ADMIN


def test_unknown_actions_are_refused(app):
    with app.app_context(), pytest.raises(ValueError):
        audit.record(db.session, "something.else")


def test_audit_page_lists_events_newest_first_with_filters(app, admin):
    reference = add_submission(app)
    admin.get(f"/admin/submissions/{reference}")
    sign_in(app.test_client(), "nobody@example.org", "wrong password!")
    page = admin.get("/admin/audit").get_data(as_text=True)
    action = '<td data-label="Action">{}</td>'
    assert page.index(action.format("Viewed a submission")) < page.index(action.format("Signed in"))
    assert f'<a href="/admin/submissions/{reference}">{reference}</a>' in page
    failed = admin.get("/admin/audit?action=login.failed").get_data(as_text=True)
    assert action.format("Sign-in failed") in failed and "unknown account" in failed
    assert "nobody@example.org" not in failed  # what was typed for an unknown account is not kept
    assert action.format("Viewed a submission") not in failed
    by_target = admin.get("/admin/audit", query_string={"who": reference}).get_data(as_text=True)
    assert action.format("Viewed a submission") in by_target
    assert action.format("Sign-in failed") not in by_target
    empty = admin.get("/admin/audit?since=2020-01-01&until=2020-01-02").get_data(as_text=True)
    assert "0 entries" in empty


def test_audit_page_links_carry_only_the_validated_filters(app, admin):
    with app.app_context():
        for n in range(60):
            audit.record(db.session, "export", detail={"rows": n})
        db.session.commit()
    steering = {"action": "export", "_method": "POST", "_external": "1", "_scheme": "ftp", "x": "1"}
    response = admin.get("/admin/audit", query_string=steering)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'href="/admin/audit?page=2&amp;action=export" rel="next"' in page
    pagination = page.split('<nav class="pagination"', 1)[1]
    for steer in ("_method", "_external", "_scheme", "ftp", "x=1", "http://"):
        assert steer not in pagination, steer


@pytest.mark.parametrize(
    "query",
    [
        {"until": "9999-12-31"},
        {"since": "1000-01-01"},
        {"page": str(10**20)},
        {"page": "0"},
        {"who": "a\x00b"},
        {"who": "\x1b"},
        {"action": "export\x00"},
    ],
)
def test_audit_page_refuses_far_dates_control_characters_and_impossible_pages(
    app, admin, caplog, query
):
    with caplog.at_level(logging.WARNING):
        response = admin.get("/admin/audit", query_string=query)
    assert response.status_code == 400
    assert "0 entries" in response.get_data(as_text=True)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_audit_trail_keeps_nothing_typed_at_sign_in_for_an_unknown_account(app, admin):
    """Neither raw (XSS) nor escaped: the typed text, perhaps a password, is never stored."""
    sign_in(app.test_client(), "<script>alert(1)</script>@x.org", "wrong password!")
    page = admin.get("/admin/audit").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "alert(1)" not in page
    [failure] = audit_events(app, "login.failed")
    assert failure.target is None and failure.actor == "unknown account"


def test_audit_page_isolates_typed_text_that_runs_right_to_left(app, admin):
    # What was typed at sign-in is audited as typed: an override there must not turn the row.
    typed = "ZZRTL\u202egnp.exe@x.org"
    with app.app_context():
        audit.record(
            db.session, "login.failed", actor=typed, target="אבי@x.org", detail={"step": "מרים"}
        )
        db.session.commit()
    page = admin.get("/admin/audit").get_data(as_text=True)
    assert f'<td data-label="Who"><bdi>{typed}</bdi></td>' in page
    for text in (typed, "אבי@x.org", "מרים"):
        assert isolation_of(page, text) == (1, 0), text


def test_admin_cannot_disable_themselves(app, admin):
    response = post(admin, "/admin/users/disable", {"email": ADMIN}, page="/admin/users")
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == ADMIN)).active
