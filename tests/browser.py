"""Helpers for the browser tests: axe-core checks, screenshots and layout checks."""

from __future__ import annotations

from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
WIDTHS = (1280, 375)  # a desktop and a phone

_axe = Axe()


def assert_accessible(page: Page, state: str) -> None:
    """Run every axe-core rule on the page as it is now; fail with the report on any violation."""
    results = _axe.run(page)
    assert results.violations_count == 0, f"{state}:\n{results.generate_report()}"


def assert_fits(page: Page, width: int = 320) -> None:
    """Nothing on the page makes it scroll sideways at this width."""
    page.set_viewport_size({"width": width, "height": 800})
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} is {scroll_width}px wide at {width}px"


def screenshot(page: Page, name: str) -> None:
    """Save full-page screenshots at desktop and phone widths for a person to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
