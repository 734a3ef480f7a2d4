"""The practice portal: patients request appointments and write to the practice; staff follow up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy.engine import make_url

from . import assets, errors, i18n, logs, security, storage, webhooks
from . import config as default_config
from .extensions import (
    HttpsSessionInterface,
    babel,
    csrf,
    db,
    limiter,
    login_manager,
    mail,
    migrate,
)
from .firstrun import first_admin_hint
from .notices import notice_href
from .practice import format_phone, load_practice
from .submissions import INTERPRETER, LABELS, NOT_GIVEN, RECEIVED_FORMAT, language_text
from .submissions import local_time as practice_time

PACKAGE_DIR = Path(__file__).resolve().parent
MIGRATIONS_DIR = PACKAGE_DIR / "migrations"


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings, extensions, blueprints, commands and error pages."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("PORTAL_INSTANCE_PATH"),
        instance_relative_config=True,
        template_folder=_asset_folder("templates"),
        static_folder=_asset_folder("static"),
    )
    load_settings(app, test_config)
    app.extensions["practice"] = load_practice(app.instance_path)

    logs.register(app)
    warn_about_settings(app)
    register_extensions(app)
    register_blueprints(app)
    i18n.register(app)  # after the blueprints: every public route gets its prefixed copies
    register_templates(app)
    assets.register(app)
    errors.register(app)
    security.register(app)  # last: ProxyFix must wrap everything else
    register_commands(app)
    webhooks.init_app(app)  # the delivery.failed event and the FHIR in opted-in webhooks
    return app


def _asset_folder(name: str) -> str:
    """Templates and static files: the copy shipped in the wheel, else the checkout's own."""
    shipped = PACKAGE_DIR / name
    return str(shipped if shipped.is_dir() else PACKAGE_DIR.parent / name)


def load_settings(app: Flask, test_config: Mapping[str, Any] | None) -> None:
    """Defaults, then instance/config.py, then PORTAL_* variables (or the tests' own mapping)."""
    app.config.from_object(default_config)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("PORTAL")
        if app.config["PUBLIC_BASE_URL"] == default_config.PUBLIC_BASE_URL:
            # `make run PORT=8080` (or `portal run --port`, through Flask's FLASK_RUN_* variables):
            # the links in staff emails follow the development server unless the URL was set.
            app.config["PUBLIC_BASE_URL"] = development_base_url()
    else:
        app.config.from_mapping(test_config)

    # The instance folder holds the secret key, the SQLite database and the mail files.
    storage.private_folder(Path(app.instance_path))
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        database = Path(app.instance_path) / "portal.sqlite3"
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{database}"
    options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    # SQL errors must never carry a patient's data into a log or a traceback.
    options.setdefault("hide_parameters", True)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # sqlite3's own timeout is SQLite's busy timeout: how long a writer waits for the lock.
        options.setdefault("connect_args", {}).setdefault(
            "timeout", app.config["DATABASE_BUSY_TIMEOUT"]
        )

    if (
        app.config["SECRET_KEY"] == default_config.DEFAULT_SECRET_KEY
        and not app.debug
        and not app.testing
    ):
        raise RuntimeError(
            "Refusing to start with the default secret key. Set PORTAL_SECRET_KEY, or SECRET_KEY "
            f"in {Path(app.instance_path) / 'config.py'}, to a long random value, e.g. the output "
            'of: python -c "import secrets; print(secrets.token_hex(32))"'
        )
    check_public_address(app)
    check_mail_transport(app)
    check_digest_time(app)


def check_digest_time(app: Flask) -> None:
    """DIGEST_TIME is "HH:MM" or "" (off): a typo must not silently stop the digest."""
    from .digest import digest_time

    try:
        digest_time(app.config["DIGEST_TIME"])
    except ValueError as error:
        raise RuntimeError(str(error)) from None


# Names of this machine: a loopback PUBLIC_BASE_URL (a local run) trusts each of them.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


