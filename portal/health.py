"""/healthz for load balancers (is the database reachable?) and /healthz/delivery for monitors."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from . import outbox
from .extensions import db, limiter
from .outbox import trouble

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@limiter.exempt
def healthz() -> tuple[Response, int]:
    """Liveness for load balancers: 200 while the database answers, whatever delivery does."""
    report: dict = {"status": "ok", "database": {"reachable": True}}
    try:
        # The app context's own Session (what the scoped db.session stands for): the delivery
        # functions are typed to take a Session.
        session = db.session()
        session.execute(text("SELECT 1"))
        counts = outbox.status_counts(session)
        state = trouble.evaluate(session)
    except SQLAlchemyError as error:
        return _database_down(report, error)

    age = state.oldest_pending_age()
    report["outbox"] = {
        "pending": sum(counts[status] for status in outbox.PENDING),
        "failed": counts["failed"],
        "oldest_pending_age_seconds": age,
        "max_age_seconds": current_app.config["HEALTH_OUTBOX_MAX_AGE"],
        "ok": "outbox_stuck" not in state.reasons,
    }
    # Delivery trouble is reported, never failed on: a load balancer that took every host out
    # because mail is stuck would turn patients away while their requests are safely queued.
    report.update(_delivery(state))
    report["rate_limit_storage"] = {"reachable": _limiter_storage_reachable()}
    return _answer(report, 200)


@bp.get("/healthz/delivery")
@limiter.exempt
def healthz_delivery() -> tuple[Response, int]:
    """For monitors: 503 during delivery trouble, 200 otherwise; status, reason and ages only."""
    report: dict = {"status": "ok", "database": {"reachable": True}}
    try:
        # A monitor polling this also records a start or an end when no worker is running to.
        trouble.check(background=True)
        state = trouble.evaluate(db.session())
    except SQLAlchemyError as error:
        return _database_down(report, error)
    report.update(_delivery(state))
    report["oldest_pending_age_seconds"] = state.oldest_pending_age()
    if state.active:
        report["status"] = "fail"
        return _answer(report, 503)
    return _answer(report, 200)


def _delivery(state: trouble.Trouble) -> dict:
    """What anyone may know: trouble or not, its reason codes and how long it has lasted."""
    return {
        "delivery": "trouble" if state.active else "ok",
        "reason": state.reason,
        "reasons": list(state.reasons),
        "trouble_age_seconds": state.age_seconds() if state.active else None,
    }


def _database_down(report: dict, error: SQLAlchemyError) -> tuple[Response, int]:
    try:
        db.session.rollback()
    except SQLAlchemyError:  # the connection itself is gone
        db.session.close()
    log.error("health check: database unreachable (%s)", type(error).__name__)
    report["status"] = "fail"
    report["database"] = {"reachable": False, "error": type(error).__name__}
    return _answer(report, 503)


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
