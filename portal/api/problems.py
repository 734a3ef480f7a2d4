"""Errors of the API as RFC 9457 problem details (application/problem+json)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from flask import Response, request
from werkzeug.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"
# Headers of Werkzeug's own error response worth keeping (Allow on 405, Retry-After on 429...).
KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


class ApiProblem(HTTPException):
    """Raised by a view to answer with a problem: status, detail and extension members."""

    def __init__(self, status: int, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.code = status
        self.extensions = extensions


def problem(
    status: int,
    detail: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """A problem+json response; type about:blank, so the title is the status's own phrase."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body["instance"] = request.path
    body.update(extensions)
    response = Response(json.dumps(body), status=status, content_type=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    response.headers["Cache-Control"] = "no-store"
    return response


def from_exception(error: HTTPException) -> Response:
    """Any HTTP error on /api/ (a view's, routing's, the rate limiter's) as a problem."""
    if isinstance(error, ApiProblem):
        return problem(error.code or 400, error.description, **error.extensions)
    status = error.code or 500
    detail = {
        404: "There is nothing at this address.",
        405: "This address does not accept that method.",
        413: "The request body is too large.",
        429: "Too many requests with this API token: slow down and retry after a while.",
    }.get(status, error.description if status < 500 else None)
    original = error.get_response()
    headers = {name: original.headers[name] for name in KEPT_HEADERS if name in original.headers}
    return problem(status, detail, headers)
