"""Dashboard and inbox benchmark: /admin/dashboard and the inbox's first page over 100,000
submissions, on SQLite and on PostgreSQL.

Run from the checkout (prints the figures; a minute or two per database)::

    .venv/bin/python benchmarks/dashboard.py
    .venv/bin/python benchmarks/dashboard.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

What it does:

1. Fills a fresh database (SQLite in a temporary folder, or a fresh schema on the given
   PostgreSQL) with ``--rows`` submissions over the last ``--days`` days, up to now: seven in
   ten appointment requests, three in ten messages; the newest 2 % still New (so some are
   overdue), the rest answered with a response time (one in ten still Contacted, one in ten
   Scheduled, the others Closed), each assigned to nobody or one of five staff accounts.
2. Signs in as an admin and, through Flask's test client, requests each page ``--runs`` times
   after one warm-up request; prints the median and the slowest wall time. The issue's target:
   the dashboard within 200 ms on SQLite with 100,000 submissions.
3. The inbox: its default first page and, when the inbox offers it, "longest waiting first"
   (found in the inbox form's ``sort`` choices, so the benchmark follows the inbox as it is).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from exports import ADMIN, PASSWORD, fresh_database, make_app, signed_in_client

from portal.extensions import db
from portal.models import Submission, User

SPECIALTIES = ["Total hip replacement", "Total knee replacement", "Total shoulder replacement"]
TOPICS = ["General question", "Billing", "Medical records", "Feedback"]
STAFF = [f"desk{n}@example.org" for n in range(5)]
# What answered requests became: most are done with, as in a practice's own inbox.
ANSWERED = ["contacted", "scheduled", "closed"]


def fill(database_url: str, instance: Path, rows: int, days: int) -> None:
    """The schema, an admin, five staff accounts and ``rows`` submissions up to now."""
    app = make_app(database_url, instance)
    rng = random.Random(13)
    with app.app_context():
        db.create_all()
        for email, role in [(ADMIN, "admin"), *((email, "staff") for email in STAFF)]:
            user = User(email=email, role=role)
            user.set_password(PASSWORD)
            db.session.add(user)
        db.session.commit()
        staff_ids = list(db.session.scalars(sa.select(User.id)))
        now = datetime.now(UTC)
        step = timedelta(days=days) / rows
        newest_new = rows - rows // 50
        batch = []
        for n in range(rows):
            created = now - timedelta(days=days) + step * n
            form = "appointment" if rng.random() < 0.7 else "contact"
            waiting = n >= newest_new
            waited = rng.randint(600, 3 * 86400)
            batch.append(
                {
                    "reference": f"{'APT' if form == 'appointment' else 'MSG'}-{n:08d}",
                    "form": form,
                    "status": "new" if waiting else rng.choices(ANSWERED, weights=[1, 1, 8])[0],
                    "created_at": created,
                    "first_name": "Zoë",
                    "last_name": "Müller",
                    "name": "Zoë Müller",
                    "phone": f"+1617{2_000_000 + n % 8_000_000:07d}",
                    "email": f"patient{n}@example.com",
                    "specialty": rng.choice(SPECIALTIES) if form == "appointment" else None,
                    "topic": rng.choice(TOPICS) if form == "contact" else None,
                    "message": "Pain in the right knee for six months.",
                    "assigned_to_id": rng.choice([None, *staff_ids]),
                    "first_response_at": None if waiting else created + timedelta(seconds=waited),
                    "first_response_by_id": None if waiting else rng.choice(staff_ids),
                    "response_seconds": None if waiting else waited // 3,
                }
            )
            if len(batch) == 5000:
                db.session.execute(sa.insert(Submission.__table__), batch)
                batch = []
        if batch:
            db.session.execute(sa.insert(Submission.__table__), batch)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(sa.text("ANALYZE"))
            db.session.commit()
        db.engine.dispose()


def longest_waiting_url() -> str | None:
    """The inbox URL sorted longest waiting first, if the inbox has that sort order."""
    from portal.admin.filter_forms import SORT_CHOICES

    for choice in SORT_CHOICES:
        if "longest" in str(choice.label).lower():
            return f"/admin/?sort={choice.value}"
    return None


def timed(client, url: str, runs: int) -> tuple[float, float]:
    """Median and slowest wall time of ``runs`` GETs, in milliseconds, after one warm-up."""
    assert client.get(url).status_code == 200, url
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365, help="spread the rows over these days")
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="portal-dashboard-bench-") as folder:
        instance = Path(folder) / "instance"
        url, drop = fresh_database(args.database_url, Path(folder), "dashboard")
        kind = "PostgreSQL" if args.database_url else "SQLite"
        try:
            started = time.perf_counter()
            fill(url, instance, args.rows, args.days)
            print(
                f"Dashboard benchmark on {kind}, {os.cpu_count()} CPU(s): filled {args.rows:,} "
                f"submissions over {args.days} days in {time.perf_counter() - started:.1f} s"
            )
            app = make_app(url, instance)
            client = signed_in_client(app)
            pages = [("dashboard", "/admin/dashboard"), ("inbox, first page", "/admin/")]
            longest = longest_waiting_url()
            if longest:
                pages.append(("inbox, longest waiting first", longest))
            else:
                print("  (this inbox has no longest-waiting-first order: not measured)")
            print(f"{'page':<32} {'median ms':>10} {'slowest ms':>11}   ({args.runs} runs)")
            for name, path in pages:
                median, slowest = timed(client, path, args.runs)
                goal = "  (target < 200 ms on SQLite)" if path.endswith("dashboard") else ""
                print(f"{name:<32} {median:>10.1f} {slowest:>11.1f}{goal}")
            with app.app_context():
                db.engine.dispose()
        finally:
            drop()


if __name__ == "__main__":
    sys.exit(main())
