"""Fixtures: an app on a fresh database per test (SQLite, and PostgreSQL when configured),
its test client and CLI runner, and helpers that fill the patient forms as a browser would."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from werkzeug.serving import make_server

from portal import create_app
from portal.extensions import db

from .helpers import VALID_APPOINTMENT, VALID_CONTACT, MakeApp, form_tokens
from .services import postgres_schema
from .smtp import PLAIN_SMTP, SMTPServer

POSTGRES_URL = os.environ.get("PORTAL_TEST_POSTGRES_URL")
DATABASES = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own for one test: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'portal.sqlite3'}"
        return
    with postgres_schema(POSTGRES_URL) as url:
        yield url


# A worker run on a weekday morning would queue the daily digest beside the messages a test
# counts: it is off in every test app and in every worker a test starts (their environment comes
# from this one); the digest's own tests turn it on.
os.environ.setdefault("PORTAL_DIGEST_TIME", '""')

# The settings of every test app, less the database (see `settings`).
TEST_SETTINGS = {
    "TESTING": True,
    "DIGEST_TIME": "",
    "SECRET_KEY": "test-secret-key",
    "SUBMISSION_RATE_LIMIT": "1000 per minute",
    "FORM_POST_RATE_LIMIT": "1000 per minute",
    # scrypt costs about 200 ms a hash; the tests sign in over a hundred times.
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
}


@pytest.fixture
def settings(database_url: str) -> dict:
    """The test settings; a test may change them before it first uses `app`."""
    return {**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": database_url}


@pytest.fixture
def production_hashing(settings: dict) -> None:
    """Hash passwords as production does (scrypt): ask for it before `app`."""
    settings.pop("PASSWORD_HASH_METHOD")


@pytest.fixture
def make_app(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MakeApp]:
    """Build a portal app by hand, in the test's instance folder; its engine is closed at the end.

    `make_app(**overrides)`: the test settings (`settings`, with its database, when the test uses
    that fixture; else TEST_SETTINGS on the instance folder's SQLite) with these changed.
    `make_app(from_environment=True)`: settings read as production reads them (instance/config.py
    and PORTAL_* variables), for the tests of that reading.
    """
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path / "instance"))
    built: list[Flask] = []

    def make(from_environment: bool = False, **overrides: object) -> Flask:
        if from_environment:
            assert not overrides, "the environment is the only source of settings here"
            app = create_app()
        else:
            uses_settings = "settings" in request.fixturenames
            base = request.getfixturevalue("settings") if uses_settings else TEST_SETTINGS
            app = create_app({**base, **overrides})
        built.append(app)
        return app

    yield make
    for app in built:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(settings: dict, make_app: MakeApp) -> Flask:
    """The portal with its schema created in a database of its own."""
    app = make_app()
    with app.app_context():
        db.create_all()
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def post_appointment(client: FlaskClient):
    """POST a freshly rendered appointment form, with VALID_APPOINTMENT changed by overrides."""

    def post(tokens: dict | None = None, **overrides):
        data = {**VALID_APPOINTMENT, **(tokens or form_tokens(client, "/request-an-appointment"))}
        data.update(overrides)
        return client.post(
            "/request-an-appointment", data={k: v for k, v in data.items() if v is not None}
        )

    return post


@pytest.fixture
def post_contact(client: FlaskClient):
    """POST a freshly rendered contact form, with VALID_CONTACT changed by overrides."""

    def post(tokens: dict | None = None, **overrides):
        data = {**VALID_CONTACT, **(tokens or form_tokens(client, "/contact-us"))}
        data.update(overrides)
        return client.post("/contact-us", data={k: v for k, v in data.items() if v is not None})

    return post


# --- Browser tests: Debian's Chromium driven by Playwright ------------------------------------

CHROMIUM = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def services_required() -> bool:
    """CI sets PORTAL_REQUIRE_SERVICES=1: a missing browser or service fails instead of skipping."""
    return os.environ.get("PORTAL_REQUIRE_SERVICES") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if Path(CHROMIUM).exists() or services_required():
        return
    skip = pytest.mark.skip(
        reason=f"no Chromium at {CHROMIUM}: `apt-get install -y chromium` (or set PORTAL_CHROMIUM) "
        "to run the browser tests"
    )
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def stop_nu_checker() -> Iterator[None]:
    """The Nu HTML checker starts with the first page it checks; it stops with the test run."""
    yield
    from .browser import nu_checker

    nu_checker.stop()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Launch Debian's Chromium, never a downloaded browser."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served over real HTTP on a free port of 127.0.0.1, for the browser."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
    server.server_close()


# --- Mail: a real SMTP server (aiosmtpd) that the app sends to ---------------------------------


@pytest.fixture
def smtp_server(settings: dict) -> Iterator[SMTPServer]:
    """aiosmtpd on 127.0.0.1, started, with the settings pointing the app at it.

    Ask for it before `app` (the settings are read when the app is created). Without it, tests
    have no MAIL_SERVER: the outbox writes .eml files in the test's own instance folder.
    """
    server = SMTPServer().start()
    # aiosmtpd here speaks plain SMTP: a test server on 127.0.0.1 is where that is allowed.
    settings.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, **PLAIN_SMTP)
    yield server
    server.stop()
