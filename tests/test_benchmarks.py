"""The Django peer that benchmarks/http_load.py measures the portal against really works.

Under gunicorn, with the project's gunicorn.conf.py, on SQLite and on PostgreSQL: it shows the
form with a CSRF token, stores the benchmark's own valid appointment request when it comes back
with that token, refuses a POST without it and rejects what its ModelForm rejects. Its fields,
lengths and choices are the portal's. Only 127.0.0.1; every process is stopped by its pid.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from benchmarks.django_peer import vocabulary
from benchmarks.http_load import DJANGO_APPOINTMENT
from portal.practice import Practice
from portal.public import fields, forms

from .services import free_port, postgres_schema, require_postgres

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FORM = "/request-an-appointment"
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]*)"')


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # the 303 is the answer we want to see
        return None


OPENER = urllib.request.build_opener(NoRedirect)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str


@dataclass
class Peer:
    base: str
    database_url: str
    env: dict[str, str]


def http(url: str, cookie: str | None = None, data: dict | None = None) -> Answer:
    """One request, redirects not followed."""
    headers = {"Cookie": cookie} if cookie else {}
    body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
    try:
        response = OPENER.open(urllib.request.Request(url, data=body, headers=headers), timeout=30)
    except urllib.error.HTTPError as error:
        response = error
    with response:
        return Answer(response.status, dict(response.headers), response.read().decode())


def form_with_token(peer: Peer) -> tuple[str, str]:
    """GET the form as a browser does: the CSRF cookie and the token the form carries."""
    page = http(peer.base + FORM)
    assert page.status == 200, page.body[:300]
    cookie = re.match(r"(csrftoken=[^;]+)", page.headers.get("Set-Cookie", ""))
    token = CSRF_FIELD.search(page.body)
    assert cookie and token, "the form page sets the CSRF cookie and carries the token"
    return cookie.group(1), token.group(1)


def stored(peer: Peer) -> list[dict]:
    """The rows the peer wrote."""
    engine = sa.create_engine(peer.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT * FROM appointment ORDER BY id"))
            return [dict(row._mapping) for row in rows]
    finally:
        engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def peer_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh database for the peer: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('peer') / 'peer.sqlite3'}"
    else:
        with postgres_schema(require_postgres()) as url:
            yield url


@pytest.fixture(scope="module")
def peer(peer_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    """The Django peer migrated and served by gunicorn (one worker) on 127.0.0.1."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.django_peer.settings",
        "DJANGO_PEER_SECRET_KEY": secrets.token_hex(32),
        "DJANGO_PEER_DATABASE_URL": peer_database,
    }
    subprocess.run(
        [str(BIN / "python"), "-m", "django", "migrate", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = tmp_path_factory.mktemp("peer-log") / "gunicorn.log"
    command = [
        str(BIN / "gunicorn"),
        "--config",
        str(ROOT / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "benchmarks.django_peer.wsgi:application",
    ]
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
            try:
                if http(base + FORM).status == 200:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the Django peer never answered:\n{log.read_text()}")
            time.sleep(0.2)
        yield Peer(base, peer_database, env)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_django_peer_stores_the_benchmarks_appointment_sent_with_its_csrf_token(
    peer: Peer,
) -> None:
    before = len(stored(peer))
    cookie, token = form_with_token(peer)
    answer = http(peer.base + FORM, cookie, {**DJANGO_APPOINTMENT, "csrfmiddlewaretoken": token})
    assert answer.status == 303, answer.body[:2000]
    assert answer.headers["Location"] == f"{FORM}/received"
    rows = stored(peer)
    assert len(rows) == before + 1
    row = rows[-1]
    assert (row["first_name"], row["last_name"]) == ("Siobhán", "O'Hara")
    assert str(row["date_of_birth"]) == "1980-03-27"
    assert row["phone"] == "(617) 253-1000"
    assert row["specialty"] == "Total knee replacement"
    assert row["preferred_days"] == "Monday, Thursday"
    assert row["reason"] == "Knee pain when running.\nWorse on stairs."


def test_django_peer_refuses_a_post_without_its_csrf_token(peer: Peer) -> None:
    before = len(stored(peer))
    cookie, _ = form_with_token(peer)
    assert http(peer.base + FORM, cookie, DJANGO_APPOINTMENT).status == 403
    forged = {**DJANGO_APPOINTMENT, "csrfmiddlewaretoken": "x" * 64}
    assert http(peer.base + FORM, cookie, forged).status == 403
    assert len(stored(peer)) == before


@pytest.mark.parametrize(
    "change",
    [
        {"specialty": "Brain surgery"},  # not one of the practice's specialties
        {"date_of_birth": "1980-02-30"},
        {"phone": "6" * (vocabulary.PHONE_MAX + 1)},
        {"email": "not an address"},
        {"contact_method": "fax"},
        {"preferred_days": ["Sunday"]},
        {"first_name": ""},
        {"reason": "x" * (vocabulary.TEXT_MAX + 1)},
        {"consent": ""},
    ],
)
def test_django_peer_rejects_what_its_modelform_rejects(peer: Peer, change: dict) -> None:
    before = len(stored(peer))
    cookie, token = form_with_token(peer)
    data = {**DJANGO_APPOINTMENT, "csrfmiddlewaretoken": token, **change}
    assert http(peer.base + FORM, cookie, data).status == 422
    assert len(stored(peer)) == before


def test_django_peer_sqlite_is_wal_with_synchronous_full(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.django_peer.settings",
        "DJANGO_PEER_SECRET_KEY": secrets.token_hex(32),
        "DJANGO_PEER_DATABASE_URL": f"sqlite:///{tmp_path / 'peer.sqlite3'}",
    }
    # The same settings module and connection path as the gunicorn workers.
    probe = (
        "from django.db import connection\n"
        "with connection.cursor() as c:\n"
        "    print(c.execute('PRAGMA journal_mode').fetchone()[0],"
        " c.execute('PRAGMA synchronous').fetchone()[0])"
    )
    output = subprocess.run(
        [str(BIN / "python"), "-m", "django", "shell", "-c", probe],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    # Django 5.2's shell may first say how many objects it imported; the probe's line is last.
    assert output[-1].split() == ["wal", "2"]  # 2 is FULL


def choices(field: str) -> list[tuple[str, str]]:
    """A choice field's (value, label) pairs as the portal's AppointmentForm declares them."""
    return [(c.value, c.label) for c in getattr(forms.AppointmentForm, field).kwargs["choices"]]


def test_django_peer_offers_the_portals_choices_and_lengths() -> None:
    assert vocabulary.CONTACT_METHODS == choices("contact_method")
    assert vocabulary.PATIENT_TYPES == choices("patient_type")
    assert vocabulary.PREFERRED_TIMES == choices("preferred_time")
    assert vocabulary.WEEKDAYS == forms.WEEKDAYS
    assert vocabulary.SPECIALTIES == Practice().specialties
    assert vocabulary.PHYSICIANS == Practice().physicians
    assert vocabulary.NAME_MAX == fields.NAME_MAX
    assert vocabulary.TEXT_MAX == fields.TEXT_MAX
    assert vocabulary.CONSENT == forms.AppointmentForm.consent.args[0]
    # The portal's phone and email limits, as its validators state them.
    phone = fields.phone_field(required=True).kwargs["validators"]
    email = fields.email_field(required=True).kwargs["validators"]
    assert vocabulary.PHONE_MAX in [v.max for v in phone if hasattr(v, "max")]
    assert vocabulary.EMAIL_MAX in [v.max for v in email if hasattr(v, "max")]
