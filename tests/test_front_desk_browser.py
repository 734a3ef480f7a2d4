"""The front desk's day in a real browser: assign a request with "Assign to me", find it with
"Assigned to: Me", move it to Contacted and read its response time; an overdue request says so
in words; every state checked by axe-core and the Nu checker, at 1280, 375 and 320 px."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from .admin_helpers import STAFF, add_submission, make_user, stored
from .browser import assert_accessible, assert_fits, screenshot
from .test_admin_browser import sign_in_by_labels

pytestmark = pytest.mark.browser


def test_front_desk_assigns_to_itself_answers_and_sees_overdue(app, live_server, page: Page):
    make_user(app, STAFF, "staff")
    now = datetime.now(UTC)
    overdue = add_submission(app, first_name="Zoë", created_at=now - timedelta(days=2))
    fresh = add_submission(app, first_name="Amara", created_at=now - timedelta(minutes=20))
    sign_in_by_labels(page, live_server, STAFF)

    # The request from two days ago is Overdue, in words; the fresh one is only waiting.
    overdue_row = page.get_by_role("row").filter(has_text=overdue)
    expect(overdue_row).to_contain_text("Waiting 2 days")
    expect(overdue_row.get_by_text("Overdue", exact=True)).to_be_visible()
    fresh_row = page.get_by_role("row").filter(has_text=fresh)
    expect(fresh_row).to_contain_text(re.compile(r"Waiting (19|20|21) min"))
    expect(fresh_row.get_by_text("Overdue", exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name="1 Overdue")).to_be_visible()
    assert_accessible(page, "inbox with an overdue request")
    screenshot(page, "front-desk-inbox")
    assert_fits(page, 375)
    assert_fits(page, 320)
    page.set_viewport_size({"width": 1280, "height": 900})

    # Assign the fresh request to myself.
    page.get_by_role("link", name=fresh).click()
    expect(page.get_by_label("Assigned to", exact=True)).to_have_value("")
    assert_accessible(page, "submission page, unassigned and waiting")
    page.get_by_role("button", name="Assign to me").click()
    expect(page.get_by_text("Assigned to you.")).to_be_visible()
    expect(page.get_by_role("button", name="Assign to me")).to_have_count(0)
    assert_accessible(page, "submission page, assigned to me")

    # Find it again with the filter "Assigned to: Me".
    page.get_by_role("link", name="Back to the inbox").click()
    page.get_by_label("Assigned to", exact=True).select_option(label="Me")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("1 submission matches these filters")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=fresh)).to_contain_text(STAFF)
    expect(page.get_by_role("link", name=overdue)).to_have_count(0)
    assert_accessible(page, "inbox, assigned to me")

    # Move it to Contacted: its response time is recorded and shown.
    page.get_by_role("link", name=fresh).click()
    page.get_by_role("group", name="Status").get_by_label("Contacted", exact=True).check()
    page.get_by_role("button", name="Change status").click()
    expect(page.get_by_text("Status changed to Contacted.")).to_be_visible()
    response = page.locator("dt", has_text=re.compile("^Response time$")).locator("+ dd")
    expect(response).to_have_text(re.compile(r"^(19|20|21) min$"))
    first_by = page.locator("dt", has_text=re.compile("^First response by$")).locator("+ dd")
    expect(first_by).to_have_text(STAFF)
    assert stored(app, fresh).response_seconds is not None
    assert_accessible(page, "submission page, answered")
    screenshot(page, "front-desk-submission")
    assert_fits(page, 320)
    page.set_viewport_size({"width": 1280, "height": 900})

    # The overdue ones, longest waiting first, by their link at the top of the inbox.
    page.get_by_role("link", name="Back to the inbox").click()
    page.get_by_role("link", name="1 Overdue").click()
    expect(page.get_by_label("Order", exact=True)).to_have_value("waiting")
    summary = "1 submission matches these filters, longest waiting first."
    expect(page.get_by_text(summary)).to_be_visible()
    expect(page.get_by_role("link", name=overdue)).to_be_visible()
    assert_accessible(page, "inbox, overdue, longest waiting first")
    screenshot(page, "front-desk-inbox-overdue")
