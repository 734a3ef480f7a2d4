"""The patient pages in a real browser: filled by their labels, by keyboard, without JavaScript,
on a 320-pixel screen, and checked by axe-core in every state."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Submission

from .browser import assert_accessible, assert_fits, screenshot

pytestmark = pytest.mark.browser

REFERENCE = re.compile(r"(APT|MSG)-[A-Z2-9]{8}")


def fill_appointment(page: Page) -> None:
    page.get_by_label("First name", exact=True).fill("Nguyễn")
    page.get_by_label("Last name", exact=True).fill("O'Hara")
    birth = page.get_by_role("group", name="Date of birth")
    birth.get_by_label("Month", exact=True).fill("3")
    birth.get_by_label("Day", exact=True).fill("27")
    birth.get_by_label("Year", exact=True).fill("1980")
    page.get_by_label("Phone number", exact=True).fill("617-253-1000")
    page.get_by_label("Email address", exact=True).fill("patient@example.com")
    page.get_by_role("group", name="How should we contact you?").get_by_label(
        "Email", exact=True
    ).check()
    page.get_by_label("Specialty", exact=True).select_option("Total hip replacement")
    page.get_by_label("Physician", exact=True).select_option("No preference")
    page.get_by_role("group", name="New or returning patient?").get_by_label(
        "Returning patient"
    ).check()
    days = page.get_by_role("group", name="Preferred days")
    days.get_by_label("Tuesday", exact=True).check()
    days.get_by_label("Friday", exact=True).check()
    page.get_by_role("group", name="Preferred time of day").get_by_label(
        "Afternoon", exact=True
    ).check()
    page.get_by_label("Insurance provider", exact=True).fill("Harvard Pilgrim")
    page.get_by_label("Referring physician", exact=True).fill("Dr. 山田")
    page.get_by_label("Reason for visit", exact=True).fill("Hip pain after running.")
    page.get_by_label(re.compile("this is a request, not a confirmed appointment")).check()


def submissions(app) -> list[Submission]:
    with app.app_context():
        return list(db.session.scalars(select(Submission)))


def test_patient_requests_an_appointment_by_the_labels(app, live_server, page: Page):
    page.goto(f"{live_server}/request-an-appointment")
    assert_accessible(page, "appointment form, empty")
    screenshot(page, "appointment-empty")
    fill_appointment(page)
    page.get_by_role("button", name="Send request").click()

    expect(page.get_by_role("heading", name="Request received")).to_be_visible()
    reference = REFERENCE.search(page.locator(".reference").inner_text()).group(0)
    [stored] = submissions(app)
    assert stored.reference == reference
    assert stored.first_name == "Nguyễn" and stored.contact_method == "email"
    assert stored.preferred_days == "Tuesday, Friday" and stored.patient_type == "returning"
    assert_accessible(page, "appointment confirmation")
    screenshot(page, "appointment-confirmation")


def test_patient_sends_a_message_by_the_labels(app, live_server, page: Page):
    page.goto(f"{live_server}/contact-us")
    assert_accessible(page, "contact form, empty")
    screenshot(page, "contact-empty")
    page.get_by_label("Name", exact=True).fill("Zoë Saldaña")
    page.get_by_label("Email address", exact=True).fill("zoe@example.com")
    page.get_by_label("Phone number", exact=True).fill("(781) 209-5645")
    page.get_by_label("Topic", exact=True).select_option("Medical records")
    page.get_by_label("Message", exact=True).fill("Please send my records to my new doctor.")
    page.get_by_role("button", name="Send message").click()

    expect(page.get_by_role("heading", name="Message sent")).to_be_visible()
    [stored] = submissions(app)
    assert stored.topic == "Medical records" and stored.phone == "+17812095645"
    assert stored.reference in page.content()
    assert_accessible(page, "contact confirmation")
    screenshot(page, "contact-confirmation")


@pytest.mark.parametrize(
    ("path", "button"),
    [("/request-an-appointment", "Send request"), ("/contact-us", "Send message")],
)
def test_errors_are_summarised_focused_and_linked_to_fields(live_server, page: Page, path, button):
    page.goto(f"{live_server}{path}")
    page.get_by_role("button", name=button).click()

    summary = page.get_by_role("alert")
    expect(summary.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(summary).to_be_focused()
    assert page.title().startswith("Error: ")
    assert_accessible(page, f"{path} with errors")
    screenshot(page, f"{path.strip('/')}-errors")

    first_link = summary.get_by_role("link").first
    target = first_link.get_attribute("href").lstrip("#")
    first_link.click()
    expect(page.locator(f"#{target}")).to_be_focused()
    expect(page.locator(f"#{target}")).to_have_attribute("aria-invalid", "true")


def test_date_of_birth_error_is_announced_with_the_fieldset(live_server, page: Page):
    page.goto(f"{live_server}/request-an-appointment")
    fill_appointment(page)
    page.get_by_role("group", name="Date of birth").get_by_label("Day", exact=True).fill("31")
    page.get_by_role("group", name="Date of birth").get_by_label("Month", exact=True).fill("2")
    page.get_by_role("button", name="Send request").click()
    group = page.get_by_role("group", name="Date of birth")
    expect(group).to_have_accessible_description(re.compile("must be a real date"))
    expect(group.get_by_label("Month", exact=True)).to_have_value("2")
    expect(page.get_by_label("First name", exact=True)).to_have_value("Nguyễn")
    assert_accessible(page, "date of birth error")


def test_contact_form_works_by_keyboard_alone(app, live_server, page: Page):
    page.goto(f"{live_server}/contact-us")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "name":
            break
    page.keyboard.type("Keyboard User")
    page.keyboard.press("Tab")
    page.keyboard.type("keys@example.com")
    page.keyboard.press("Tab")  # phone, optional
    page.keyboard.press("Tab")  # preferred language: left on the page's
    expect(page.get_by_label("Preferred language", exact=True)).to_be_focused()
    page.keyboard.press("Tab")  # topic
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    page.keyboard.type("Typed without a mouse.")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Send message")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Message sent")).to_be_visible()
    [stored] = submissions(app)
    assert stored.name == "Keyboard User" and stored.topic == "General question"
    assert stored.preferred_language == "en"


def test_forms_work_without_javascript(app, live_server, browser: Browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server}/request-an-appointment")
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    fill_appointment(page)
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_role("heading", name="Request received")).to_be_visible()
    assert len(submissions(app)) == 1
    context.close()


def test_pages_fit_a_320_pixel_screen(live_server, page: Page):
    for path in (
        "/",
        "/request-an-appointment",
        "/contact-us",
        "/notices/billing-disclosure",
        "/nope",
    ):
        page.goto(f"{live_server}{path}")
        assert_fits(page)
    page.goto(f"{live_server}/request-an-appointment")
    page.get_by_role("button", name="Send request").click()
    assert_fits(page)


def test_every_other_public_page_passes_axe(app, live_server, page: Page):
    pages = {
        "home": "/",
        "notice": "/notices/privacy-practices",
        "not found": "/no-such-page",
    }
    for state, path in pages.items():
        page.goto(f"{live_server}{path}")
        assert_accessible(page, state)
        screenshot(page, state.replace(" ", "-"))


def test_resend_and_unavailable_and_rate_limit_states_pass_axe(app, live_server, page: Page):
    # CSRF expired: the session cookie is gone when the form is sent.
    page.goto(f"{live_server}/contact-us")
    page.get_by_label("Name", exact=True).fill("Late Sender")
    page.context.clear_cookies()
    page.get_by_role("button", name="Send message").click()
    expect(page.get_by_role("heading", name="Your form was not sent yet")).to_be_visible()
    expect(page.get_by_label("Name", exact=True)).to_have_value("Late Sender")
    assert_accessible(page, "contact form, send again")
    screenshot(page, "contact-resend")

    app.config["FORM_POST_RATE_LIMIT"] = "1 per minute"
    page.goto(f"{live_server}/contact-us")
    for _ in range(2):
        page.get_by_role("button", name="Send message").click()
    expect(
        page.get_by_role("heading", name="Too many requests from your connection")
    ).to_be_visible()
    assert_accessible(page, "429 page")
    screenshot(page, "rate-limited")


def test_submission_count_is_unchanged_by_page_views(app, live_server, page: Page):
    page.goto(f"{live_server}/request-an-appointment")
    page.reload()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Submission)) == 0


PATIENT_PAGES = ("/", "/request-an-appointment", "/contact-us")


def test_emergency_notice_is_in_the_first_screen_of_a_phone(live_server, page: Page):
    page.set_viewport_size({"width": 375, "height": 667})
    for path in PATIENT_PAGES:
        page.goto(f"{live_server}{path}")
        notice = page.get_by_text("In an emergency, call 911.", exact=True).first
        box = notice.bounding_box()
        assert box is not None, path
        assert box["y"] + box["height"] <= 667, f"{path}: the 911 notice ends at {box}"


def test_phone_numbers_never_wrap_inside_the_number(live_server, page: Page):
    page.set_viewport_size({"width": 320, "height": 800})
    for path in (*PATIENT_PAGES, "/notices/billing-disclosure"):
        page.goto(f"{live_server}{path}")
        phones = page.locator('a[href^="tel:"]')
        assert phones.count() >= 2, path
        for index in range(phones.count()):
            lines = phones.nth(index).evaluate("a => a.getClientRects().length")
            assert lines == 1, f"{path}: phone link {index} is broken over {lines} lines"


def test_radios_and_checkboxes_are_at_least_40_pixels(live_server, page: Page):
    page.goto(f"{live_server}/request-an-appointment")
    controls = page.locator('input[type="radio"], input[type="checkbox"]')
    assert controls.count() > 10
    for index in range(controls.count()):
        box = controls.nth(index).bounding_box()
        assert box and box["width"] >= 40 and box["height"] >= 40, box


TARGET_SIZE = """(scope) => [...document.querySelectorAll(scope + ' a, ' + scope + ' button')]
    .filter(e => e.offsetParent !== null)
    .map(e => { const r = e.getBoundingClientRect();
                return {text: e.textContent.trim(), x: r.x, y: r.y, w: r.width, h: r.height}; })"""


@pytest.mark.parametrize("width", [320, 1280])
def test_header_and_footer_targets_are_24_pixels_and_spaced(live_server, page: Page, width):
    """WCAG 2.2 2.5.8: each target at least 24 x 24 px, and no two targets overlap."""
    page.set_viewport_size({"width": width, "height": 800})
    for path in PATIENT_PAGES:
        page.goto(f"{live_server}{path}")
        for scope in ("header", "footer"):
            targets = page.evaluate(TARGET_SIZE, scope)
            assert targets, f"{path} {scope}"
            for t in targets:
                assert t["h"] >= 24 and t["w"] >= 24, f"{path} {scope} at {width}px: {t}"
            for i, a in enumerate(targets):
                for b in targets[i + 1 :]:
                    apart = (
                        a["x"] + a["w"] <= b["x"]
                        or b["x"] + b["w"] <= a["x"]
                        or a["y"] + a["h"] <= b["y"]
                        or b["y"] + b["h"] <= a["y"]
                    )
                    assert apart, f"{path} {scope} at {width}px: {a} overlaps {b}"


BRAND_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="260" height="48" viewBox="0 0 260 48">'
    '<rect width="48" height="48" rx="10" fill="#7a1f5c"/>'
    '<path d="M14 24h20M24 14v20" stroke="#fff" stroke-width="6"/>'
    '<text x="60" y="32" font-family="sans-serif" font-size="22" font-weight="700" '
    'fill="#7a1f5c">Lakeside Clinic</text></svg>'
)
BRANDED_PROFILE = """
name = "Lakeside Clinic"
logo = "logo.svg"
logo_alt = "Lakeside Clinic"
accent_color = "#7a1f5c"
physicians = ["Dr. Ada Byron", "Dr. Grace Hopper"]

