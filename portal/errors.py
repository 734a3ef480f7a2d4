"""Error pages: every error a patient can meet is a designed page with the practice's phone."""

from __future__ import annotations

from flask import Flask, has_request_context, render_template, request
from flask.globals import request_ctx
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from markupsafe import escape
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response

# Status code -> (title, what to do), in plain words, in the page's language.
ERROR_PAGES: dict[int, tuple[LazyString, LazyString]] = {
    400: (
        _l("Sorry, we could not read that"),
        _l("Something in the request was not right. Go back and try again."),
    ),
    403: (_l("You cannot see this page"), _l("You do not have permission to open this page.")),
    404: (
        _l("Page not found"),
        _l(
            "If you typed the web address, check it is correct. "
            "If you pasted it, check you copied the whole address."
        ),
    ),
    405: (
        _l("Sorry, that did not work"),
        _l("This page cannot be used that way. Go back and try again."),
    ),
    413: (
        _l("Your form was too long to send"),
        _l("Shorten what you wrote and try again, or call us instead."),
    ),
    429: (
        _l("Too many requests from your connection"),
        _l(
            "To protect our patients, we limit how many forms can be sent in a short time. "
            "Please wait a few minutes and try again, or call us."
        ),
    ),
    500: (
        _l("Sorry, there is a problem with the service"),
        _l("Something went wrong on our side. Please try again later, or call us."),
    ),
    503: (
        _l("Sorry, the service is unavailable"),
        _l(
            "We could not complete your request because of a problem on our side. "
            "Please try again in a few minutes, or call us."
        ),
    ),
}


def render_error(code: int) -> tuple[str, int]:
    """The designed page for this status code."""
    lazy_title, lazy_body = ERROR_PAGES.get(
        code, ERROR_PAGES[500] if code >= 500 else ERROR_PAGES[400]
    )
    title, body = str(lazy_title), str(lazy_body)
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
