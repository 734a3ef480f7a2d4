"""The language questions and the language-assistance notice in a real browser: chosen by their
labels, and checked by axe-core and the Nu HTML checker."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import Submission

from .browser import assert_accessible, assert_fits, screenshot
from .test_browser_public import fill_appointment

pytestmark = pytest.mark.browser


def test_patient_chooses_a_language_and_an_interpreter_by_the_labels(app, live_server, page):
    page.goto(f"{live_server}/request-an-appointment")
    fill_appointment(page)
    language = page.get_by_label("Preferred language", exact=True)
    expect(language).to_have_value("en")  # the page's language
    language.select_option(label="Español")
    page.get_by_role("group", name="Do you need an interpreter?").get_by_label(
        "Yes", exact=True
    ).check()
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_role("heading", name="Request received")).to_be_visible()
    with app.app_context():
        stored = db.session.scalar(select(Submission))
        assert (stored.preferred_language, stored.interpreter) == ("es", "yes")


def test_language_assistance_notice_passes_axe_and_the_html_checker(live_server, page: Page):
    page.goto(f"{live_server}/")
    page.get_by_role("link", name="How to ask for language assistance").click()
    expect(page.get_by_role("heading", level=1, name="Language assistance")).to_be_visible()
    assert_accessible(page, "language-assistance notice")
    screenshot(page, "language-assistance")
    assert_fits(page)
    arabic = page.locator("li.tagline[lang=ar]")
    assert arabic.get_attribute("dir") == "rtl"
    # Laid out right to left, while the phone number inside stays left to right.
    assert arabic.evaluate("e => getComputedStyle(e).direction") == "rtl"
    assert arabic.locator("a").evaluate("e => getComputedStyle(e).direction") == "ltr"
    assert page.locator("li.tagline[lang=es]").evaluate("e => getComputedStyle(e).direction") == (
        "ltr"
    )
