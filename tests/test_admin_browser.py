"""The staff area in a real browser: the front desk's whole task by the labels, each page and
state checked by axe-core, sign-in by keyboard alone, and screenshots at 1280 and 375 px."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from portal import outbox, webhooks
from portal.extensions import db
from portal.outbox.webhook import WEBHOOK

from .admin_helpers import ADMIN, PASSWORD, STAFF, add_submission, audit_events, make_user
from .browser import assert_accessible, assert_fits, screenshot

pytestmark = pytest.mark.browser


def sign_in_by_labels(page: Page, base: str, email: str = ADMIN) -> None:
    page.goto(f"{base}/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login\?next="))
    page.get_by_label("Email address", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1, name="Inbox")).to_be_visible()


@pytest.fixture
def week(app) -> dict[str, str]:
    """A week of requests around the spring clock change, and one message."""
    return {
        "wanted": add_submission(
            app,
            first_name='=HYPERLINK("http://evil.example")',
            last_name="Nguyễn",
            phone="+16172531000",
            created_at=datetime(2026, 3, 8, 15, 0, tzinfo=UTC),
        ),
        "same week": add_submission(
            app,
            first_name="Zoë",
            last_name="Müller",
            phone="+17815550123",
            created_at=datetime(2026, 3, 3, 14, 0, tzinfo=UTC),
        ),
        "week before": add_submission(
            app, phone="+17815550124", created_at=datetime(2026, 2, 24, 14, 0, tzinfo=UTC)
        ),
        "message": add_submission(
            app, form="contact", phone=None, created_at=datetime(2026, 3, 4, 14, 0, tzinfo=UTC)
        ),
    }


def test_front_desk_task_from_sign_in_to_export_passes_axe(app, live_server, page: Page, week):
    make_user(app, ADMIN, "admin")
    page.goto(f"{live_server}/admin/")
    assert_accessible(page, "sign-in page")
    screenshot(page, "admin-login")
    sign_in_by_labels(page, live_server)
    assert_accessible(page, "inbox")
    screenshot(page, "admin-inbox")
    expect(page.get_by_text("4 New")).to_be_visible()

    # Find the request by its phone number, as a patient would read it out.
    page.get_by_label("Search", exact=True).fill("(617) 253-1000")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("1 submission matches these filters")).to_be_visible()
    assert_accessible(page, "inbox, searched")
    page.get_by_role("link", name=week["wanted"]).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(week["wanted"])
    assert_accessible(page, "submission page")
    screenshot(page, "admin-submission")

    # Mark it Contacted, then add a note.
    page.get_by_role("group", name="Status").get_by_label("Contacted", exact=True).check()
    page.get_by_role("button", name="Change status").click()
    expect(page.get_by_text("Status changed to Contacted.")).to_be_visible()
    assert_accessible(page, "submission page, status changed")
    page.get_by_label("Add a note", exact=True).fill("Called back, booked for Thursday.")
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_text("Called back, booked for Thursday.")).to_be_visible()
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_role("link", name="Enter a note")).to_be_visible()
    assert_accessible(page, "submission page, empty note refused")

    # Export the week's appointment requests (March 2 to 8, across the clock change) to CSV.
    page.get_by_role("link", name="Export").click()
    expect(page.get_by_role("heading", level=1, name="Export submissions")).to_be_visible()
    assert_accessible(page, "export page")
    screenshot(page, "admin-export")
    page.get_by_label("Form", exact=True).select_option(label="Appointment requests")
    page.get_by_label("Received from", exact=True).fill("2026-03-02")
    page.get_by_label("Received until", exact=True).fill("2026-03-08")
    page.get_by_role("group", name="Format").get_by_label("CSV", exact=True).check()
    with page.expect_download() as info:
        page.get_by_role("button", name="Download").click()
    download = info.value
    assert re.fullmatch(
        r"submissions-appointment-\d{4}-\d{2}-\d{2}\.csv", download.suggested_filename
    )
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert "Nguyễn" in text and "Zoë" in text and "Müller" in text
    assert '"\'=HYPERLINK(""http://evil.example"")"' in text
    assert week["week before"] not in text and week["message"] not in text

    # Everything above is in the audit trail.
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", level=1, name="Audit log")).to_be_visible()
    assert_accessible(page, "audit log")
    screenshot(page, "admin-audit")
    for action in (
        "Signed in",
        "Viewed the inbox",
        "Viewed a submission",
        "Changed a status",
        "Added a note",
        "Exported submissions",
    ):
        expect(page.locator("td", has_text=re.compile(f"^{action}$")).first).to_be_visible()
    actions = {e.action for e in audit_events(app)}
    assert {"login.success", "submission.status", "note.added", "export"} <= actions

    page.get_by_role("link", name="Accounts").click()
    expect(page.get_by_role("heading", level=1, name="Accounts")).to_be_visible()
    assert_accessible(page, "accounts")
    page.get_by_role("button", name="Add account").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    assert_accessible(page, "accounts, errors")
    page.get_by_role("link", name="Your account").click()
    expect(page.get_by_role("heading", level=1, name="Your account")).to_be_visible()
    assert_accessible(page, "your account")
    screenshot(page, "admin-account")
    page.get_by_role("link", name="Set up two-factor sign-in").click()
    expect(page.get_by_role("heading", level=1, name="Set up two-factor sign-in")).to_be_visible()
    assert_accessible(page, "two-factor set-up")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()
    assert_accessible(page, "signed out")


def test_error_and_throttle_states_pass_axe(app, live_server, page: Page, week):
    make_user(app, STAFF, "staff")
    page.goto(f"{live_server}/admin/login")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    assert_accessible(page, "sign-in, empty")
    for _ in range(5):
        page.get_by_label("Email address", exact=True).fill(STAFF)
        page.get_by_label("Password", exact=True).fill("not the password!")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("The email address or password is not right").first).to_be_visible()
    assert_accessible(page, "sign-in, wrong password")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Try again later")).to_be_visible()
    assert_accessible(page, "sign-in, throttled")
    screenshot(page, "admin-login-throttled")


def test_staff_pages_by_keyboard_and_at_phone_width(app, live_server, page: Page, week):
    make_user(app, STAFF, "staff")
    page.goto(f"{live_server}/admin/login")
    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Email address", exact=True)).to_be_focused()
    page.keyboard.type(STAFF)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Inbox")).to_be_visible()
    # A staff user sees no admin links, and the inbox's filter form can be used by keyboard.
    expect(page.get_by_role("link", name="Export")).to_have_count(0)
    page.get_by_label("Search", exact=True).focus()
    page.keyboard.type("Zoë")
    page.keyboard.press("Enter")
    expect(page.get_by_text("1 submission matches these filters")).to_be_visible()
    page.goto(f"{live_server}/admin/?since=2026-02-30")
    assert_accessible(page, "inbox, bad date")
    for path in ("/admin/", f"/admin/submissions/{week['wanted']}", "/admin/account"):
        page.goto(f"{live_server}{path}")
        assert_fits(page, 375)
        assert_fits(page, 320)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_webhook_trouble_banner_names_webhooks_not_email_and_passes_axe(
    app, live_server, page: Page
):
    make_user(app, ADMIN, "admin")
    reference = add_submission(app)
    with app.app_context():
        endpoint, _ = webhooks.create_endpoint(
            db.session, "https://ehr.practice.example/hooks", ["submission.created"], False
        )
        db.session.flush()
        for status, attempts, answer in (
            ("retrying", 5, "HTTP503: 503 Service Unavailable"),
            ("failed", 3, "HTTP401: 401 Unauthorized"),
        ):
            message = outbox.queue(
                db.session,
                recipient=endpoint.url,
                subject="submission.created",
                template="submission.created",
                context={},
                reference=reference,
                channel=WEBHOOK,
                webhook_endpoint_id=endpoint.id,
            )
            message.status, message.attempts, message.last_error = status, attempts, answer
        db.session.commit()

    sign_in_by_labels(page, live_server)
    banner = page.get_by_role(
        "region", name="Webhook events are not reaching the practice's systems"
    )
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(
        "1 webhook event to the practice's systems could not be delivered."
    )
    expect(banner).to_contain_text(
        "1 webhook event failed 5 or more attempts in a row and is still being retried."
    )
    expect(banner).to_contain_text("The last answer from the practice's systems: 401 Unauthorized.")
    expect(banner).not_to_contain_text("email")
    assert_accessible(page, "inbox with the webhook trouble banner")
    screenshot(page, "admin-inbox-webhook-trouble")
    banner.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", level=1, name="Webhooks")).to_be_visible()


def test_delivery_trouble_banner_and_outbox_page_pass_axe(app, live_server, page: Page):
    make_user(app, ADMIN, "admin")
    make_user(app, STAFF, "staff")
    reference = add_submission(app)
    with app.app_context():
        for template, recipient in (
            ("email/notification", "front-desk@practice.example"),
            ("email/acknowledgement", "patient@example.com"),
        ):
            message = outbox.queue(
                db.session,
                recipient=recipient,
                subject=f"About {reference}",
                template=template,
                context={},
                reference=reference,
            )
            message.status, message.attempts = "failed", 1
            message.last_error = "SMTPRecipientsRefused: 550 5.1.1 mailbox unavailable"
        outbox.queue(
            db.session,
            recipient="patient@example.com",
            subject="waiting",
            template="email/acknowledgement",
            context={},
            reference=reference,
        )
        db.session.commit()

    sign_in_by_labels(page, live_server)
    trouble_banner = page.get_by_role("region", name="Email is not reaching the front desk")
    expect(trouble_banner).to_be_visible()
    expect(trouble_banner).to_contain_text(
        "1 notification to the front desk could not be delivered."
    )
    expect(trouble_banner).to_contain_text("The mail server said: 550 5.1.1 mailbox unavailable")
    assert_accessible(page, "inbox with the delivery trouble banner")
    screenshot(page, "admin-inbox-trouble")

    trouble_banner.get_by_role("link", name="See the outbox to retry or resolve").click()
    expect(page.get_by_role("heading", level=1, name="Outbox")).to_be_visible()
    assert_accessible(page, "outbox page")
    # Per message: Retry, and Mark as handled for the failed ones.
    expect(page.get_by_role("button", name=re.compile(r"^Retry the "))).to_have_count(3)
    expect(page.get_by_role("button", name=re.compile(r"^Mark as handled"))).to_have_count(2)
    screenshot(page, "admin-outbox")
    assert_fits(page, 320)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_label("Email address", exact=True).fill("not an address")
    page.get_by_role("button", name="Send a test email").click()
    expect(page.get_by_role("link", name="Enter an email address")).to_be_visible()
    assert_accessible(page, "outbox page, test address refused")
    page.get_by_label("Email address", exact=True).fill("office@practice.example")
    page.get_by_role("button", name="Send a test email").click()
    expect(page.get_by_text("Queued: not sent yet")).to_be_visible()
    assert_accessible(page, "outbox page, test email queued")

    page.get_by_role("button", name="Retry all failed").click()
    expect(page.get_by_role("heading", level=1, name="Retry all failed emails?")).to_be_visible()
    assert_accessible(page, "retry all failed, confirmation")
    page.get_by_role("button", name="Yes, retry all failed").click()
    expect(page.get_by_text("2 failed emails will be sent again in a moment.")).to_be_visible()
    expect(trouble_banner).to_have_count(0)
    assert_accessible(page, "outbox page, failed emails retried")
    assert [e.detail["messages"] for e in audit_events(app, "outbox.retry_failed")] == [2]

    # Staff read the same page: kinds and answers, no addresses, no buttons.
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{live_server}/admin/")
    page.get_by_label("Email address", exact=True).fill(STAFF)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Outbox").click()
    expect(page.get_by_role("heading", level=1, name="Outbox")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"^Retry"))).to_have_count(0)
    expect(page.get_by_text("patient@example.com")).to_have_count(0)
    assert_accessible(page, "outbox page, staff")


def test_setup_link_flow_with_required_two_factor_passes_axe(app, live_server, page: Page):
    """REQUIRE_2FA: the password alone leads to "ask an admin"; the admin's one-time link leads
    through the password and the new authenticator's code to the inbox; the link then is spent."""
    import pyotp

    app.config["REQUIRE_2FA"] = True
    admin_secret = pyotp.random_base32()
    make_user(app, ADMIN, "admin", totp_secret=admin_secret)
    make_user(app, STAFF, "staff")

    page.goto(f"{live_server}/admin/login")
    page.get_by_label("Email address", exact=True).fill(STAFF)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1, name="Two-factor sign-in needed")).to_be_visible()
    expect(page.locator(".totp-key")).to_have_count(0)
    assert_accessible(page, "two-factor needed")

    # The admin creates the link on the accounts page.
    page.goto(f"{live_server}/admin/login")
    page.get_by_label("Email address", exact=True).fill(ADMIN)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Authentication code", exact=True).fill(pyotp.TOTP(admin_secret).now())
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1, name="Inbox")).to_be_visible()
    page.get_by_role("link", name="Accounts").click()
    page.get_by_role("button", name=f"Create set-up link for {STAFF}").click()
    expect(page.get_by_role("heading", name=f"Set-up link for {STAFF}")).to_be_visible()
    assert_accessible(page, "accounts, set-up link created")
    screenshot(page, "admin-setup-link-created")
    link = page.locator("code.setup-link").inner_text().strip()
    page.get_by_role("link", name="Confirm your password").click()
    expect(page.get_by_role("heading", level=1, name="Confirm it is you")).to_be_visible()
    assert_accessible(page, "step-up")
    page.get_by_role("button", name="Sign out").click()

    # The member of staff opens it: password first (a wrong one is refused), then the code.
    page.goto(link.replace("http://127.0.0.1:5000", live_server))
    expect(page.get_by_role("heading", level=1, name="Set up two-factor sign-in")).to_be_visible()
    expect(page.locator(".totp-key")).to_have_count(0)
    assert_accessible(page, "set-up link, password")
    page.get_by_label("Password", exact=True).fill("not the password!")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("The password is not right").first).to_be_visible()
    assert_accessible(page, "set-up link, wrong password")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    key = page.locator(".totp-key").inner_text().replace(" ", "")
    assert_accessible(page, "set-up link, code")
    screenshot(page, "admin-setup-link-code")
    page.get_by_label("Authentication code", exact=True).fill("000000")
    page.get_by_role("button", name="Turn on and sign in").click()
    expect(page.get_by_text("The code is not right").first).to_be_visible()
    assert_accessible(page, "set-up link, wrong code")
    page.get_by_label("Authentication code", exact=True).fill(pyotp.TOTP(key).now())
    page.get_by_role("button", name="Turn on and sign in").click()
    expect(page.get_by_role("heading", level=1, name="Inbox")).to_be_visible()

    # Used once: the link now says so.
    page.goto(link.replace("http://127.0.0.1:5000", live_server))
    expect(page.get_by_text("This set-up link does not work")).to_be_visible()
    assert_accessible(page, "set-up link, spent")


