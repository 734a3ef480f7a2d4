"""The production shape on one machine: two gunicorn instances ("hosts") behind a load balancer,
two outbox workers, one PostgreSQL, one Redis and one SMTP server.

300 appointment requests spread over both instances, 4 at a time, are all stored and every email
they cause is delivered exactly once; a client alternating between the instances is stopped by
the rate limit at the same count as one that stays on one. The load balancer is played by the
test: it sends X-Forwarded-For, which the instances trust (TRUSTED_PROXY_COUNT=1).
"""

from __future__ import annotations

import json
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
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from .helpers import VALID_APPOINTMENT
from .services import free_port, postgres_schema, require_postgres, require_redis, unavailable
from .smtp import PLAIN_SMTP_ENV, SMTPServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SUBMISSIONS = 300
CONCURRENCY = 4
FRONT_DESK = "front-desk@practice.example"
# The patients' last name: it must reach the database and the emails, and no log of any process.
CANARY = "Twohostcanary"
REFERENCE = re.compile(r"APT-[A-Z2-9]{8}")
TOKEN = re.compile(r'name="(csrf_token|form_token)" type="hidden" value="([^"]*)"')


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # the 303 is the answer we want to see
        return None


OPENER = urllib.request.build_opener(NoRedirect)


@dataclass
class Answer:
    status: int
    body: str
    cookie: str | None


def http(url: str, client: str, cookie: str | None = None, data: dict | None = None) -> Answer:
    """One request as the load balancer forwards it: the client's address in X-Forwarded-For."""
    headers = {"X-Forwarded-For": client}
    if cookie:
        headers["Cookie"] = cookie
    body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        response = OPENER.open(request, timeout=30)
    except urllib.error.HTTPError as error:
        response = error
    with response:
        set_cookie = response.headers.get("Set-Cookie") or ""
        match = re.match(r"(session=[^;]*)", set_cookie)
        return Answer(
            response.status, response.read().decode(), match.group(1) if match else cookie
        )


def submit(form_host: str, post_host: str, client: str, **fields: str) -> tuple[int, str | None]:
    """GET the form on one host, POST it to another, read the reference from the confirmation."""
    page = http(f"{form_host}/request-an-appointment", client)
    assert page.status == 200, page.body[:300]
    tokens = dict(TOKEN.findall(page.body))
    data = {**VALID_APPOINTMENT, **tokens, **fields}
    answer = http(f"{post_host}/request-an-appointment", client, page.cookie, data)
    if answer.status != 303:
        return answer.status, None
    confirmation = http(f"{form_host}/request-an-appointment/received", client, answer.cookie)
    match = REFERENCE.search(confirmation.body)
    return answer.status, match.group(0) if match else None


@dataclass
class Cluster:
    hosts: list[str]
    database_url: str
    smtp: SMTPServer
    logs: list[Path]


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)


