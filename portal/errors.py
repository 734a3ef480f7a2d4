"""Error pages: every error a patient can meet is a designed page with the practice's phone."""

from __future__ import annotations

from flask import Flask, has_request_context, render_template, request
from flask.globals import request_ctx
from markupsafe import escape
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response

CALL_US = "Please try again later, or call us."

# Status code -> (title, what to do), in plain words.
ERROR_PAGES: dict[int, tuple[str, str]] = {
    400: (
        "Sorry, we could not read that",
        "Something in the request was not right. Go back and try again.",
    ),
    403: ("You cannot see this page", "You do not have permission to open this page."),
    404: (
        "Page not found",
        "If you typed the web address, check it is correct. "
        "If you pasted it, check you copied the whole address.",
    ),
    405: ("Sorry, that did not work", "This page cannot be used that way. Go back and try again."),
    413: (
        "Your form was too long to send",
        "Shorten what you wrote and try again, or call us instead.",
    ),
    429: (
        "Too many requests from your connection",
        "To protect our patients, we limit how many forms can be sent in a short time. "
        "Please wait a few minutes and try again, or call us.",
    ),
    500: (
        "Sorry, there is a problem with the service",
        f"Something went wrong on our side. {CALL_US}",
    ),
    503: (
        "Sorry, the service is unavailable",
        "We could not complete your request because of a problem on our side. "
        "Please try again in a few minutes, or call us.",
    ),
}


def render_error(code: int) -> tuple[str, int]:
    """The designed page for this status code."""
    title, body = ERROR_PAGES.get(code, ERROR_PAGES[500] if code >= 500 else ERROR_PAGES[400])
    if has_request_context() and request_ctx.url_adapter is None:
        # A request for a host the portal does not serve (TRUSTED_HOSTS): no link can be built
        # for it, and none should be, so the page is a bare one without any.
        return f"<!doctype html>\n<title>{escape(title)}</title>\n<h1>{escape(title)}</h1>\n", code
    return render_template("errors/error.html", title=title, body=body), code


def register(app: Flask) -> None:
    """Route every HTTP error, and any unhandled exception, to its designed page."""

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int] | Response:
        if _is_api():
            return _api_problem(error)
        return render_error(error.code or 500)

    @app.errorhandler(Exception)
    def unhandled(error: Exception) -> tuple[str, int] | Response:
        app.logger.exception("unhandled error")
        if _is_api():
            return _api_problem(InternalServerError())
        return render_error(500)


def _is_api() -> bool:
    # Machines get problem+json, not a page, for every error under /api/ (unknown routes too).
    return request.path.startswith("/api/")


def _api_problem(error: HTTPException) -> Response:
    from .api.problems import from_exception

    return from_exception(error)
