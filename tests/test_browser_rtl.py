"""A right-to-left language laid out in a real browser: the stylesheet's logical properties
mirror the page (a test locale, Arabic with a one-message catalogue; none is shipped)."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from portal.extensions import db

from .browser import screenshot
from .helpers import MakeApp
from .test_i18n import right_to_left_app

pytestmark = pytest.mark.browser


@pytest.fixture
def app(settings: dict, make_app: MakeApp, tmp_path) -> Flask:
    """This module's portal offers the right-to-left test locale (live_server serves it)."""
    app = right_to_left_app(make_app, tmp_path)
    with app.app_context():
        db.create_all()
    return app


def test_a_right_to_left_page_is_mirrored_by_the_logical_properties(live_server, page: Page):
    page.set_viewport_size({"width": 375, "height": 900})
    page.goto(f"{live_server}/ar/contact-us")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    page.locator("form button[type=submit]").click()
    group = page.locator(".form-group--error").first
    expect(group).to_be_visible()
    # border-inline-start: on the right of a right-to-left page, none on the left.
    assert group.evaluate("e => getComputedStyle(e).borderRightWidth") == "5px"
    assert group.evaluate("e => getComputedStyle(e).borderLeftWidth") == "0px"
    heading = page.get_by_role("heading", level=1).bounding_box()
    assert heading is not None and heading["x"] + heading["width"] > 340  # from the right edge
    phone = page.locator('.top-bar a[href^="tel:"]')
    assert phone.evaluate("e => getComputedStyle(e).direction") == "ltr"  # (781) first
    screenshot(page, "rtl-contact-errors", (375,))
