"""Export benchmark: 100,000 submissions as CSV, XLSX and FHIR NDJSON; the memory an export takes.

Run from the checkout (prints the figures; takes a minute or two)::

    .venv/bin/python benchmarks/exports.py
    .venv/bin/python benchmarks/exports.py --rows 100000 --small 10000
    .venv/bin/python benchmarks/exports.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

What it does:

1. Fills a fresh database (SQLite in a temporary folder, or a fresh schema on the given
   PostgreSQL) with ``--rows`` appointment requests of realistic size, accents included.
2. Signs in as an admin and downloads ``/admin/export.csv``, ``/admin/export.xlsx`` and
   ``/admin/export.ndjson`` (one FHIR R4 Bundle per line) through Flask's test client, reading
   the streamed body chunk by chunk, exactly as a WSGI server would; prints the wall time of
   each. The issue's targets: CSV within 5 s, XLSX within 30 s.
3. Peak memory: for each size (``--small`` rows, then ``--rows`` rows) a fresh child process
   warms up (imports, a one-row export), notes its resident set size, then samples it after
   every chunk of the full export (and notes the process's peak before and after). The growth
   between the two sizes must stay under 30 MB: memory is flat because rows are fetched in
   batches and written out as they come. ``--formats ndjson --rows 10000 --small 1000`` measures
   the FHIR NDJSON export of 10,000 submissions on its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from portal import create_app
from portal.extensions import db
from portal.models import Submission, User

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

PASSWORD = "benchmark passphrase 2026"
ADMIN = "bench-admin@example.org"
FIRST = ["Siobhán", "Nguyễn", "José", "Zoë", "Mary", "山田", "Björn", "Amélie"]
LAST = ["O'Hara", "Văn An", "García", "Müller", "Smith", "太郎", "Łukasz", "Dupont"]
SPECIALTIES = ["Total hip replacement", "Total knee replacement", "Total shoulder replacement"]
REASON = (
    "Pain in the right knee for six months, worse on stairs and after running. "
    "Tried physiotherapy and anti-inflammatories; would like to discuss options, "
    "including whether a replacement is advisable."
)


def settings(database_url: str) -> dict:
    return {
        "TESTING": False,
        "SECRET_KEY": "benchmark",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "RATELIMIT_ENABLED": False,
    }


def make_app(database_url: str, instance: Path):
    os.environ["PORTAL_INSTANCE_PATH"] = str(instance)
    return create_app(settings(database_url))


def fill(database_url: str, instance: Path, rows: int) -> None:
    """Create the schema, an admin, and `rows` submissions, oldest first, in big batches."""
    app = make_app(database_url, instance)
    with app.app_context():
        db.create_all()
        admin = User(email=ADMIN, role="admin")
        admin.set_password(PASSWORD)
        db.session.add(admin)
        db.session.commit()
        start = datetime(2026, 1, 1, 12, tzinfo=UTC)
        table = Submission.__table__
        batch = []
        for n in range(rows):
            batch.append(
                {
                    "reference": f"APT-{n:08d}",
                    "form": "appointment",
                    "status": "new",
                    "created_at": start + timedelta(minutes=n),
                    "first_name": FIRST[n % len(FIRST)],
                    "last_name": LAST[n % len(LAST)],
                    "date_of_birth": date(1950 + n % 50, 1 + n % 12, 1 + n % 28),
                    "phone": f"+1617{2_000_000 + n % 8_000_000:07d}",  # valid: exchange 200-999
                    "email": f"patient{n}@example.com",
                    "contact_method": "phone",
                    "specialty": SPECIALTIES[n % len(SPECIALTIES)],
                    "preferred_days": "Monday, Thursday",
                    "preferred_time": "morning",
                    "insurance": "Blue Cross Blue Shield",
                    "referring_physician": "Dr. Chen",
                    "message": REASON,
                }
            )
            if len(batch) == 5000:
                db.session.execute(sa.insert(table), batch)
                batch = []
        if batch:
            db.session.execute(sa.insert(table), batch)
        db.session.commit()
        db.engine.dispose()


def signed_in_client(app):
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = client.post(
        "/admin/login", data={"csrf_token": token, "email": ADMIN, "password": PASSWORD}
    )
    assert response.status_code == 303, response.status_code
    return client


def download(client, url: str, watch: list[float] | None = None) -> tuple[int, float]:
    """Stream one export as a WSGI server would; (bytes, seconds). With `watch`, the resident
    set size is noted after every chunk."""
    started = time.perf_counter()
    response = client.get(url, buffered=False)
    assert response.status_code == 200, response.status_code
    size = 0
    for chunk in response.response:
        size += len(chunk)
        if watch is not None:
            watch.append(rss_mb())
    response.close()
    return size, time.perf_counter() - started


def peak_rss_mb() -> float:
    """The process's peak resident set size so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def rss_mb() -> float:
    """The process's resident set size now."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(database_url: str, instance: Path, fmt: str) -> None:
    """In a fresh process: peak RSS after a warm-up, then after the full export (JSON line)."""
    app = make_app(database_url, instance)
    client = signed_in_client(app)
    download(client, f"/admin/export.{fmt}?since=2026-01-01&until=2026-01-01")  # warm-up
    before, peak_before = rss_mb(), peak_rss_mb()
    watch: list[float] = []
    size, seconds = download(client, f"/admin/export.{fmt}", watch)
    figures = {
        "before": before,
        "during": max(watch, default=before),
        "peak_before": peak_before,
        "peak_after": peak_rss_mb(),
        "bytes": size,
        "seconds": seconds,
    }
    print(json.dumps(figures))
    with app.app_context():
        db.engine.dispose()


def measure_in_child(database_url: str, instance: Path, fmt: str) -> dict:
    output = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            fmt,
            "--database-url",
            database_url,
            "--instance",
            str(instance),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def fresh_database(base_url: str | None, folder: Path, name: str) -> tuple[str, callable]:
    """A database of its own: a SQLite file, or a new schema on PostgreSQL."""
    if base_url is None:
        return f"sqlite:///{folder / f'{name}.sqlite3'}", lambda: None
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(base_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()

    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}options=-csearch_path%3D{schema}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default SQLite)")
    parser.add_argument(
        "--formats",
        default="csv,xlsx,ndjson",
        help="Comma-separated formats whose memory is measured (csv, xlsx, json, ndjson).",
    )
    parser.add_argument(
        "--child", choices=["csv", "xlsx", "json", "ndjson"], help=argparse.SUPPRESS
    )
    parser.add_argument("--instance", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.database_url, Path(args.instance), args.child)
        return

    with tempfile.TemporaryDirectory(prefix="portal-export-bench-") as folder:
        folder = Path(folder)
        instance = folder / "instance"
        kind = "PostgreSQL" if args.database_url else "SQLite"
        print(f"Export benchmark on {kind}, {os.cpu_count()} CPU(s)")
        databases = {}
        cleanups = []
        for rows in (args.small, args.rows):
            url, drop = fresh_database(args.database_url, folder, f"rows{rows}")
            cleanups.append(drop)
            started = time.perf_counter()
            fill(url, instance, rows)
            print(f"  filled {rows:,} submissions in {time.perf_counter() - started:.1f} s")
            databases[rows] = url
        try:
            app = make_app(databases[args.rows], instance)
            client = signed_in_client(app)
            print(f"\nTime to stream {args.rows:,} submissions (test client, chunk by chunk):")
            results = {}
            for fmt, target in (("csv", 5), ("xlsx", 30), ("json", None), ("ndjson", None)):
                size, seconds = download(client, f"/admin/export.{fmt}")
                results[fmt] = seconds
                goal = f"(target <= {target} s)" if target else ""
                print(f"  {fmt.upper():<6} {seconds:6.2f} s  {size / 1e6:7.1f} MB  {goal}")
            with app.app_context():
                db.engine.dispose()

            print("\nPeak RSS growth of a fresh process during one export:")
            growth = {}
            for fmt in args.formats.split(","):
                for rows in (args.small, args.rows):
                    figures = measure_in_child(databases[rows], instance, fmt)
                    growth[fmt, rows] = figures["during"] - figures["before"]
                    print(
                        f"  {fmt.upper():<6} {rows:>7,} rows: RSS {figures['before']:6.1f} MB "
                        f"before, at most {figures['during']:6.1f} MB during "
                        f"(+{growth[fmt, rows]:.1f} MB); process peak "
                        f"{figures['peak_before']:.1f} -> {figures['peak_after']:.1f} MB"
                    )
                difference = growth[fmt, args.rows] - growth[fmt, args.small]
                print(
                    f"  {fmt.upper():<6} growth from {args.small:,} to {args.rows:,} rows: "
                    f"{difference:+.1f} MB (target < 30 MB)"
                )
        finally:
            for drop in cleanups:
                drop()


if __name__ == "__main__":
    main()
