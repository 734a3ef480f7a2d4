"""Who the rate limiter counts (behind no proxy and behind a trusted one), limits shared through
Redis by separate app instances, and the in-memory fallback when Redis is unreachable."""

from __future__ import annotations

import http.client
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from portal.extensions import db, limiter

from .helpers import VALID_CONTACT, form_tokens
from .services import free_port, require_redis, unavailable, unique_address

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def make_client(settings, make_app) -> Callable[..., FlaskClient]:
    """Build a fresh app instance (as another gunicorn worker would) and a client of it."""
    settings.pop("SUBMISSION_RATE_LIMIT")  # the shipped "5 per 10 minutes"
    settings.pop("FORM_POST_RATE_LIMIT")  # the shipped "30 per 10 minutes"

    def make(address: str = "127.0.0.1", **overrides) -> FlaskClient:
        app = make_app(**overrides)
        with app.app_context():
            db.create_all()
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        return client

    return make


def post(client: FlaskClient, headers: dict | None = None, **overrides: str) -> int:
    """Submit the contact form once, as a browser would; returns the status code."""
    data = {**VALID_CONTACT, **form_tokens(client, "/contact-us"), **overrides}
    return client.post("/contact-us", data=data, headers=headers or {}).status_code


def test_client_supplied_forwarded_for_does_not_change_the_rate_limit_key(make_client):
    client = make_client()
    assert client.application.config["TRUSTED_PROXY_COUNT"] == 0
    statuses = [post(client, {"X-Forwarded-For": f"198.51.100.{n}"}) for n in range(6)]
    assert statuses == [303] * 5 + [429]


def test_behind_a_trusted_proxy_the_address_it_added_is_counted(make_client):
    # The proxy (127.0.0.1 here) appends the address it saw; anything before it is the client's.
    client = make_client(TRUSTED_PROXY_COUNT=1)
    spoofed = [post(client, {"X-Forwarded-For": f"6.6.6.{n}, 203.0.113.7"}) for n in range(6)]
    assert spoofed == [303] * 5 + [429]
    assert post(client, {"X-Forwarded-For": "203.0.113.8"}) == 303  # another patient


def test_behind_two_trusted_proxies_the_second_to_last_address_is_counted(make_client):
    client = make_client(TRUSTED_PROXY_COUNT=2)
    statuses = [
        post(client, {"X-Forwarded-For": f"6.6.6.{n}, 203.0.113.7, 10.0.0.{n}"}) for n in range(6)
    ]
    assert statuses == [303] * 5 + [429]


def test_memory_storage_is_per_instance(make_client):
    """Why Redis is needed: with memory:// a second process starts counting from zero."""
    address = unique_address()
    first = make_client(address)
    assert [post(first) for _ in range(5)] == [303] * 5
    second = make_client(address)
    assert post(second) == 303


def test_redis_limit_is_shared_by_two_app_instances(make_client):
    redis_url = require_redis()
    address = unique_address()  # a key of its own in the shared Redis
    first = make_client(address, RATELIMIT_STORAGE_URI=redis_url)
    assert [post(first) for _ in range(3)] == [303] * 3
    # A second instance, with its own connection to Redis, goes on from the first one's count,
    # and both stop the client at the shipped limit.
    second = make_client(address, RATELIMIT_STORAGE_URI=redis_url)
    assert [post(second), post(first)] == [303, 303]
    assert post(second) == 429
    assert post(first) == 429
    assert post(make_client(unique_address(), RATELIMIT_STORAGE_URI=redis_url)) == 303


def test_redis_counts_accepted_submissions_only_across_instances(make_client):
    redis_url = require_redis()
    address = unique_address()
    first = make_client(address, RATELIMIT_STORAGE_URI=redis_url)
    second = make_client(address, RATELIMIT_STORAGE_URI=redis_url)
    # Forms sent back with errors leave the shared count alone...
    assert [post(first, email="taro@") for _ in range(5)] == [422] * 5
    assert [post(second) for _ in range(5)] == [303] * 5
    # ...while the accepted ones, counted after the answer, reach the limit on every instance.
    assert post(first) == 429
    assert post(second) == 429


def test_redis_shares_the_limit_on_every_form_post(make_client):
    redis_url = require_redis()
    address = unique_address()
    first = make_client(address, RATELIMIT_STORAGE_URI=redis_url)
    second = make_client(address, RATELIMIT_STORAGE_URI=redis_url)
    statuses = [post(client, message="") for _ in range(15) for client in (first, second)]
    assert statuses == [422] * 30
    assert post(first) == 429
    assert post(second) == 429


