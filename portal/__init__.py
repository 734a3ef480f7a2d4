"""The practice portal: patients request appointments and write to the practice; staff follow up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask

from . import config as default_config
from . import errors, logs, security
from .extensions import HttpsSessionInterface, csrf, db, limiter, login_manager, mail, migrate
from .practice import format_phone, load_practice

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
    register_extensions(app)
    register_blueprints(app)
    register_templates(app)
    errors.register(app)
    security.register(app)  # last: ProxyFix must wrap everything else
    register_commands(app)
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
    else:
        app.config.from_mapping(test_config)

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
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
    def local_time(value: datetime, fmt: str = "%B %-d, %Y at %-I:%M %p %Z") -> str:
        return value.astimezone(practice.zone).strftime(fmt)

    app.add_template_filter(format_phone, "phone")


def register_commands(app: Flask) -> None:
    """flask --app portal <command>: see cli.py."""
    from .cli import register

    register(app)
