"""/healthz for load balancers and monitors: is the database reachable, is the outbox moving?"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from . import outbox
from .extensions import db, limiter

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@limiter.exempt
def healthz() -> tuple[Response, int]:
    """200 when healthy, 503 when the database is down or the outbox is stuck; JSON either way."""
    report: dict = {"status": "ok", "database": {"reachable": True}}
    try:
        db.session.execute(text("SELECT 1"))
        counts = outbox.status_counts(db.session)
        oldest = outbox.oldest_pending(db.session)
    except SQLAlchemyError as error:
        try:
            db.session.rollback()
        except SQLAlchemyError:  # the connection itself is gone
            db.session.close()
        log.error("health check: database unreachable (%s)", type(error).__name__)
        report["status"] = "fail"
        report["database"] = {"reachable": False, "error": type(error).__name__}
        return _answer(report, 503)

    age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else None
    max_age = current_app.config["HEALTH_OUTBOX_MAX_AGE"]
    stuck = bool(max_age) and age is not None and age > max_age
    report["outbox"] = {
        "pending": sum(counts[status] for status in outbox.PENDING),
        "failed": counts["failed"],
        "oldest_pending_age_seconds": round(age, 1) if age is not None else None,
        "max_age_seconds": max_age,
        "ok": not stuck,
    }
    report["rate_limit_storage"] = {"reachable": _limiter_storage_reachable()}
    if stuck:
        report["status"] = "fail"
        return _answer(report, 503)
    return _answer(report, 200)


def _limiter_storage_reachable() -> bool:
    """Shown, never failed on: without Redis the forms go on with the in-memory fallback."""
    try:
        return bool(limiter.storage.check())
    except Exception:  # a storage client may raise rather than answer False
        return False


def _answer(report: dict, status: int) -> tuple[Response, int]:
    response = jsonify(report)
    response.headers["Cache-Control"] = "no-store"
    return response, status
