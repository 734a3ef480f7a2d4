"""Where a request's CPU goes: the portal's form GET and appointment POST, part by part.

    .venv/bin/python benchmarks/profile_requests.py                  # 2,000 GETs and 2,000 POSTs
    .venv/bin/python benchmarks/profile_requests.py --top 40 --dump /tmp/req   # and cProfile
    .venv/bin/python benchmarks/profile_requests.py --memory 10000   # one app's resident memory

In one process, on a SQLite file in WAL with synchronous=FULL (the portal's own settings), with
rate limits in memory as in benchmarks/http_load.py: every request is a WSGI call of the app with
an environ built beforehand, so the figures are the app's own (no HTTP server, no client). Each
POST carries the cookie and tokens of its own earlier GET, so every one is a new submission with
its emails queued. Prints the CPU per request and the CPU of each named part (PARTS: a timer
around the function, no profiler); with --top, the top of a cProfile run too. Run from another
checkout (a copy in its benchmarks/) to compare versions: parts it lacks are left out.
Nothing here is a test.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import io
import os
import pstats
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from http_load import APPOINTMENT, FORM  # noqa: E402

# Named parts of a request, timed in CPU by a wrapper: (module, class or None, function, label).
# A part may hold others ("store: all of it" holds every "store:" line).
PARTS = [
    ("portal.public.views", None, "_blank_form", "GET: the cached form with its two tokens"),
    ("flask.sessions", "SecureCookieSessionInterface", "open_session", "session: read the cookie"),
    ("flask.sessions", "SecureCookieSessionInterface", "save_session", "session: sign, set cookie"),
    ("flask_limiter._extension", "Limiter", "_check_request_limit", "rate limits: check"),
    ("flask_wtf.csrf", None, "generate_csrf", "CSRF: a new token"),
    ("portal.public.views", None, "generate_csrf", "CSRF: a new token"),
    ("flask_wtf.csrf", None, "validate_csrf", "CSRF: check the token"),
    ("wtforms.form", "BaseForm", "__init__", "form: bind the 18 fields"),
    ("wtforms.form", "BaseForm", "process", "form: read the POST's fields"),
    ("wtforms.form", "Form", "validate", "form: validate"),
    ("portal.public.views", None, "_submission_from", "store: the submission object"),
    ("portal.public.views", None, "queue_submission_emails", "store: queue the two emails"),
    ("portal.webhooks", None, "submission_created", "store: find webhook receivers"),
    ("portal.public.views", None, "insert_rows", "store: Core INSERTs"),
    ("sqlalchemy.orm.session", "Session", "_flush", "store: ORM flush (unit of work)"),
    ("sqlalchemy.orm.scoping", "scoped_session", "commit", "store: commit (and any flush)"),
    ("portal.public.views", None, "_store", "store: all of it"),
]
spent: dict[str, float] = {}


def time_parts() -> None:
    """Wrap each named part that exists in this checkout with a CPU timer."""
    for module, owner_name, name, label in PARTS:
        owner: Any = importlib.import_module(module)
        if owner_name:
            owner = getattr(owner, owner_name)
        function = getattr(owner, name, None)
        if function is None:
            continue  # not in this version of the portal
        setattr(owner, name, _timer(function, label))


def _timer(function: Callable[..., Any], label: str) -> Callable[..., Any]:
    def timed_part(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0.0) + time.process_time() - started

    return timed_part


def make_app(folder: Path) -> Any:
    """The portal on a SQLite file in `folder`, migrated, with limits counted but never reached."""
    os.environ["PORTAL_INSTANCE_PATH"] = str(folder)
    from portal import create_app

    app = create_app(
        {
            "SECRET_KEY": "profile",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'portal.sqlite3'}",
            "SUBMISSION_RATE_LIMIT": "100000000 per minute",
            "FORM_POST_RATE_LIMIT": "100000000 per minute",
            "PUBLIC_BASE_URL": "http://127.0.0.1",
            "TRUSTED_HOSTS": ["127.0.0.1", "localhost"],
            "LOG_LEVEL": "INFO",
        }
    )
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
    return app


def call(app: Any, environ: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
    """One WSGI call: status, headers and body."""
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"], answer["headers"] = status, dict(headers)

    chunks = app(environ, start_response)
    body = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return answer["status"], answer["headers"], body


def get_environ(cookie: str | None = None) -> dict[str, Any]:
    """A GET of the appointment form, as a browser's first visit sends it."""
    from werkzeug.test import EnvironBuilder

    headers = {"Cookie": cookie} if cookie else {}
    return EnvironBuilder(path=FORM, base_url="http://127.0.0.1", headers=headers).get_environ()


