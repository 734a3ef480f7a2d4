"""The staff area at /admin: sign-in, the inbox, submissions, exports, the audit trail, accounts.

Access is decided in one place, the blueprint's before_request: the sign-in steps are open;
everything else needs a signed-in user whose session is neither idle nor too old; an endpoint
not listed as open to staff is for admins only, so a new view is closed to staff by default.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, redirect, request, url_for
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

bp = Blueprint("admin", __name__)

# The steps of signing in: reachable without a session.
OPEN_ENDPOINTS = frozenset(
    {"admin.login", "admin.login_code", "admin.login_setup", "admin.setup_link"}
)
# What front-desk staff may use; every other endpoint of this blueprint is for admins.
STAFF_ENDPOINTS = frozenset(
    {
        "admin.dashboard",
        "admin.inbox",
        "admin.submission",
        "admin.submission_fhir",
        "admin.change_status",
        "admin.assign",
        "admin.add_note",
        "admin.resend",
        "admin.account",
        "admin.change_password",
        "admin.two_factor",
        "admin.two_factor_off",
        "admin.logout",
        "admin.outbox",  # staff read it; retrying, resolving and testing are for admins
    }
)


@bp.before_request
def require_sign_in() -> Response | None:
    """Open the sign-in steps to all, the staff pages to staff, the rest to admins only."""
    from .auth import end_expired_session, next_target, touch_session

    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if end_expired_session() or not current_user.is_authenticated:
        return redirect(url_for("admin.login", next=next_target()))
    if request.endpoint not in STAFF_ENDPOINTS and not current_user.is_admin:
        abort(403)
    if (
        current_app.config["REQUIRE_2FA"]
        and not current_user.totp_secret
        and request.endpoint not in {"admin.two_factor", "admin.logout"}
    ):
        # Signed in before two-factor became mandatory: set it up before anything else.
        return redirect(url_for("admin.two_factor"))
    touch_session()
    return None


@bp.context_processor
def staff_labels() -> dict[str, Any]:
    """Words for the stored codes, for every staff template."""
    from ..response_time import business_day
    from ..submissions import KINDS, NOBODY, OVERDUE, STATUSES

    return {
        "statuses": STATUSES,
        "form_names": {key: k.label for key, k in KINDS.items()},
        "nobody": NOBODY,
        "overdue": OVERDUE,
        # Seconds in one day of waiting, as response times count it.
        "business_day": business_day(current_app.extensions["practice"]),
    }


@bp.context_processor
def delivery_banner() -> dict[str, Any]:
    """delivery_trouble(): the trouble every staff page announces, or None (evaluated on use)."""

    def delivery_trouble() -> Any:
        from ..extensions import db
        from ..outbox import trouble

        if not current_user.is_authenticated:
            return None
        try:
            state = trouble.evaluate(db.session)
        except SQLAlchemyError:  # the page itself says what is wrong with the database
            db.session.rollback()
            return None
        return state if state.active else None

    return {"delivery_trouble": delivery_trouble}


@bp.app_template_filter("staff_phone")
def staff_phone(value: str) -> str:
    """A stored phone number in national format (as it was stored if it does not parse)."""
    from ..submissions import display_phone

    return display_phone(value)


@bp.app_template_filter("business_duration")
def business_duration(seconds: float) -> str:
    """A response time or wait in words, a day being the practice's usual open day."""
    from ..response_time import business_day, duration_text

    return duration_text(seconds, business_day(current_app.extensions["practice"]))


@bp.errorhandler(SQLAlchemyError)
def database_unavailable(error: SQLAlchemyError) -> tuple[str, int]:
    """The database failed mid-request: nothing was done, so say so (503), never a false success."""
    from ..errors import render_error
    from ..extensions import db

    db.session.rollback()
    current_app.logger.error("staff request failed on the database: %s", type(error).__name__)
    return render_error(503)


@bp.after_request
def no_store(response: Response) -> Response:
    """Patient data must never be kept by a browser or proxy cache."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


# Importing the modules registers their routes on bp.
from . import (  # noqa: E402, F401
    account,
    api_tokens,
    auth,
    dashboard,
    data,
    delivery,
    fhir,
    submission_page,
    users,
    views,
    webhooks,
)
