"""Operators' commands: users, export and purge, each audited."""

from __future__ import annotations

import csv
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Note, OutboxMessage, Submission, User

from .admin_helpers import (
    ADMIN,
    PASSWORD,
    STAFF,
    add_submission,
    audit_events,
    make_user,
    sign_in,
    stored,
)


def user(app, email: str) -> User | None:
    with app.app_context():
        found = db.session.scalar(select(User).where(User.email == email))
        db.session.expunge_all()
        return found


def test_users_create_asks_for_the_password_twice(production_hashing, app, runner):
    result = runner.invoke(
        args=["users", "create", "Admin@Example.org", "--role", "admin"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    created = user(app, ADMIN)
    assert created.role == "admin" and created.active
    assert created.password_hash.startswith("scrypt:")
    assert sign_in(app.test_client(), ADMIN).status_code == 303
    [event] = audit_events(app, "user.created")
    assert event.actor == "command line" and event.target == ADMIN
    assert event.detail == {"role": "admin"}


def test_users_create_refuses_mismatched_weak_and_duplicate_passwords(app, runner):
    mismatch = runner.invoke(
        args=["users", "create", STAFF, "--role", "staff"],
        input=f"{PASSWORD}\nsomething else entirely\n",
    )
    assert mismatch.exit_code != 0
    weak = runner.invoke(
        args=["users", "create", STAFF, "--role", "staff"], input="password1234\npassword1234\n"
    )
    assert weak.exit_code == 1 and "too common" in weak.output
    short = runner.invoke(
        args=["users", "create", STAFF, "--role", "staff"], input="short\nshort\n"
    )
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    assert user(app, STAFF) is None
    make_user(app, STAFF)
    again = runner.invoke(
        args=["users", "create", STAFF, "--role", "staff"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert again.exit_code == 1 and "already an account" in again.output
    bad_role = runner.invoke(args=["users", "create", "x@example.org", "--role", "owner"])
    assert bad_role.exit_code == 2


def test_users_create_reads_a_piped_password_in_a_real_process(settings, app, tmp_path):
    env = {
        **os.environ,
        "PORTAL_INSTANCE_PATH": str(tmp_path / "cli-instance"),
        "PORTAL_SECRET_KEY": "cli-test-key",
        "PORTAL_SQLALCHEMY_DATABASE_URI": settings["SQLALCHEMY_DATABASE_URI"],
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "portal",
            "users",
            "create",
            STAFF,
            "--role",
            "staff",
        ],
        input=f"{PASSWORD}\n{PASSWORD}\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert sign_in(app.test_client(), STAFF).status_code == 303


def test_users_list_shows_every_account(app, runner):
    make_user(app, ADMIN, "admin")
    make_user(app, STAFF, "staff")
    output = runner.invoke(args=["users", "list"]).output
    assert ADMIN in output and STAFF in output and "admin" in output and "never" in output


def test_users_disable_ends_sessions_and_sign_in(app, runner, client):
    make_user(app)
    sign_in(client)
    result = runner.invoke(args=["users", "disable", STAFF])
    assert result.exit_code == 0, result.output
    assert client.get("/admin/").status_code == 302
    assert sign_in(app.test_client()).status_code == 200
    assert audit_events(app, "user.disabled")[0].target == STAFF
    assert runner.invoke(args=["users", "disable", "nobody@example.org"]).exit_code == 1
    assert runner.invoke(args=["users", "enable", STAFF]).exit_code == 0
    assert sign_in(app.test_client()).status_code == 303


def test_users_set_password_ends_sessions(app, runner, client):
    make_user(app)
    sign_in(client)
    new_password = "a brand new passphrase"
    result = runner.invoke(
        args=["users", "set-password", STAFF], input=f"{new_password}\n{new_password}\n"
    )
    assert result.exit_code == 0, result.output
    assert client.get("/admin/").status_code == 302
    assert sign_in(app.test_client(), STAFF, new_password).status_code == 303
    assert audit_events(app, "user.password")[0].actor == "command line"


def test_export_command_writes_a_private_file_and_is_audited(app, runner, tmp_path):
    add_submission(
        app, first_name="=cmd|' /C calc'!A0", created_at=datetime(2026, 3, 3, tzinfo=UTC)
    )
    add_submission(app, form="contact", created_at=datetime(2026, 3, 3, tzinfo=UTC))
    add_submission(app, created_at=datetime(2026, 4, 1, tzinfo=UTC))
    output = tmp_path / "week.csv"
    result = runner.invoke(
        args=[
            "export",
            "--format",
            "csv",
            "--form",
            "appointment",
            "--since",
            "2026-03-02",
            "--until",
            "2026-03-08",
            "-o",
            str(output),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "1 submission(s)" in result.output
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    rows = list(csv.DictReader(output.read_text(encoding="utf-8-sig").splitlines()))
    assert len(rows) == 1 and rows[0]["First name"] == "'=cmd|' /C calc'!A0"
    [event] = audit_events(app, "export")
    assert event.actor == "command line"
    assert event.detail["rows"] == 1 and event.detail["format"] == "csv"
    assert event.detail["since"] == "2026-03-02" and event.detail["until"] == "2026-03-08"


def test_export_command_writes_xlsx_and_json(app, runner, tmp_path):
    add_submission(app)
    for fmt in ("xlsx", "json"):
        output = tmp_path / f"all.{fmt}"
        result = runner.invoke(args=["export", "--format", fmt, "-o", str(output)])
        assert result.exit_code == 0, result.output
        assert output.stat().st_size > 0
    assert runner.invoke(args=["export", "--format", "pdf", "-o", "x"]).exit_code == 2


def add_outbox_message(app, reference: str) -> None:
    with app.app_context():
        db.session.add(
            OutboxMessage(
                message_id=f"<{reference}@test>",
                reference=reference,
                template="front_desk",
                recipient="front-desk@example.org",
                subject=f"New request {reference}",
                context={},
            )
        )
        db.session.commit()


def counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return tuple(
            db.session.scalar(select(func.count()).select_from(model))
            for model in (Submission, Note, OutboxMessage)
        )


def test_purge_deletes_old_submissions_with_notes_and_emails_and_keeps_the_audit(
    app, runner, client
):
    make_user(app, ADMIN, "admin")
    old = add_submission(app, created_at=datetime.now(UTC) - timedelta(days=400))
    recent = add_submission(app, created_at=datetime.now(UTC) - timedelta(days=10))
    for reference in (old, recent):
        add_outbox_message(app, reference)
    sign_in(client, ADMIN)
    client.get(f"/admin/submissions/{old}")
    with app.app_context():
        author = db.session.scalar(select(User)).id
        for reference in (old, recent):
            submission_id = db.session.scalar(
                select(Submission.id).where(Submission.reference == reference)
            )
            db.session.add(Note(submission_id=submission_id, author_id=author, text="Called."))
        db.session.commit()
    audit_before = len(audit_events(app))

    dry = runner.invoke(args=["purge", "--older-than", "365", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "Would delete 1 submissions, 1 notes, 1 emails" in dry.output
    assert counts(app) == (2, 2, 2)

    result = runner.invoke(args=["purge", "--older-than", "365"])
    assert result.exit_code == 0, result.output
    assert counts(app) == (1, 1, 1)
    assert stored(app, old) is None and stored(app, recent) is not None
    events = audit_events(app)
    assert len(events) == audit_before + 1  # every earlier record kept, the purge added
    assert any(e.action == "submission.viewed" and e.target == old for e in events)
    purge = events[-1]
    assert purge.action == "purge" and purge.actor == "command line"
    assert purge.detail["submissions"] == 1 and purge.detail["older_than_days"] == 365


def test_purge_defaults_to_the_retention_setting(app, runner):
    app.config["RETENTION_DAYS"] = 30
    add_submission(app, created_at=datetime.now(UTC) - timedelta(days=31))
    add_submission(app, created_at=datetime.now(UTC) - timedelta(days=29))
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert counts(app)[0] == 1
    assert audit_events(app, "purge")[0].detail["older_than_days"] == 30


def test_purge_states_what_the_audit_trail_keeps(app, runner):
    add_submission(app, created_at=datetime.now(UTC) - timedelta(days=400))
    for args in (["purge", "--older-than", "365", "--dry-run"], ["purge", "--older-than", "365"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
        assert "The audit trail is kept" in result.output
        assert "never the text of a search" in result.output
        assert "no patient's name, contact details or message" in result.output
    help_text = runner.invoke(args=["purge", "--help"]).output
    assert "audit trail keeps" in help_text


def test_export_command_refuses_to_overwrite_a_file_without_force(app, runner, tmp_path):
    add_submission(app)
    output = tmp_path / "existing.csv"
    output.write_text("keep me")
    os.chmod(output, 0o666)
    result = runner.invoke(args=["export", "--format", "csv", "-o", str(output)])
    assert result.exit_code != 0
    assert "already exists" in result.output and "--force" in result.output
    assert output.read_text() == "keep me"
    assert not audit_events(app, "export")  # nothing exported, nothing recorded

    forced = runner.invoke(args=["export", "--format", "csv", "-o", str(output), "--force"])
    assert forced.exit_code == 0, forced.output
    assert output.read_bytes().startswith(b'\xef\xbb\xbf"Reference"')
    assert stat.S_IMODE(output.stat().st_mode) == 0o600  # the old 0666 did not survive


def test_export_command_never_writes_through_a_symbolic_link(app, runner, tmp_path):
    add_submission(app)
    target = tmp_path / "somewhere-else.txt"
    target.write_text("not yours")
    link = tmp_path / "export.csv"
    link.symlink_to(target)
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "would-be-created.csv")
    for path in (link, dangling):
        result = runner.invoke(args=["export", "--format", "csv", "-o", str(path)])
        assert result.exit_code != 0 and "already exists" in result.output
    assert target.read_text() == "not yours"
    assert not (tmp_path / "would-be-created.csv").exists()

    forced = runner.invoke(args=["export", "--format", "csv", "-o", str(link), "--force"])
    assert forced.exit_code == 0, forced.output
    assert target.read_text() == "not yours"  # the link was replaced, not followed
    assert not link.is_symlink()
    assert stat.S_IMODE(link.stat().st_mode) == 0o600
    assert link.read_bytes().startswith(b'\xef\xbb\xbf"Reference"')
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_export_command_creates_its_file_owner_only_under_umask_022(app, runner, tmp_path):
    add_submission(app)
    previous = os.umask(0o022)
    try:
        result = runner.invoke(args=["export", "--format", "json", "-o", str(tmp_path / "a.json")])
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o600


def test_users_setup_link_prints_a_one_time_link_for_an_account_without_two_factor(app, runner):
    make_user(app)
    make_user(app, ADMIN, "admin", totp_secret="JBSWY3DPEHPK3PXP")
    result = runner.invoke(args=["users", "setup-link", STAFF])
    assert result.exit_code == 0, result.output
    link = result.output.strip().splitlines()[-1]
    assert link.startswith("http://127.0.0.1:5000/admin/setup/") and len(link) > 60
    assert "works once, for 72 hours" in result.output
    assert audit_events(app, "user.setup_link")[0].target == STAFF
    enrolled = runner.invoke(args=["users", "setup-link", ADMIN])
    assert enrolled.exit_code == 1 and "already has two-factor sign-in" in enrolled.output
    assert runner.invoke(args=["users", "setup-link", "nobody@example.org"]).exit_code == 1


def test_purge_refuses_a_retention_setting_below_one_day(app, runner):
    with app.app_context():
        db.session.add(
            Submission(reference="APT-ABCDEFGH", form="contact", name="Keep Me", message="m")
        )
        db.session.commit()
    app.config["RETENTION_DAYS"] = 0
    result = runner.invoke(args=["purge"])
    assert result.exit_code != 0
    assert "RETENTION_DAYS must be a whole number of days, 1 or more" in result.output
    with app.app_context():
        assert db.session.query(Submission).count() == 1