[hours]
mon = ["07:00-16:00"]
tue = ["07:00-16:00"]
wed = ["07:00-16:00"]
thu = ["07:00-16:00"]
fri = ["07:00-12:00", "13:00-16:00"]
holidays = [2099-12-25]
"""
MARKDOWN_NOTICE = """# How we use and share your health information

This notice describes how medical information about you may be used and disclosed and how you
can get access to this information. **Please review it carefully.**

## Your rights

- Get an electronic or paper copy of your medical record.
- Ask us to correct your medical record.
- Request confidential communications.

## Questions

Call the front desk, or read the [HHS summary](https://www.hhs.gov/hipaa/for-individuals/).
"""


@pytest.fixture(params=["default", "branded"])
def profile(request: pytest.FixtureRequest, tmp_path) -> str:
    """The default profile, or one with a logo, a colour, hours and two physicians; both with a
    Markdown Notice of Privacy Practices. Ask for it before `app`."""
    instance = tmp_path / "instance"
    (instance / "notices").mkdir(parents=True)
    (instance / "notices" / "privacy-practices.md").write_text(MARKDOWN_NOTICE)
    if request.param == "branded":
        (instance / "logo.svg").write_text(BRAND_SVG)
        (instance / "practice.toml").write_text(BRANDED_PROFILE)
    return request.param


def test_every_page_and_state_at_three_widths_passes_axe_and_the_html_checker(
    profile, app, live_server, page: Page
):
    """Home, both forms empty and with errors, a Markdown notice and the staff inbox: axe-core
    and the Nu HTML checker find nothing, and screenshots at 320, 375 and 1280 px are kept."""
    from .admin_helpers import ADMIN, PASSWORD, add_submission, make_user

    widths = (320, 375, 1280)
    states = [
        ("home", "/", None),
        ("appointment", "/request-an-appointment", None),
        ("appointment-errors", "/request-an-appointment", "Send request"),
        ("contact", "/contact-us", None),
        ("contact-errors", "/contact-us", "Send message"),
        ("notice-markdown", "/notices/privacy-practices", None),
        ("language-assistance", "/language-assistance", None),
    ]
    for name, path, button in states:
        page.goto(f"{live_server}{path}")
        if button:
            page.get_by_role("button", name=button).click()
            expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
        assert_accessible(page, f"{profile}: {name}")
        screenshot(page, f"{profile}-{name}", widths)
        assert_fits(page)
    make_user(app, ADMIN, role="admin")
    add_submission(app, preferred_language="ar", interpreter="yes")
    add_submission(app, form="contact", name="Ana Lima", topic="Billing")
    page.goto(f"{live_server}/admin/login")
    page.get_by_label("Email address", exact=True).fill(ADMIN)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1, name="Inbox")).to_be_visible()
    assert_accessible(page, f"{profile}: staff inbox")
    screenshot(page, f"{profile}-staff-inbox", widths)
