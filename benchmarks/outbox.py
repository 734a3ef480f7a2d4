"""Outbox benchmarks: the mail server never slows a patient down, and one worker drains fast.

Run from the checkout (prints the figures; takes a minute or two)::

    .venv/bin/python benchmarks/outbox.py
    .venv/bin/python benchmarks/outbox.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

1. Submission latency (p50/p95 of the POST of a valid appointment form, through Flask's test
   client) with a real delivery worker (``flask --app portal outbox run``, a subprocess)
   sending every email to a local SMTP server. Three portals side by side, each with its own
   database, worker and server: one server healthy, one that stalls 10 s on every message, and
   one in an outage (nothing listens on its port; the worker keeps the default retry settings);
   the POSTs rotate between them, so the rest of the machine's load weighs on all alike. The
   issue's target: the stalled figures within 10% of the healthy ones; the outage row shows
   whether the worker's bookkeeping during an outage competes with patients for the database
   (SQLite's single writer above all).
2. Drain rate: messages per second that one worker (in this process) delivers to a local SMTP
   server over one reused connection per batch. The issue's target: at least 100 per second.

Each SMTP server is aiosmtpd, in a subprocess of its own (this script started again with
``--serve``), so that its work does not share this process's interpreter lock.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

APPOINTMENT = {
    "first_name": "Siobhán",
    "last_name": "O'Hara",
    "date_of_birth-month": "3",
    "date_of_birth-day": "27",
    "date_of_birth-year": "1980",
    "phone": "(617) 253-1000",
    "email": "siobhan@example.com",
    "contact_method": "phone",
    "specialty": "Total knee replacement",
    "patient_type": "new",
    "preferred_time": "morning",
    "reason": "Knee pain when running.",
    "consent": "y",
}


# --- the SMTP server subprocess ------------------------------------------------------------------


def serve(port: int, stall: float) -> None:
    """aiosmtpd on 127.0.0.1:port that accepts everything, after stalling `stall` s per DATA."""
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            if stall:
                await asyncio.sleep(stall)
            return "250 Message accepted for delivery"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()  # until the parent closes our stdin
    finally:
        controller.stop()


@contextmanager
def smtp_server(stall: float | None = 0.0):
    """Start the server subprocess; yield its port. stall=None: an outage (nothing listens)."""
    port = free_port()
    if stall is None:
        yield port
        return
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), str(stall)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "ready"
        yield port
    finally:
        process.stdin.close()
        process.wait(30)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the portal ---------------------------------------------------------------------------------


@contextmanager
def database(url: str | None):
    """A fresh SQLite file, or a fresh schema in the given PostgreSQL database."""
    folder = Path(tempfile.mkdtemp(prefix="outbox-bench-"))
    if not url:
        yield f"sqlite:///{folder / 'portal.sqlite3'}", folder
        shutil.rmtree(folder, ignore_errors=True)
        return
    import sqlalchemy as sa

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}", folder
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
        shutil.rmtree(folder, ignore_errors=True)


def settings(url: str, port: int) -> dict[str, Any]:
    return {
        "SECRET_KEY": "benchmark",
        "SQLALCHEMY_DATABASE_URI": url,
        "SUBMISSION_RATE_LIMIT": "1000000 per minute",
        "FORM_POST_RATE_LIMIT": "1000000 per minute",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": port,
        # The local SMTP server speaks plain SMTP, which the portal only uses when allowed.
        "MAIL_USE_TLS": False,
        "MAIL_ALLOW_PLAINTEXT": True,
        "FRONT_DESK_EMAILS": ["desk@practice.example"],
        "MAIL_DEFAULT_SENDER": "Practice <no-reply@practice.example>",
        # A line per request and per message would measure the terminal, not the portal.
        "LOG_LEVEL": "WARNING",
    }


def make_app(url: str, port: int, folder: Path):
    os.environ["PORTAL_INSTANCE_PATH"] = str(folder / "instance")
    from portal import create_app
    from portal.extensions import db

    app = create_app(settings(url, port))
    with app.app_context():
        db.create_all()
    return app


def start_worker(url: str, port: int, folder: Path) -> subprocess.Popen:
    """`flask --app portal outbox run`, as deployed: its own process, settings from PORTAL_*."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PORTAL_INSTANCE_PATH": str(folder / "worker-instance"),
        "PORTAL_SECRET_KEY": "benchmark",
        "PORTAL_SQLALCHEMY_DATABASE_URI": url,
        "PORTAL_MAIL_SERVER": "127.0.0.1",
        "PORTAL_MAIL_PORT": str(port),
        "PORTAL_MAIL_USE_TLS": "false",
        "PORTAL_MAIL_ALLOW_PLAINTEXT": "true",
        "PORTAL_OUTBOX_POLL_INTERVAL": "0.2",
        "PORTAL_LOG_LEVEL": "WARNING",
        # The daily digest would be one more message than the benchmark counts.
        "PORTAL_DIGEST_TIME": '""',
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "portal", "outbox", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def post_once(client) -> float:
    """Milliseconds one valid appointment POST took (the form's GET is not counted)."""
    page = client.get("/request-an-appointment").get_data(as_text=True)
    tokens = {
        name: re.search(rf'name="{name}" type="hidden" value="([^"]*)"', page).group(1)
        for name in ("csrf_token", "form_token")
    }
    started = time.perf_counter()
    response = client.post("/request-an-appointment", data={**APPOINTMENT, **tokens})
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 303, response.status_code
    return elapsed


