"""The outside services some tests need (Redis, PostgreSQL), found or skipped with a reason.

CI sets PORTAL_REQUIRE_SERVICES=1: there a missing service fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("PORTAL_TEST_POSTGRES_URL")


def services_required() -> bool:
    """True in CI: a missing service is a failure there, not a skip."""
    return os.environ.get("PORTAL_REQUIRE_SERVICES") == "1"


def unavailable(reason: str) -> None:
    """Skip with the reason, or fail with it when services are required."""
    if services_required():
        pytest.fail(f"{reason} (PORTAL_REQUIRE_SERVICES=1 makes this a failure)")
    pytest.skip(reason)


def require_redis() -> str:
    """The Redis URL for the tests, once Redis has answered a PING."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        unavailable(
            f"no Redis at {REDIS_URL} ({type(error).__name__}): start redis-server or set "
            "PORTAL_TEST_REDIS_URL"
        )
    return REDIS_URL


def require_postgres() -> str:
    """The PostgreSQL URL for the tests, once PostgreSQL has answered."""
    if not POSTGRES_URL:
        unavailable(
            "PORTAL_TEST_POSTGRES_URL is not set, e.g. "
            "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        )
    engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as error:
        unavailable(f"PostgreSQL at PORTAL_TEST_POSTGRES_URL does not answer: {error.orig}")
    finally:
        engine.dispose()
    return POSTGRES_URL


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A fresh schema, dropped afterwards; yields a URL whose search_path is that schema."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unique_address() -> str:
    """A client address of its own for one test, so limits counted in a shared Redis never mix."""
    value = uuid.uuid4().int
    return f"10.{value % 250 + 1}.{value // 250 % 250 + 1}.{value // 62500 % 250 + 1}"
