"""Settings, the instance folder, the practice profile, migrations and SQLite durability."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import text

from portal import create_app
from portal.extensions import db


def make_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str):
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path / "instance"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return create_app()


def test_refuses_to_start_with_the_default_secret_key(tmp_path, monkeypatch):
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    with pytest.raises(RuntimeError, match="default secret key.*PORTAL_SECRET_KEY"):
        make_app(tmp_path, monkeypatch)


def test_default_secret_key_is_allowed_in_debug(tmp_path, monkeypatch):
    app = make_app(tmp_path, monkeypatch, FLASK_DEBUG="1")
    assert app.debug


def test_settings_come_from_prefixed_environment_variables(tmp_path, monkeypatch):
    app = make_app(
        tmp_path,
        monkeypatch,
        PORTAL_SECRET_KEY="from-env",
        PORTAL_SUBMISSION_RATE_LIMIT="3 per hour",
        PORTAL_MAX_CONTENT_LENGTH="32768",
    )
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["SUBMISSION_RATE_LIMIT"] == "3 per hour"
    assert app.config["MAX_CONTENT_LENGTH"] == 32768


def test_settings_come_from_the_instance_config_file(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text(
        'SECRET_KEY = "from-file"\nSUBMISSION_RATE_LIMIT = "9 per day"\n'
    )
    app = make_app(tmp_path, monkeypatch)
    assert app.instance_path == str(instance)
    assert app.config["SECRET_KEY"] == "from-file"
    assert app.config["SUBMISSION_RATE_LIMIT"] == "9 per day"
    # Environment variables win over the file.
    monkeypatch.setenv("PORTAL_SUBMISSION_RATE_LIMIT", "1 per day")
    assert create_app().config["SUBMISSION_RATE_LIMIT"] == "1 per day"


def test_embedded_default_database_is_sqlite_in_the_instance_folder(tmp_path, monkeypatch):
    app = make_app(tmp_path, monkeypatch, PORTAL_SECRET_KEY="x")
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/instance/portal.sqlite3"


def test_practice_profile_is_read_from_the_instance_folder(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "practice.toml").write_text(
        'name = "Lakeside Clinic"\nphone = "+16175550199"\nstreet = "1 Lake Road"\n'
        'specialties = ["Podiatry", "Hand surgery"]\nphysicians = ["Dr. Ada Byron"]\n'
        '[[nav_links]]\nlabel = "Patient Forms"\nurl = "https://lakeside.example/forms"\n'
    )
    app = make_app(tmp_path, monkeypatch, PORTAL_SECRET_KEY="x")
    page = app.test_client().get("/request-an-appointment").get_data(as_text=True)
    assert "Lakeside Clinic" in page and "Boston Out-Patient" not in page
    assert 'href="tel:+16175550199"' in page and "(617) 555-0199" in page
    assert "1 Lake Road" in page
    assert '<option value="Podiatry">' in page and "Total knee" not in page
    assert '<option value="Dr. Ada Byron">' in page
    assert 'href="https://lakeside.example/forms">Patient Forms</a>' in page


def test_unknown_practice_setting_is_refused(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "practice.toml").write_text('nmae = "typo"\n')
    with pytest.raises(ValueError, match="unknown practice settings"):
        make_app(tmp_path, monkeypatch, PORTAL_SECRET_KEY="x")


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
    settings, database_url, tmp_path, monkeypatch
):
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(settings)
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