@pytest.fixture
def restore_limiter() -> Iterator[None]:
    # Flask-Limiter keeps "storage is dead" on the one module-level limiter, across app instances.
    yield
    limiter._storage_dead = False


def test_unreachable_redis_falls_back_to_memory_and_logs_it(make_client, caplog, restore_limiter):
    caplog.set_level(logging.INFO)
    nobody = f"redis://127.0.0.1:{free_port()}/0"
    client = make_client(unique_address(), RATELIMIT_STORAGE_URI=nobody)
    statuses = [post(client) for _ in range(6)]
    # The forms keep working, and the limit still holds (counted in this process's memory).
    assert statuses == [303] * 5 + [429]
    warnings = [
        record.getMessage()
        for record in caplog.records
        if record.name == "flask-limiter" and record.levelno == logging.WARNING
    ]
    assert any("falling back to in-memory storage" in message for message in warnings)
    health = client.get("/healthz").get_json()
    assert health["rate_limit_storage"] == {"reachable": False}


# --- The Host header: served only for the portal's own name, never copied into a redirect -------

PUBLIC_HOST = "portal.practice.example"


@dataclass
class Served:
    port: int
    log: Path


def ask(port: int, path: str, host: str) -> http.client.HTTPResponse:
    """GET path from 127.0.0.1:port with this Host header, as any client may send it."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers={"Host": host})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


@pytest.fixture(scope="module")
def gunicorn_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The portal as deployed: gunicorn on 127.0.0.1, PUBLIC_BASE_URL naming its public host."""
    gunicorn = Path(sys.executable).parent / "gunicorn"
    if not gunicorn.exists():
        unavailable(f"no gunicorn at {gunicorn}: pip install -e '.[test]'")
    tmp = tmp_path_factory.mktemp("gunicorn-host")
    port = free_port()
    log = tmp / "gunicorn.log"
    env = {
        **os.environ,
        "PORTAL_INSTANCE_PATH": str(tmp / "instance"),
        "PORTAL_SECRET_KEY": secrets.token_hex(16),
        "PORTAL_PUBLIC_BASE_URL": f"https://{PUBLIC_HOST}",
    }
    for name in ("FLASK_DEBUG", "PORTAL_TRUSTED_HOSTS", "PORTAL_TESTING"):
        env.pop(name, None)
    command = [str(gunicorn), "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "portal:create_app()"], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited:\n{log.read_text()[-3000:]}")
            try:
                if ask(port, "/", PUBLIC_HOST).status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"gunicorn never answered:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield Served(port, log)
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8000", f"{PUBLIC_HOST}.evil.example"]
)
def test_a_request_for_another_host_gets_400(gunicorn_portal, host):
    for path in ("/", "/contact-us", "/admin/login", "/admin//users", "/admin"):
        response = ask(gunicorn_portal.port, path, host)
        assert response.status == 400, (path, response.status)
        assert response.getheader("Location") is None


def test_no_redirect_takes_its_host_from_the_request(gunicorn_portal):
    # Werkzeug's own redirects: merging "//" in a path, adding a trailing slash.
    for path, target in [("/admin//users", "/admin/users"), ("/admin", "/admin/")]:
        response = ask(gunicorn_portal.port, path, PUBLIC_HOST)
        assert response.status == 308, path
        assert response.getheader("Location") == target


def test_redirects_are_host_relative_even_where_hosts_are_not_checked(client):
    for path, target in [("/admin//users", "/admin/users"), ("/admin", "/admin/")]:
        response = client.get(path, headers={"Host": "evil.example"})
        assert response.status_code == 308
        assert response.headers["Location"] == target


def test_trusted_hosts_default_to_the_public_address_outside_testing(make_app, monkeypatch):
    monkeypatch.setenv("PORTAL_SECRET_KEY", "x")
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.setenv("PORTAL_PUBLIC_BASE_URL", "https://portal.practice.example/")
    assert make_app(from_environment=True).config["TRUSTED_HOSTS"] == ["portal.practice.example"]
    monkeypatch.setenv("PORTAL_TRUSTED_HOSTS", '["a.example", ".b.example"]')
    assert make_app(from_environment=True).config["TRUSTED_HOSTS"] == ["a.example", ".b.example"]
    monkeypatch.delenv("PORTAL_TRUSTED_HOSTS")
    monkeypatch.setenv("PORTAL_PUBLIC_BASE_URL", "portal.practice.example")
    with pytest.raises(RuntimeError, match="PUBLIC_BASE_URL must be the portal's absolute"):
        make_app(from_environment=True)
