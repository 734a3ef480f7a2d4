"""Help for the first run on a developer's machine, never shown by a production server."""

from __future__ import annotations

import ipaddress

from flask import request
from sqlalchemy import func, select

from .extensions import db
from .models import User


def on_local_development_server() -> bool:
    """True for a request that Werkzeug's development server took from this same machine.

    gunicorn (production) names itself differently in SERVER_SOFTWARE, and a development server
    reached from another machine is not "local": neither ever gets the hint.
    """
    if not request.environ.get("SERVER_SOFTWARE", "").startswith("Werkzeug/"):
        return False
    try:
        return ipaddress.ip_address(request.environ.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def first_admin_hint() -> bool:
    """Whether the sign-in page should say how to create the first admin account."""
    if not on_local_development_server():
        return False
    return not db.session.scalar(select(func.count()).select_from(User))
