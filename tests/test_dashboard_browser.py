"""The dashboard in a real browser: the week's numbers in the chart and its table, axe-core and
the Nu checker, at phone width, and screenshots at 1280 and 375 px."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from .admin_helpers import STAFF, add_submission, make_user
from .browser import assert_accessible, assert_fits, screenshot
from .test_admin_browser import sign_in_by_labels

pytestmark = pytest.mark.browser


def test_the_front_desk_sees_this_weeks_numbers_in_the_chart_and_the_table(
    app, live_server, page: Page
) -> None:
    make_user(app, STAFF, "staff")
    now = datetime.now(UTC)
    for hours in (1, 2, 3):
        add_submission(app, created_at=now - timedelta(minutes=hours))
    add_submission(app, "contact", created_at=now - timedelta(minutes=5))
    answered = now - timedelta(minutes=10)
    add_submission(
        app,
        created_at=answered,
        status="contacted",
        first_response_at=now,
        response_seconds=1800,
        specialty="Total hip replacement",
    )
    sign_in_by_labels(page, live_server, STAFF)
    page.get_by_role("navigation", name="Staff").get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1, name="Dashboard")).to_be_visible()
    weekly = page.get_by_role("figure", name="Requests per week, by form")
    # The last row is this week: 4 appointment requests and 1 message.
    row = weekly.get_by_role("row").last
    expect(row.get_by_role("cell")).to_have_text(["4", "1", "5"])
    week = row.get_by_role("rowheader").inner_text()
    bars = weekly.locator("svg rect title")
    expect(bars.filter(has_text=f"{week}: Appointment requests 4")).to_have_count(1)
    expect(bars.filter(has_text=f"{week}: Messages 1")).to_have_count(1)
    expect(page.get_by_role("img", name="Requests per week, by form")).to_be_visible()
    response = page.get_by_role("figure", name="Response time per week")
    expect(response.get_by_role("row").last.get_by_role("cell")).to_have_text(
        ["1", "0.5 h", "0.5 h"]
    )
    assert_accessible(page, "dashboard")
    screenshot(page, "dashboard")
    assert_fits(page, 375)
    assert_fits(page, 320)
    page.set_viewport_size({"width": 1280, "height": 900})
