"""Settings, the instance folder, the practice profile, migrations and SQLite durability."""

from __future__ import annotations

import ast
import fcntl
import logging
import os
import sqlite3
import stat
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, select, text

import portal.config
from portal.extensions import db

from .helpers import VALID_APPOINTMENT, MakeApp, form_tokens


def from_environment(make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, **env: str) -> Flask:
    """The app as production builds it, with these PORTAL_* (or FLASK_*) variables set."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return make_app(from_environment=True)


def test_refuses_to_start_with_the_default_secret_key(make_app, tmp_path, monkeypatch):
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    with pytest.raises(RuntimeError, match="default secret key.*PORTAL_SECRET_KEY"):
        from_environment(make_app, monkeypatch)


def test_default_secret_key_is_allowed_in_debug(make_app, tmp_path, monkeypatch):
    app = from_environment(make_app, monkeypatch, FLASK_DEBUG="1")
    assert app.debug


def test_settings_come_from_prefixed_environment_variables(make_app, tmp_path, monkeypatch):
    app = from_environment(
        make_app,
        monkeypatch,
        PORTAL_SECRET_KEY="from-env",
        PORTAL_SUBMISSION_RATE_LIMIT="3 per hour",
        PORTAL_MAX_CONTENT_LENGTH="32768",
    )
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["SUBMISSION_RATE_LIMIT"] == "3 per hour"
    assert app.config["MAX_CONTENT_LENGTH"] == 32768


def test_settings_come_from_the_instance_config_file(make_app, tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text(
        'SECRET_KEY = "from-file"\nSUBMISSION_RATE_LIMIT = "9 per day"\n'
    )
    app = from_environment(make_app, monkeypatch)
    assert app.instance_path == str(instance)
    assert app.config["SECRET_KEY"] == "from-file"
    assert app.config["SUBMISSION_RATE_LIMIT"] == "9 per day"
    # Environment variables win over the file.
    monkeypatch.setenv("PORTAL_SUBMISSION_RATE_LIMIT", "1 per day")
    assert make_app(from_environment=True).config["SUBMISSION_RATE_LIMIT"] == "1 per day"


def test_embedded_default_database_is_sqlite_in_the_instance_folder(
    make_app, tmp_path, monkeypatch
):
    app = from_environment(make_app, monkeypatch, PORTAL_SECRET_KEY="x")
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/instance/portal.sqlite3"


def test_practice_profile_is_read_from_the_instance_folder(make_app, tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "practice.toml").write_text(
        'name = "Lakeside Clinic"\nphone = "+16175550199"\nstreet = "1 Lake Road"\n'
        'specialties = ["Podiatry", "Hand surgery"]\nphysicians = ["Dr. Ada Byron"]\n'
        '[[nav_links]]\nlabel = "Patient Forms"\nurl = "https://lakeside.example/forms"\n'
    )
    app = from_environment(make_app, monkeypatch, PORTAL_SECRET_KEY="x")
    page = app.test_client().get("/request-an-appointment").get_data(as_text=True)
    assert "Lakeside Clinic" in page and "Boston Out-Patient" not in page
    assert 'href="tel:+16175550199"' in page and "(617) 555-0199" in page
    assert "1 Lake Road" in page
    assert '<option value="Podiatry">' in page and "Total knee" not in page
    assert '<option value="Dr. Ada Byron">' in page
    assert 'href="https://lakeside.example/forms">Patient Forms</a>' in page


def test_unknown_practice_setting_is_refused(make_app, tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "practice.toml").write_text('nmae = "typo"\n')
    with pytest.raises(ValueError, match="unknown practice settings"):
        from_environment(make_app, monkeypatch, PORTAL_SECRET_KEY="x")


def test_every_page_shows_address_phone_and_legal_links(client):
    for url in ("/", "/request-an-appointment", "/contact-us", "/notices/privacy-practices"):
        page = client.get(url).get_data(as_text=True)
        assert "840 Winter Street," in page and "Waltham, MA 02451" in page, url
        assert 'href="tel:+17812095645"' in page, url
        assert ">Request an Appointment</a>" in page and ">Directions</a>" in page, url
        assert ">Contact Us</a>" in page and ">Notice of Privacy Practices</a>" in page, url
        # The copyright line follows the current year (in the practice's zone) unless the
        # profile sets copyright_year (tests/test_practice.py); it was a fixed "© 2023".
        year = datetime.now(ZoneInfo("America/New_York")).year
        assert f"© {year} Boston Out-Patient Surgical Suites" in page, url


def test_migrations_build_the_schema_the_models_describe(
    make_app, settings, database_url, tmp_path, monkeypatch
):
    app = make_app()
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection)
            differences = compare_metadata(context, db.metadata)
        db.engine.dispose()
    assert differences == []


def test_sqlite_commits_are_durable(app):
    with app.app_context(), db.engine.connect() as connection:
        if connection.dialect.name != "sqlite":
            pytest.skip("SQLite pragmas")
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000


def test_patient_writes_hold_an_owner_only_lock_file_beside_the_sqlite_database(app):
    from portal.database import one_writer_at_a_time

    with app.app_context():
        url = db.engine.url
        if url.get_backend_name() != "sqlite":
            pytest.skip("SQLite's single writer")
        lock = Path(f"{url.database}-writer")
        with one_writer_at_a_time(db.session):
            assert stat.S_IMODE(lock.stat().st_mode) == 0o600
            # Another process (another open file) cannot take it meanwhile, only wait for it.
            other = os.open(lock, os.O_RDWR)
            try:
                with pytest.raises(BlockingIOError):
                    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            finally:
                os.close(other)
        other = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again once written
        finally:
            os.close(other)


def test_insert_rows_writes_every_row_in_the_callers_transaction(app):
    from portal import outbox
    from portal.database import insert_rows
    from portal.models import OutboxMessage, Submission, new_reference

    with app.app_context():
        submission = Submission(reference=new_reference("contact"), kind="contact", message="Hi")
        message = outbox.queue(
            db.session, recipient="a@example.org", subject="s", template="t", context={"k": 1}
        )
        insert_rows(db.session, [submission, message])
        db.session.rollback()  # nothing is written outside the transaction
        assert db.session.scalar(select(func.count()).select_from(Submission)) == 0
        insert_rows(db.session, [submission, message])
        db.session.commit()
        stored = db.session.scalars(select(Submission)).one()
        assert (stored.reference, stored.status, stored.message) == (
            submission.reference,
            "new",  # the column's default, as the unit of work would have written it
            "Hi",
        )
        assert stored.created_at is not None
        queued = db.session.scalars(select(OutboxMessage)).one()
        assert (queued.recipient, queued.context, queued.status) == (
            "a@example.org",
            {"k": 1},
            "queued",
        )


def test_db_upgrade_command_creates_the_schema(tmp_path):
    instance = tmp_path / "instance"
    env = {"PORTAL_INSTANCE_PATH": str(instance), "PORTAL_SECRET_KEY": "x", "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "portal", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    tables = sqlite3.connect(instance / "portal.sqlite3").execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'"
    )
    assert "submission" in {name for (name,) in tables}


# --- Mail transport: STARTTLS unless plain SMTP is allowed on purpose --------------------------


def test_a_mail_server_is_reached_over_starttls_by_default(make_app, tmp_path, monkeypatch):
    app = from_environment(
        make_app, monkeypatch, PORTAL_SECRET_KEY="x", PORTAL_MAIL_SERVER="smtp.practice.example"
    )
    assert app.config["MAIL_USE_TLS"] is True and app.config["MAIL_PORT"] == 587
    assert app.extensions["mail"].use_tls is True


def test_implicit_tls_turns_starttls_off(make_app, tmp_path, monkeypatch):
    app = from_environment(
        make_app,
        monkeypatch,
        PORTAL_SECRET_KEY="x",
        PORTAL_MAIL_SERVER="smtp.practice.example",
        PORTAL_MAIL_USE_SSL="true",
        PORTAL_MAIL_PORT="465",
    )
    assert app.extensions["mail"].use_ssl is True and app.extensions["mail"].use_tls is False


def test_plain_smtp_is_refused_unless_allowed_and_then_logged_at_start(
    make_app, tmp_path, monkeypatch, caplog
):
    plain = {
        "PORTAL_SECRET_KEY": "x",
        "PORTAL_MAIL_SERVER": "relay.practice.example",
        "PORTAL_MAIL_USE_TLS": "false",
    }
    with pytest.raises(RuntimeError, match="plain SMTP.*MAIL_ALLOW_PLAINTEXT"):
        from_environment(make_app, monkeypatch, **plain)
    with caplog.at_level(logging.WARNING, logger="portal"):
        app = from_environment(make_app, monkeypatch, **plain, PORTAL_MAIL_ALLOW_PLAINTEXT="true")
    assert app.extensions["mail"].use_tls is False
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "relay.practice.example" in warning.getMessage()
    assert "plain SMTP" in warning.getMessage()


def test_no_warning_about_mail_when_tls_is_on_or_there_is_no_server(
    make_app, tmp_path, monkeypatch, caplog
):
    with caplog.at_level(logging.WARNING, logger="portal"):
        from_environment(make_app, monkeypatch, PORTAL_SECRET_KEY="x")
        from_environment(make_app, monkeypatch, PORTAL_MAIL_SERVER="smtp.practice.example")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


# --- Patient data on disk: owner-only, whatever the umask -------------------------------------


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_instance_mail_folder_and_sqlite_files_are_owner_only(
    make_app, tmp_path, monkeypatch, umask_022
):
    instance = tmp_path / "new" / "instance"
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(instance))
    app = make_app(SECRET_KEY="x", SUBMISSION_RATE_LIMIT="99/minute")
    assert mode(instance) == 0o700
    database = instance / "portal.sqlite3"
    with app.app_context():
        upgrade()
        client = app.test_client()
        data = {**VALID_APPOINTMENT, **form_tokens(client, "/request-an-appointment")}
        assert client.post("/request-an-appointment", data=data).status_code == 303
        # While a connection is open, SQLite keeps its -wal and -shm files beside the database.
        with db.engine.connect():
            files = [database, instance / "portal.sqlite3-wal", instance / "portal.sqlite3-shm"]
            assert {path.name: mode(path) for path in files} == dict.fromkeys(
                [path.name for path in files], 0o600
            )
        db.engine.dispose()
    result = app.test_cli_runner().invoke(args=["outbox", "run", "--once"])
    assert result.exit_code == 0, result.output
    mail = instance / "mail"
    assert mode(mail) == 0o700
    assert {mode(path) for path in mail.iterdir()} == {0o600}


def test_an_existing_folder_keeps_its_mode(make_app, tmp_path, monkeypatch, umask_022):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o750)
    os.chmod(instance, 0o750)
    from_environment(make_app, monkeypatch, PORTAL_SECRET_KEY="x")
    assert mode(instance) == 0o750


def test_start_up_warns_when_the_database_is_readable_by_others(
    make_app, tmp_path, monkeypatch, caplog
):
    instance = tmp_path / "instance"
    instance.mkdir()
    database = instance / "portal.sqlite3"
    sqlite3.connect(database).close()
    os.chmod(database, 0o644)
    with caplog.at_level(logging.WARNING, logger="portal"):
        from_environment(make_app, monkeypatch, PORTAL_SECRET_KEY="x")
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert str(database) in warning and "644" in warning and "chmod 600" in warning

    caplog.clear()
    os.chmod(database, 0o600)
    with caplog.at_level(logging.WARNING, logger="portal"):
        from_environment(make_app, monkeypatch, PORTAL_SECRET_KEY="x")
    assert [r for r in caplog.records if r.levelno == logging.WARNING] == []


def test_each_setting_is_defined_once_in_config_py() -> None:
    # A second definition silently wins over the first, with its own comment and default.
    tree = ast.parse(Path(portal.config.__file__).read_text(encoding="utf-8"))
    names = Counter(
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and target.id.isupper()
    )
    assert len(names) > 40
    assert [name for name, count in names.items() if count > 1] == []
