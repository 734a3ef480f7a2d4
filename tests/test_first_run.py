"""A newcomer's first hour: the `portal` command, `make run` and the first admin account."""

from __future__ import annotations

import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .admin_helpers import make_user

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def portal_env(tmp_path: Path) -> dict[str, str]:
    """An environment for the commands: an instance folder and a secret key of the test's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "FLASK_"))}
    env.update(PORTAL_INSTANCE_PATH=str(tmp_path / "instance"), PORTAL_SECRET_KEY="x" * 64)
    return env


def test_portal_command_runs_the_same_commands_as_flask_app_portal(tmp_path: Path):
    portal = shutil.which("portal", path=str(BIN))
    assert portal, "the package installs a `portal` console script"
    env = portal_env(tmp_path)
    subprocess.run([portal, "db", "upgrade"], env=env, check=True, capture_output=True)
    ours = subprocess.run(
        [portal, "outbox", "status"], env=env, check=True, capture_output=True, text=True
    )
    flask = subprocess.run(
        [str(BIN / "flask"), "--app", "portal", "outbox", "status"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    assert ours.stdout == flask.stdout
    assert "oldest pending: none" in ours.stdout
    listed = subprocess.run([portal, "--help"], env=env, capture_output=True, text=True).stdout
    for command in ("run", "users", "outbox", "export", "purge", "db", "profile"):
        assert f"  {command} " in listed, f"`portal {command}` is missing:\n{listed}"


def test_public_base_url_follows_the_development_server_unless_set(make_app, tmp_path, monkeypatch):
    for name, value in portal_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FLASK_RUN_PORT", "8080")
    assert make_app(from_environment=True).config["PUBLIC_BASE_URL"] == "http://127.0.0.1:8080"
    monkeypatch.setenv("FLASK_RUN_HOST", "0.0.0.0")
    assert make_app(from_environment=True).config["PUBLIC_BASE_URL"] == "http://127.0.0.1:8080"
    monkeypatch.setenv("PORTAL_PUBLIC_BASE_URL", "https://portal.practice.example")
    assert (
        make_app(from_environment=True).config["PUBLIC_BASE_URL"]
        == "https://portal.practice.example"
    )


def test_welcome_says_where_pages_staff_area_first_admin_and_mail_are(app, runner, monkeypatch):
    monkeypatch.setenv("FLASK_RUN_PORT", "8080")
    shown = runner.invoke(args=["welcome"]).output
    assert "http://127.0.0.1:8080/request-an-appointment" in shown
    assert "http://127.0.0.1:8080/contact-us" in shown
    assert "http://127.0.0.1:8080/admin/" in shown
    assert ".venv/bin/portal users create you@practice.example --role admin" in shown
    assert f"{Path(app.instance_path) / 'mail'}/" in shown
    make_user(app)
    assert "users create" not in runner.invoke(args=["welcome"]).output


HINT = "data-first-admin-hint"


def test_first_admin_hint_only_on_the_local_development_server(app, client):
    local = {"SERVER_SOFTWARE": "Werkzeug/3.1.3", "REMOTE_ADDR": "127.0.0.1"}
    page = client.get("/admin/login", environ_base=local).get_data(as_text=True)
    assert HINT in page and "portal users create" in page
    for environ in (
        {"SERVER_SOFTWARE": "gunicorn/23.0.0", "REMOTE_ADDR": "127.0.0.1"},  # production
        {"SERVER_SOFTWARE": "Werkzeug/3.1.3", "REMOTE_ADDR": "192.0.2.7"},  # another machine
    ):
        assert HINT not in client.get("/admin/login", environ_base=environ).get_data(as_text=True)
    make_user(app)
    assert HINT not in client.get("/admin/login", environ_base=local).get_data(as_text=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_make_run_on_another_port_and_ctrl_c_stops_both_quietly(tmp_path: Path):
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    port = free_port()
    env = portal_env(tmp_path)
    pid, fd = pty.fork()
    if pid == 0:  # the child: `make run` in a terminal of its own, as a person starts it
        # A person's shell starts it with Ctrl-C's signals at their defaults. A test run started
        # in the background (`pytest … &`) ignores SIGINT and SIGQUIT, and an ignored signal stays
        # ignored through exec: make, the shell and both processes would never see the Ctrl-C.
        for signum in (signal.SIGINT, signal.SIGQUIT):
            signal.signal(signum, signal.SIG_DFL)
        os.chdir(ROOT)
        os.execvpe("make", ["make", "run", f"PORT={port}", f"VENV={BIN.parent}"], env)
    output = b""

    def read(seconds: float) -> None:
        nonlocal output
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    output += os.read(fd, 65536)
                except OSError:
                    return

    try:
        deadline = time.monotonic() + 60
        while b"Press CTRL+C" not in output and time.monotonic() < deadline:
            read(0.5)
        assert f"http://127.0.0.1:{port}/admin/".encode() in output, output.decode()
        read(2)  # the worker's first line
        os.write(fd, b"\x03")  # Ctrl-C: the terminal signals every process of the foreground
        read(5)
    finally:
        deadline = time.monotonic() + 10
        while (waited := os.waitpid(pid, os.WNOHANG)[0]) == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        if waited == 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"make run still running after Ctrl-C:\n{output.decode()}")
    after = output.decode(errors="replace").split("^C", 1)[-1]
    for complaint in ("No such process", "Error", "Traceback", "***"):
        assert complaint not in after, after
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "the web server still listens"
