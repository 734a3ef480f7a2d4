"""Logs: one line per request on standard error, as text or JSON, and never a patient's data.

The request line carries the method, the path without its query string (a search in the staff
area would put a name there), the status, the time taken, the size and the client's address.
Every other line of the portal's loggers (``portal.*``, e.g. the outbox's one line per delivery
attempt) and Flask-Limiter's (the Redis fallback) goes through the same handler and format.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from flask.logging import default_handler

# The loggers whose lines the portal formats; anything else keeps its own configuration.
LOGGERS = ("portal", "flask-limiter")
HANDLER_NAME = "portal-stderr"

request_log = logging.getLogger("portal.requests")


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (gunicorn and pytest both replace it)."""

    def __init__(self) -> None:
        super().__init__()
        self.set_name(HANDLER_NAME)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


class TextFormatter(logging.Formatter):
    """``2026-01-02T03:04:05Z INFO portal.requests GET / 200 3.1ms 512B 127.0.0.1``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return _utc_time(record)


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's own fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc_time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _utc_time(record: logging.LogRecord) -> str:
    stamp = datetime.fromtimestamp(record.created, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def configure(log_format: str, level: str) -> None:
    """Send the portal's loggers to standard error in the given format (idempotent)."""
    if log_format not in ("text", "json"):
        raise RuntimeError(f'LOG_FORMAT must be "text" or "json", not {log_format!r}')
    formatter = JSONFormatter() if log_format == "json" else TextFormatter()
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(level.upper() if isinstance(level, str) else level)
        # Flask adds its own handler to the app's logger ("portal") when it finds none.
        logger.removeHandler(default_handler)
        handler = next((h for h in logger.handlers if h.get_name() == HANDLER_NAME), None)
        if handler is None:
            handler = StderrHandler()
            logger.addHandler(handler)
        handler.setFormatter(formatter)


# Paths that carry a secret: a one-time set-up link's token is logged as "…".
SECRET_PATHS = ("/admin/setup/",)


def _loggable_path(path: str) -> str:
    for prefix in SECRET_PATHS:
        if path.startswith(prefix):
            return prefix + "…"
    return path


class RequestLogMiddleware:
    """WSGI middleware: one log line per request, written when its response starts.

    The time is until the response's headers: the whole page for everything the portal renders;
    for a streamed download, until its first bytes.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        logged = False

        def log_request(status: int, headers: list[tuple[str, str]]) -> None:
            nonlocal logged
            logged = True
            size = next((v for k, v in headers if k.lower() == "content-length"), None)
            # The path only: a query string may hold a name or a phone number typed in a search.
            fields = {
                "method": environ.get("REQUEST_METHOD", "-"),
                "path": _loggable_path(environ.get("PATH_INFO") or "/"),
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "size": int(size) if size else None,
                "client": environ.get("REMOTE_ADDR", "-"),
            }
            request_log.info(
                "%s %s %s %.1fms %sB %s",
                fields["method"],
                fields["path"],
                status,
                fields["duration_ms"],
                size or "-",
                fields["client"],
                extra={"fields": fields},
            )

        def logging_start_response(status: str, headers: list, *args: Any) -> Any:
            log_request(int(status.split(" ", 1)[0]), headers)
            return start_response(status, headers, *args)

        try:
            return self.app(environ, logging_start_response)
        except BaseException:
            if not logged:
                log_request(500, [])
            raise


def register(app: Flask) -> None:
    """Configure the log format and log every request the app answers."""
    configure(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
    app.wsgi_app = RequestLogMiddleware(app.wsgi_app)  # type: ignore[method-assign]