def wait_healthy(base: str, processes: list[subprocess.Popen], logs: list[Path]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for process, log in zip(processes, logs, strict=True):
            if process.poll() is not None:
                pytest.fail(f"{process.args} exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"{base}/healthz never answered 200")


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    postgres_url = require_postgres()
    redis_url = require_redis()
    if not (BIN / "gunicorn").exists():
        unavailable(f"no gunicorn in {BIN}: pip install -e '.[test]'")
    tmp = tmp_path_factory.mktemp("two-hosts")
    smtp = SMTPServer().start()
    processes: list[subprocess.Popen] = []
    logs: list[Path] = []
    with postgres_schema(postgres_url) as database_url:
        common = {
            **os.environ,
            # Every host and worker shares these, as a real deployment's would.
            "PORTAL_SECRET_KEY": secrets.token_hex(32),
            "PORTAL_SQLALCHEMY_DATABASE_URI": database_url,
            "PORTAL_RATELIMIT_STORAGE_URI": redis_url,
            "PORTAL_RATELIMIT_KEY_PREFIX": f"two-hosts-{uuid.uuid4().hex[:8]}",
            "PORTAL_TRUSTED_PROXY_COUNT": "1",
            "PORTAL_MAIL_SERVER": "127.0.0.1",
            "PORTAL_MAIL_PORT": str(smtp.port),
            **PLAIN_SMTP_ENV,  # aiosmtpd on 127.0.0.1, without TLS
            "PORTAL_MAIL_DEFAULT_SENDER": "no-reply@practice.example",
            "PORTAL_FRONT_DESK_EMAILS": json.dumps([FRONT_DESK]),
            "PORTAL_OUTBOX_POLL_INTERVAL": "0.2",
            "PORTAL_OUTBOX_BATCH_SIZE": "10",
            "PORTAL_LOG_FORMAT": "json",
        }
        common.pop("PORTAL_SUBMISSION_RATE_LIMIT", None)  # the shipped "5 per 10 minutes"

        def env(name: str) -> dict:
            return {**common, "PORTAL_INSTANCE_PATH": str(tmp / name)}

        migrate = subprocess.run(
            [str(BIN / "flask"), "--app", "portal", "db", "upgrade"],
            cwd=ROOT,
            env=env("migrate"),
            capture_output=True,
            text=True,
        )
        assert migrate.returncode == 0, migrate.stderr
        hosts = []
        try:
            for name in ("host-a", "host-b"):
                port = free_port()
                log = tmp / f"{name}.log"
                command = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2"]
                processes.append(start([*command, "portal:create_app()"], env(name), log))
                logs.append(log)
                hosts.append(f"http://127.0.0.1:{port}")
            for name in ("worker-1", "worker-2"):
                log = tmp / f"{name}.log"
                command = [str(BIN / "flask"), "--app", "portal", "outbox", "run"]
                processes.append(start(command, env(name), log))
                logs.append(log)
            for host in hosts:
                wait_healthy(host, processes, logs)
            yield Cluster(hosts, database_url, smtp, logs)
        finally:
            stop(processes)
            smtp.stop()


def test_300_submissions_over_two_hosts_are_stored_and_notified_exactly_once(cluster):
    a, b = cluster.hosts
    # Form and POST on the same host, and across hosts (the load balancer keeps no affinity).
    routes = [(a, a), (a, b), (b, b), (b, a)]

    def one(i: int) -> tuple[int, str | None]:
        form_host, post_host = routes[i % len(routes)]
        client = f"10.77.{i // 250}.{i % 250 + 1}"  # one address per patient
        return submit(
            form_host, post_host, client, last_name=CANARY, email=f"patient{i}@example.com"
        )

    started = time.monotonic()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        answers = list(pool.map(one, range(SUBMISSIONS)))
    submitted_in = time.monotonic() - started
    assert [status for status, _ in answers] == [303] * SUBMISSIONS
    references = {reference for _, reference in answers}
    assert None not in references and len(references) == SUBMISSIONS

    engine = sa.create_engine(cluster.database_url)
    try:
        with engine.connect() as conn:
            stored = set(conn.scalars(sa.text("SELECT reference FROM submission")))
            assert stored == references

            # Each submission: one notification to the front desk, one receipt to the patient.
            expected = 2 * SUBMISSIONS
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                sent = conn.scalar(
                    sa.text("SELECT count(*) FROM outbox_message WHERE status = 'sent'")
                )
                if sent == expected:
                    break
                time.sleep(0.2)
                conn.rollback()
            rows = conn.execute(
                sa.text("SELECT status, count(*) FROM outbox_message GROUP BY status")
            )
            statuses = {status: count for status, count in rows}
    finally:
        engine.dispose()
    assert statuses == {"sent": expected}

    time.sleep(1)  # a duplicate, if any worker were to send one, would arrive by now
    received = list(cluster.smtp.received)
    ids = Counter(message.message_id for message in received)
    assert len(received) == expected
    assert len(ids) == expected and set(ids.values()) == {1}
    notified = Counter(
        REFERENCE.search(m.message["Subject"]).group(0)
        for m in received
        if m.rcpt_tos == [FRONT_DESK]
    )
    acknowledged = Counter(
        REFERENCE.search(m.message["Subject"]).group(0)
        for m in received
        if m.rcpt_tos != [FRONT_DESK]
    )
    assert notified == acknowledged == dict.fromkeys(references, 1)

    # Both hosts answered, and no process logged a patient's data.
    lines = [line for log in cluster.logs for line in log.read_text().splitlines()]
    for log in cluster.logs[:2]:
        assert '"method": "POST"' in log.read_text(), f"{log.name} served no POST"
    assert not [line for line in lines if CANARY.lower() in line.lower()]
    assert not [line for line in lines if "@example.com" in line]
    delivered = [log.read_text().count("sent outbox message") for log in cluster.logs[2:]]
    assert sum(delivered) == expected and min(delivered) > 0  # both workers took part
    print(
        f"{SUBMISSIONS} submissions in {submitted_in:.1f} s over {len(cluster.hosts)} hosts; "
        f"messages sent by each worker: {delivered}"
    )


def test_rate_limit_is_counted_across_both_hosts(cluster):
    a, b = cluster.hosts
    alternating = [submit(host, host, "10.99.0.1")[0] for host in [a, b] * 3]
    staying = [submit(a, a, "10.99.0.2")[0] for _ in range(6)]
    assert alternating == staying == [303] * 5 + [429]
    # Counted per client: another patient behind the same load balancer is not affected.
    assert submit(b, b, "10.99.0.3")[0] == 303
