"""The API for machines at /api/v1: bearer tokens, JSON only, problem+json errors, OpenAPI.

Who may call is decided in one place, the blueprint's before_request: every route but the
OpenAPI document needs a valid token (``Authorization: Bearer ...``) with the scope its method
needs (GET: submissions:read; PATCH: submissions:write). Cookies are never read here (the session
interface gives /api/ requests a null session), so there is no CSRF surface and the blueprint
is exempt from CSRF. One rate limit per token (API_RATE_LIMIT) is counted in the limiter's
storage, shared with the patient forms'.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, g, request
from flask_limiter.util import get_remote_address
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..extensions import csrf, db, limiter
from ..models import ApiToken, utcnow
from .problems import problem

bp = Blueprint("api", __name__)
csrf.exempt(bp)

# Endpoints open without a token: the API's own description.
OPEN_ENDPOINTS = frozenset({"api.openapi"})
READ, WRITE = "submissions:read", "submissions:write"
# last_used_at is written at most this often per token: a busy token costs no write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if there is one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def rate_limit_key() -> str:
    """Count per token (by its hash; the token itself never reaches the limiter's storage)."""
    token = bearer_token()
    if token:
        return f"api-token:{ApiToken.hash(token)}"
    return f"api-address:{get_remote_address()}"


def current_token() -> ApiToken:
    """The token this request was authenticated with."""
    return g.api_token


@bp.before_request
def authenticate() -> Response | None:
    """A usable token, with the scope the method needs; else 401 or 403 (problem+json)."""
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    presented = bearer_token()
    challenge = 'Bearer realm="api"'
    if presented is None:
        return problem(
            401,
            "Send an API token: Authorization: Bearer <token>.",
            {"WWW-Authenticate": challenge},
        )
    token = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == ApiToken.hash(presented))
    )
    now = utcnow()
    if token is None or not token.usable(now):
        return problem(
            401,
            "The API token is not valid: unknown, revoked or expired.",
            {"WWW-Authenticate": f'{challenge}, error="invalid_token"'},
        )
    needed = READ if request.method in ("GET", "HEAD") else WRITE
    if needed not in token.scope_set:
        return problem(
            403,
            f"This API token does not have the {needed} scope.",
            {"WWW-Authenticate": f'{challenge}, error="insufficient_scope", scope="{needed}"'},
        )
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
        db.session.commit()
    g.api_token = token
    return None


@bp.after_request
def no_store(response: Response) -> Response:
    """Patient data must never be kept by a cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


limiter.shared_limit(
    lambda: current_app.config["API_RATE_LIMIT"], scope="api", key_func=rate_limit_key
)(bp)

from . import views  # noqa: E402, F401  -- registers the routes on bp