def check_public_address(app: Flask) -> None:
    """PUBLIC_BASE_URL names the portal; outside debug and testing only its host is served."""
    host = urlsplit(str(app.config["PUBLIC_BASE_URL"])).hostname
    if not host:
        raise RuntimeError(
            "PUBLIC_BASE_URL must be the portal's absolute address, like "
            f"https://portal.practice.example, not {app.config['PUBLIC_BASE_URL']!r}"
        )
    if app.config["TRUSTED_HOSTS"] is None and not app.debug and not app.testing:
        # A request naming another host gets 400 before any view (or redirect) sees it.
        app.config["TRUSTED_HOSTS"] = list(LOOPBACK_HOSTS) if host in LOOPBACK_HOSTS else [host]


def check_mail_transport(app: Flask) -> None:
    """Mail to a server goes over TLS unless plain SMTP is explicitly allowed."""
    config = app.config
    if config["MAIL_USE_SSL"]:
        # Implicit TLS already encrypts the connection; STARTTLS inside it would fail.
        config["MAIL_USE_TLS"] = False
    if (
        config["MAIL_SERVER"]
        and not (config["MAIL_USE_TLS"] or config["MAIL_USE_SSL"])
        and not config["MAIL_ALLOW_PLAINTEXT"]
    ):
        raise RuntimeError(
            "Refusing to send patient mail over plain SMTP: MAIL_USE_TLS is off for "
            f"MAIL_SERVER {config['MAIL_SERVER']!r}. Turn MAIL_USE_TLS (or MAIL_USE_SSL) on, or "
            "set MAIL_ALLOW_PLAINTEXT = True for a relay on this host or a private network."
        )


def warn_about_settings(app: Flask) -> None:
    """Log, at start, settings that work but expose patient data."""
    config = app.config
    if config["MAIL_SERVER"] and not (config["MAIL_USE_TLS"] or config["MAIL_USE_SSL"]):
        app.logger.warning(
            "mail to %s goes over plain SMTP (MAIL_ALLOW_PLAINTEXT): messages and the mail "
            "password cross the network unencrypted",
            config["MAIL_SERVER"],
        )
    url = make_url(config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        storage.warn_if_shared(Path(url.database), app.logger)


def development_base_url() -> str:
    """The development server's own address, from Flask's FLASK_RUN_HOST and FLASK_RUN_PORT."""
    host = os.environ.get("FLASK_RUN_HOST") or "127.0.0.1"
    if host in ("0.0.0.0", "::", ""):
        # Listening on every interface: this machine's loopback address is the one that works here.
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    port = os.environ.get("FLASK_RUN_PORT") or "5000"
    return f"http://{host}:{port}"


def register_extensions(app: Flask) -> None:
    """Bind every extension from extensions.py to this app."""
    from . import database  # noqa: F401  -- installs the SQLite durability settings

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    app.session_interface = HttpsSessionInterface()
    mail.init_app(app)
    babel.init_app(app, locale_selector=i18n.locale_selector)


def register_blueprints(app: Flask) -> None:
    """The patients' pages at /, the staff area at /admin, the API for machines at /api/v1."""
    from .admin import bp as admin_bp
    from .api import bp as api_bp
    from .health import bp as health_bp
    from .public import bp as public_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(api_bp, url_prefix="/api/v1")


def register_templates(app: Flask) -> None:
    """Give every template the practice profile and the filters that show times and phones."""
    practice = app.extensions["practice"]

    @app.context_processor
    def inject_practice() -> dict[str, Any]:
        return {"practice": practice}

    @app.template_filter("local_time")
    def local_time(value: datetime, fmt: str = RECEIVED_FORMAT) -> str:
        return practice_time(value, practice.zone, fmt)

    @app.template_filter("iso_time")
    def iso_time(value: datetime) -> str:
        # <time datetime>: whole seconds in UTC; the HTML checker refuses microseconds.
        if value.tzinfo is None:  # SQLite gives back naive UTC times
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat(timespec="seconds")

    app.add_template_filter(format_phone, "phone")
    # What a submission's reference, time, form and status are called, in pages and emails.
    # Values, not functions (add_template_global is typed for callables): set as Jinja globals.
    app.jinja_env.globals.update(
        submission_labels=LABELS, not_given=NOT_GIVEN, interpreter_label=INTERPRETER
    )
    app.add_template_global(language_text, "language_name")
    app.add_template_global(first_admin_hint)
    app.add_template_global(notice_href)


def register_commands(app: Flask) -> None:
    """flask --app portal <command>: see cli.py."""
    from .cli import register

    register(app)