def latency_runs(url_base: str | None, stalls: list[float | None], count: int) -> list[dict]:
    """One portal, database, SMTP server and worker per stall; POSTs alternate between them,
    so that whatever else the machine is doing weighs on every scenario alike."""
    from portal import outbox
    from portal.extensions import db

    with ExitStack() as stack:
        setups = []
        for stall in stalls:
            url, folder = stack.enter_context(database(url_base))
            port = stack.enter_context(smtp_server(stall))
            app = make_app(url, port, folder)
            worker = start_worker(url, port, folder)
            stack.callback(worker.wait, 60)
            stack.callback(worker.terminate)
            setups.append((app, app.test_client(), []))
        time.sleep(1.5)  # the workers are up and polling
        for n in range(20 + count):
            shift = n % len(setups)
            order = setups[shift:] + setups[:shift]
            for _, client, times in order:
                elapsed = post_once(client)
                if n >= 20:  # after the warm-up
                    times.append(elapsed)
        results = []
        for app, _, times in setups:
            with app.app_context():
                counts = outbox.status_counts(db.session)
                db.engine.dispose()
            cuts = statistics.quantiles(times, n=100)
            results.append(
                {"p50": cuts[49], "p95": cuts[94], "sent": counts["sent"], "max": max(times)}
            )
        return results


def drain_run(url_base: str | None, total: int) -> dict[str, float]:
    with database(url_base) as (url, folder), smtp_server(0) as port:
        app = make_app(url, port, folder)
        from portal import outbox
        from portal.extensions import db

        with app.app_context():
            for n in range(total):
                outbox.queue(
                    db.session,
                    recipient=f"patient{n}@example.com",
                    subject=f"We received your message — MSG-{n:08d}",
                    template="email/acknowledgement",
                    context={"reference": f"MSG-{n:08d}", "form": "contact", "noun": "message"},
                    reference=f"MSG-{n:08d}",
                )
            db.session.commit()
            started = time.perf_counter()
            handled = outbox.Worker().run(once=True)
            elapsed = time.perf_counter() - started
            counts = outbox.status_counts(db.session)
            db.engine.dispose()
    return {"handled": handled, "sent": counts["sent"], "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a SQLite file)")
    parser.add_argument("--submissions", type=int, default=400)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--stall", type=float, default=10.0)
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), float(args.serve[1]))
        return

    kind = "PostgreSQL" if args.database_url else "SQLite"
    print(f"database: {kind}; {os.cpu_count()} CPUs")
    healthy, stalled, outage = latency_runs(
        args.database_url, [0.0, args.stall, None], args.submissions
    )
    print(f"submission latency, {args.submissions} POSTs each (alternating), workers running:")
    runs = (
        ("healthy mail server", healthy),
        (f"{args.stall:g} s stall", stalled),
        ("SMTP outage", outage),
    )
    for name, run in runs:
        print(
            f"  {name:<20} p50 {run['p50']:6.1f} ms   p95 {run['p95']:6.1f} ms"
            f"   max {run['max']:6.1f} ms   (messages sent meanwhile: {run['sent']})"
        )
    for label, run in (("stalled", stalled), ("outage", outage)):
        for cut in ("p50", "p95"):
            change = (run[cut] / healthy[cut] - 1) * 100
            verdict = "within 10%" if change <= 10 else "MORE than 10% slower"
            print(f"  {label} vs healthy {cut}: {change:+.1f}% ({verdict})")

    drain = drain_run(args.database_url, args.messages)
    rate = drain["sent"] / drain["seconds"]
    print(
        f"drain: one worker sent {drain['sent']} of {args.messages} messages in "
        f"{drain['seconds']:.2f} s = {rate:.0f} messages/s "
        f"({'meets' if rate >= 100 else 'BELOW'} the 100/s target)"
    )


if __name__ == "__main__":
    main()