def test_webhooks_page_passes_axe_from_creation_to_deliveries(settings, app, live_server, page):
    app.config.update(WEBHOOK_ALLOW_PRIVATE=True)
    make_user(app, ADMIN, "admin")
    sign_in_by_labels(page, live_server)
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", level=1, name="Webhooks")).to_be_visible()
    assert_accessible(page, "webhooks page, no endpoint")
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_text("Select at least one event").first).to_be_visible()
    assert_accessible(page, "webhooks page, errors")
    # Port 9 (discard) on 127.0.0.1: nothing listens, so the delivery has no answer.
    page.get_by_label("URL", exact=True).fill("https://127.0.0.1:9/hooks")
    page.get_by_label(re.compile(r"^submission\.created")).check()
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.get_by_label("Signing secret")
    expect(secret).to_have_value(re.compile(r"^whsec_[A-Za-z0-9+/]{43}=$"))
    assert_accessible(page, "webhooks page, secret shown once")
    page.get_by_role("button", name="Send test event (endpoint 1)").click()
    expect(page.get_by_text("A test event is queued for webhook endpoint 1.")).to_be_visible()
    with app.app_context():
        outbox.Worker().run(once=True)
    page.reload()
    deliveries = page.get_by_role("table", name="Last deliveries to endpoint 1")
    expect(deliveries).to_contain_text("webhook.test")
    expect(deliveries).to_contain_text("No answer")
    assert_accessible(page, "webhooks page with a delivery")
    screenshot(page, "admin-webhooks-delivery")
    page.get_by_role("button", name="Rotate (endpoint 1)").click()
    expect(page.get_by_label("Signing secret")).to_be_visible()
    assert_accessible(page, "webhooks page, rotated")
    page.get_by_role("button", name="Disable (endpoint 1)").click()
    expect(page.get_by_role("button", name="Enable (endpoint 1)")).to_be_visible()
    assert_accessible(page, "webhooks page, disabled")
    assert [e.action for e in audit_events(app) if e.action.startswith("webhook.")] == [
        "webhook.created",
        "webhook.test",
        "webhook.rotated",
        "webhook.disabled",
    ]