def post_environ(cookie: str, csrf: str, form_token: str) -> dict[str, Any]:
    """A POST of a valid appointment with the cookie and tokens of one earlier GET."""
    from werkzeug.test import EnvironBuilder

    data = {**APPOINTMENT, "csrf_token": csrf, "form_token": form_token}
    return EnvironBuilder(
        path=FORM, method="POST", base_url="http://127.0.0.1", headers={"Cookie": cookie}, data=data
    ).get_environ()


def harvest(app: Any, count: int) -> list[dict[str, Any]]:
    """`count` POST environs, each with the session and tokens of a GET made for it."""
    environs = []
    for _ in range(count):
        status, headers, body = call(app, get_environ())
        cookie = headers["Set-Cookie"].split(";", 1)[0]
        page = body.decode()
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]*)"', page)
        token = re.search(r'name="form_token"[^>]*value="([^"]*)"', page)
        assert status.startswith("200") and csrf and token, status
        environs.append(post_environ(cookie, csrf[1], token[1]))
    return environs


def profile(
    label: str, run: Callable[[], None], requests: int, top: int, dump: Path | None
) -> None:
    """Run `run` under cProfile (CPU time); print the top functions by cumulative time."""
    profiler = cProfile.Profile(time.process_time)  # CPU, not waiting for the disk
    profiler.enable()
    run()
    profiler.disable()
    print(f"\n=== {label} under cProfile, {requests} requests (the profiler's own cost included)")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    print(out.getvalue())
    if dump:
        profiler.dump_stats(f"{dump}.{label.lower()}")


def timed(label: str, run: Callable[[], None], requests: int) -> None:
    """CPU per request without the profiler, and per named part."""
    spent.clear()
    started = time.process_time()
    run()
    cpu = time.process_time() - started
    print(f"{label}: {cpu * 1000 / requests:.3f} ms CPU per request (no profiler)")
    for part, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        print(f"    {part:<44} {seconds * 1000 / requests:6.3f} ms")


def rss_mb() -> float:
    """This process's resident set size now (Linux)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory(submissions: int) -> None:
    """Resident memory of one app (as in one gunicorn worker) at rest and after submissions."""
    out = sys.stdout
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    with tempfile.TemporaryDirectory(prefix="portal-memory-") as tmp:
        app = make_app(Path(tmp))
        for environ in harvest(app, 50):  # what a worker has done after its first requests
            call(app, environ)
        at_rest = rss_mb()
        done = 0
        while done < submissions:
            batch = min(1000, submissions - done)
            for environ in harvest(app, batch):
                call(app, environ)
            done += batch
        after = rss_mb()
    print(
        f"one app: {at_rest:.1f} MB resident at rest, {after:.1f} MB after {submissions:,} "
        f"submissions (each with its GET): {after - at_rest:+.1f} MB",
        file=out,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--top", type=int, default=0, help="also profile: the top N functions")
    parser.add_argument("--dump", type=Path, help="write the profiles to DUMP.get and DUMP.post")
    parser.add_argument(
        "--memory",
        type=int,
        metavar="N",
        help="instead: the resident memory at rest and after N submissions (no profiler)",
    )
    args = parser.parse_args()
    n = args.requests
    if args.memory:
        memory(args.memory)
        return
    with tempfile.TemporaryDirectory(prefix="portal-profile-") as tmp:
        # The request log line is part of the cost, but not its terminal output: the portal's
        # handler (and the one the migrations' logging setup adds) writes to sys.stderr.
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115
        app = make_app(Path(tmp))
        for environ in harvest(app, 50):  # warm-up: first-request work, caches
            call(app, environ)
        time_parts()
        gets = [get_environ() for _ in range(n)]
        timed("GET", lambda: [call(app, e) for e in gets], n)
        posts = harvest(app, n)
        timed("POST", lambda: [call(app, e) for e in posts], n)
        if not (args.top or args.dump):
            return
        gets = [get_environ() for _ in range(n)]
        profile("GET", lambda: [call(app, e) for e in gets], n, args.top, args.dump)
        posts = harvest(app, n)
        profile("POST", lambda: [call(app, e) for e in posts], n, args.top, args.dump)


if __name__ == "__main__":
    main()
