"""schemathesis, an independent fuzzer, run as its own command against the live API and the
OpenAPI document it serves: with a read-write token, every check (no server error, every
status, content type, header and body as documented, invalid input rejected, valid input
accepted, authentication not ignored...) passes."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from .admin_helpers import add_submission
from .test_api import make_token

# Bounded: examples per operation (the run stops when each operation had them).
MAX_EXAMPLES = 15
TIMEOUT = 120
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.mark.slow  # 15-50 s, depending on how busy the machine is
def test_schemathesis_finds_nothing_with_a_read_write_token(app, live_server, tmp_path):
    start = datetime(2026, 3, 1, 12, tzinfo=UTC)
    add_submission(app, created_at=start + timedelta(hours=1))
    add_submission(app, "contact", created_at=start + timedelta(hours=2))
    add_submission(app, status="closed", created_at=start + timedelta(hours=3))
    # The fuzzer sends hundreds of requests a minute: the rate limit has tests of its own.
    app.config["API_RATE_LIMIT"] = "100000 per minute"
    token = make_token(app, "schemathesis")

    command = [
        str(SCHEMATHESIS),
        "run",
        f"{live_server}/api/v1/openapi.json",
        "--url",
        f"{live_server}/api/v1",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--seed",
        "12",
        "--generation-database",
        "none",
        "--no-color",
    ]
    # Run in the test's own folder: the fuzzer writes nothing into the checkout.
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
