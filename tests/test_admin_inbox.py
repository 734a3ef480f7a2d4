"""The inbox and a submission's page: order, filters, search, the status workflow, notes, and
patient input shown escaped everywhere."""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Note, Submission

from .admin_helpers import (
    STAFF,
    XSS,
    add_submission,
    audit_events,
    isolation_of,
    make_user,
    post,
    sign_in,
    stored,
)
from .helpers import VALID_CONTACT, form_tokens


@pytest.fixture
def staff(app, client):
    make_user(app, STAFF, "staff")
    sign_in(client, STAFF)
    return client


def references_in(page: str) -> list[str]:
    return re.findall(r'class="reference-link" href="/admin/submissions/([A-Z0-9-]+)"', page)


def test_inbox_is_newest_first_with_the_new_count(app, staff):
    now = datetime.now(UTC)
    old = add_submission(app, created_at=now - timedelta(days=2), status="contacted")
    newer = add_submission(app, form="contact", created_at=now - timedelta(days=1))
    newest = add_submission(app, created_at=now)
    page = staff.get("/admin/").get_data(as_text=True)
    assert references_in(page) == [newest, newer, old]
    assert re.search(r'<strong class="new-count__number">2</strong> New', page)


def test_inbox_row_has_every_column(app, staff):
    reference = add_submission(
        app, created_at=datetime(2026, 7, 4, 16, 5, tzinfo=UTC), phone="+16172531000"
    )
    page = staff.get("/admin/").get_data(as_text=True)
    row = page[page.index(reference) :]
    assert "Jul 4, 2026, 12:05 PM" in row  # Boston time, not UTC
    assert 'href="tel:+16172531000">(617) 253-1000</a>' in row
    assert "Appointment request" in row and "Siobhán O&#39;Hara" in row
    assert "Total knee replacement" in row and 'class="tag tag--new">New<' in row
    for header in ("Reference", "Received", "Form", "Name", "Phone", "Specialty or topic"):
        assert f'<th scope="col">{header}</th>' in page
    assert '<th scope="col">Status</th>' in page and '<th scope="col">Notification</th>' in page


@pytest.mark.parametrize(
    "query",
    ["(617) 253-1000", "617-253-1000", "6172531000", "+1 617 253 1000", "253-1000"],
)
def test_search_finds_a_request_by_phone_however_typed(app, staff, query):
    wanted = add_submission(app, phone="+16172531000")
    add_submission(app, phone="+17815550123")
    page = staff.get("/admin/", query_string={"q": query}).get_data(as_text=True)
    assert references_in(page) == [wanted]


def test_search_by_reference_name_and_email(app, staff):
    wanted = add_submission(app, first_name="Nguyễn", last_name="Văn An", email="an@example.com")
    add_submission(app)
    for query in (wanted, wanted.lower(), "nguyễn", "Nguyễn Văn", "an@example.com"):
        page = staff.get("/admin/", query_string={"q": query}).get_data(as_text=True)
        assert references_in(page) == [wanted], query


def test_search_treats_wildcards_as_text(app, staff):
    add_submission(app)
    page = staff.get("/admin/", query_string={"q": "%"}).get_data(as_text=True)
    assert references_in(page) == []


def test_filters_by_form_status_and_topic(app, staff):
    appointment = add_submission(app)
    contacted = add_submission(app, status="contacted", specialty="Total hip replacement")
    billing = add_submission(app, form="contact", topic="Billing")
    cases = [
        ({"form": "contact"}, [billing]),
        ({"status": "contacted"}, [contacted]),
        ({"topic": "Total hip replacement"}, [contacted]),
        ({"topic": "Billing"}, [billing]),
        ({"form": "appointment", "status": "new"}, [appointment]),
    ]
    for args, expected in cases:
        page = staff.get("/admin/", query_string=args).get_data(as_text=True)
        assert references_in(page) == expected, args


def test_date_range_is_practice_local_and_inclusive(app, staff):
    # 11:30 PM in Boston on March 7 is already March 8 in UTC.
    late_on_the_7th = add_submission(app, created_at=datetime(2026, 3, 8, 4, 30, tzinfo=UTC))
    on_the_8th = add_submission(app, created_at=datetime(2026, 3, 8, 15, 0, tzinfo=UTC))
    page = staff.get("/admin/", query_string={"since": "2026-03-07", "until": "2026-03-07"})
    assert references_in(page.get_data(as_text=True)) == [late_on_the_7th]
    page = staff.get("/admin/", query_string={"since": "2026-03-08"})
    assert references_in(page.get_data(as_text=True)) == [on_the_8th]


def test_bad_filter_values_are_explained_not_fatal(app, staff):
    add_submission(app)
    response = staff.get("/admin/", query_string={"since": "2026-13-45", "status": "bogus"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "There is a problem" in page and 'aria-invalid="true"' in page
    assert len(references_in(page)) == 1


def test_inbox_pages_25_at_a_time(app, staff):
    start = datetime.now(UTC)
    with app.app_context():
        for n in range(30):
            db.session.add(
                Submission(
                    reference=f"APT-PAGE{n:04d}".replace("0", "A").replace("1", "B"),
                    form="appointment",
                    first_name="A",
                    last_name="B",
                    message="m",
                    created_at=start - timedelta(minutes=n),
                )
            )
        db.session.commit()
    first = staff.get("/admin/").get_data(as_text=True)
    assert len(references_in(first)) == 25 and "Page 1 of 2" in first
    assert 'href="/admin/?page=2" rel="next"' in first
    second = staff.get("/admin/?page=2").get_data(as_text=True)
    assert len(references_in(second)) == 5
    filtered = staff.get("/admin/?status=new").get_data(as_text=True)
    assert 'href="/admin/?page=2&amp;status=new"' in filtered


def add_many(app, count: int) -> None:
    """Store count appointment requests, a minute apart, newest first."""
    start = datetime.now(UTC)
    with app.app_context():
        for n in range(count):
            db.session.add(
                Submission(
                    reference=f"APT-MANY{n:04d}".replace("0", "A").replace("1", "B"),
                    form="appointment",
                    first_name="A",
                    last_name="B",
                    message="m",
                    created_at=start - timedelta(minutes=n),
                )
            )
        db.session.commit()


def test_page_links_carry_only_the_validated_filters(app, staff):
    add_many(app, 30)
    steering = {
        "status": "new",
        "since": "2026-13-45",  # explained and left out, so not carried either
        "_external": "1",
        "_scheme": "javascript",
        "_anchor": "x",
        "_method": "POST",
        "evil": "1",
    }
    response = staff.get("/admin/", query_string=steering)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'href="/admin/?page=2&amp;status=new" rel="next"' in page
    pagination = page.split('<nav class="pagination"', 1)[1]
    for steer in ("_external", "_scheme", "javascript", "_anchor", "#x", "_method", "evil"):
        assert steer not in pagination, steer
    assert "13-45" not in pagination
    assert "http://" not in pagination
    searched = staff.get("/admin/", query_string={"q": "A B", "_method": "POST"})
    assert searched.status_code == 200
    assert 'href="/admin/?page=2&amp;q=A+B" rel="next"' in searched.get_data(as_text=True)


@pytest.mark.parametrize(
    "query",
    [
        {"until": "9999-12-31"},
        {"since": "9999-12-31"},
        {"since": "1899-12-31"},
        {"until": "2101-01-01"},
        {"since": "0001-01-01", "until": "0001-01-02"},
        {"page": str(10**20)},
        {"page": "0"},
        {"page": "-1"},
        {"page": "2abc"},
        {"q": "Siobh\x00n"},
        {"q": "\x00"},
        {"q": "a\x1b[31mb"},
        {"q": "a\x85b"},
        {"status": "new\x00"},
        {"topic": "\x00"},
        {"form": "contact\x07"},
    ],
)
def test_far_dates_control_characters_and_impossible_pages_get_400_not_5xx(
    app, staff, caplog, query
):
    add_submission(app)
    with caplog.at_level(logging.WARNING):
        response = staff.get("/admin/", query_string=query)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert references_in(page) == [] and "No submissions match these filters." in page
    # Nothing failed: no "database failed" line, no error of any kind.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_far_dates_and_control_characters_are_explained_on_the_400_page(app, staff):
    page = staff.get("/admin/", query_string={"until": "9999-12-31"}).get_data(as_text=True)
    assert "Received until must be a date between 1900 and 2100" in page
    page = staff.get("/admin/", query_string={"q": "a\x00b"}).get_data(as_text=True)
    assert "Search must be on one line, without special characters" in page


def test_a_page_past_the_last_is_empty_not_an_error(app, staff):
    add_submission(app)
    response = staff.get("/admin/", query_string={"page": "7"})
    assert response.status_code == 200
    assert references_in(response.get_data(as_text=True)) == []


def test_inbox_search_is_audited_without_the_text_searched(app, staff):
    add_submission(app)
    staff.get("/admin/", query_string={"q": "Siobhán 253-1000", "status": "new"})
    [event] = [e for e in audit_events(app, "inbox.viewed") if e.detail.get("search")]
    assert event.detail == {"search": True, "status": "new", "page": 1, "results": 1}
    assert not any("Siobh" in str(e.detail) or "253" in str(e.detail) for e in audit_events(app))


def test_submission_page_shows_every_field_by_reference(app, staff):
    reference = add_submission(
        app,
        physician="Dr. Chen",
        patient_type="returning",
        preferred_days="Monday, Thursday",
        preferred_time="morning",
        insurance="Blue Cross",
        referring_physician="Dr. 山田",
        contact_method="email",
        message="Knee pain.\nWorse on stairs.",
    )
    response = staff.get(f"/admin/submissions/{reference}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for label, value in [
        ("First name", "Siobhán"),
        ("Last name", "O&#39;Hara"),
        ("Date of birth", "March 27, 1980"),
        ("Phone number", '<a href="tel:+16172531000">(617) 253-1000</a>'),
        ("Email address", '<a href="mailto:patient@example.com">'),
        ("How should we contact you?", "Email"),
        ("Specialty", "Total knee replacement"),
        ("Physician", "Dr. Chen"),
        ("New or returning patient?", "Returning patient"),
        ("Preferred days", "Monday, Thursday"),
        ("Preferred time of day", "Morning"),
        ("Insurance provider", "Blue Cross"),
        ("Referring physician", "Dr. 山田"),
        ("Reason for visit", "Knee pain.\nWorse on stairs."),
    ]:
        assert re.search(rf"<dt>{re.escape(label)}</dt>\s*<dd>[^<]*{re.escape(value)}", page) or (
            f"<dt>{label}</dt>" in page and value in page
        ), label
    assert [e.target for e in audit_events(app, "submission.viewed")] == [reference]


def test_contact_message_page_shows_its_fields(app, staff):
    reference = add_submission(app, form="contact", phone=None)
    page = staff.get(f"/admin/submissions/{reference}").get_data(as_text=True)
    for label in ("Name", "Email address", "Phone number", "Topic", "Message"):
        assert f"<dt>{label}</dt>" in page
    assert "山田 太郎" in page and "Not given" in page


def test_unknown_or_malformed_reference_is_404(app, staff):
    add_submission(app)
    assert staff.get("/admin/submissions/APT-ZZZZZZZZ").status_code == 404
    assert staff.get("/admin/submissions/1").status_code == 404  # never a database id


def test_status_moves_through_the_workflow_and_is_audited(app, staff):
    reference = add_submission(app)
    page = staff.get(f"/admin/submissions/{reference}").get_data(as_text=True)
    labels = re.findall(r'<label class="choice__label" for="status-\d">(\w+)</label>', page)
    assert labels == ["New", "Contacted", "Scheduled", "Closed", "Spam"]
    for status in ("contacted", "scheduled", "closed"):
        response = post(
            staff, f"/admin/submissions/{reference}/status", {"status": status}, page="/admin/"
        )
        assert response.status_code == 303
        assert stored(app, reference).status == status
    changes = [e.detail for e in audit_events(app, "submission.status")]
    assert changes == [
        {"from": "new", "to": "contacted"},
        {"from": "contacted", "to": "scheduled"},
        {"from": "scheduled", "to": "closed"},
    ]
    assert all(e.actor == STAFF for e in audit_events(app, "submission.status"))


def test_unknown_status_is_refused(app, staff):
    reference = add_submission(app)
    response = post(staff, f"/admin/submissions/{reference}/status", {"status": "deleted"})
    assert response.status_code == 422
    assert stored(app, reference).status == "new"
    assert not audit_events(app, "submission.status")


def test_notes_show_author_and_time_and_are_audited(app, staff):
    reference = add_submission(app)
    response = post(
        staff, f"/admin/submissions/{reference}/notes", {"text": "Called, left a voicemail."}
    )
    assert response.status_code == 303
    page = staff.get(f"/admin/submissions/{reference}").get_data(as_text=True)
    assert "Called, left a voicemail." in page
    assert f"<strong>{STAFF}</strong>" in page
    with app.app_context():
        note = db.session.scalar(select(Note))
        local = note.created_at.astimezone(app.extensions["practice"].zone)
        assert f"{local:%b} {local.day}, {local.year}" in page
    [event] = audit_events(app, "note.added")
    assert event.target == reference and "voicemail" not in str(event.detail)


def test_empty_note_is_refused_with_the_error_beside_the_field(app, staff):
    reference = add_submission(app)
    response = post(staff, f"/admin/submissions/{reference}/notes", {"text": "   "})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Enter a note" in page and 'aria-invalid="true"' in page


PATIENT_TEXT_FIELDS = [
    "first_name",
    "last_name",
    "specialty",
    "physician",
    "insurance",
    "referring_physician",
    "message",
]
# For the columns of 16 to 20 characters (codes and E.164 numbers the forms never let through).
SHORT_XSS = "<i>x</i>\"'&"


def test_xss_in_every_patient_field_is_escaped_in_inbox_and_detail(app, staff):
    appointment = add_submission(
        app,
        **{name: f"{name} {XSS}" for name in PATIENT_TEXT_FIELDS},
        preferred_days=XSS,
        email=f"{XSS}@example.com",
        phone=SHORT_XSS,
        contact_method=SHORT_XSS,
        patient_type=SHORT_XSS,
        preferred_time=SHORT_XSS,
    )
    contact = add_submission(
        app, form="contact", name=XSS, topic=XSS, message=XSS, email=XSS, phone=SHORT_XSS
    )
    post(staff, f"/admin/submissions/{appointment}/notes", {"text": XSS})
    pages = [
        staff.get("/admin/").get_data(as_text=True),
        staff.get(f"/admin/submissions/{appointment}").get_data(as_text=True),
        staff.get(f"/admin/submissions/{contact}").get_data(as_text=True),
    ]
    for page in pages:
        assert "<script>alert" not in page
        assert "<img src=x" not in page and "<i>x</i>" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    for label in ("Preferred days", "Email address", "Insurance provider", "Reason for visit"):
        assert f"<dt>{label}</dt>" in pages[1]
    assert pages[1].count("&lt;script&gt;alert") >= len(PATIENT_TEXT_FIELDS) + 3  # + note


def test_patient_submitted_through_the_form_appears_in_the_inbox(app, staff, post_appointment):
    post_appointment(first_name="<b>Bold</b>", insurance='"><svg onload=alert(1)>')
    page = staff.get("/admin/").get_data(as_text=True)
    assert "&lt;b&gt;Bold&lt;/b&gt;" in page and "<b>Bold</b>" not in page
    reference = references_in(page)[0]
    detail = staff.get(f"/admin/submissions/{reference}").get_data(as_text=True)
    assert "<svg onload" not in detail and "&lt;svg onload=alert(1)&gt;" in detail


def test_dates_of_birth_are_shown_in_words(app, staff):
    reference = add_submission(app, date_of_birth=date(1944, 2, 29))
    assert "February 29, 1944" in staff.get(f"/admin/submissions/{reference}").get_data(
        as_text=True
    )


# Right-to-left patient text, each with a neutral or left-to-right neighbour that it would
# otherwise pull around it.
RTL_APPOINTMENT = {
    "first_name": "מרים",
    "last_name": "כהן-לוי",
    "email": "מרים@example.com",
    "insurance": "כללית 2",
    "referring_physician": "د. أحمد",
    "reason": "ألم في الركبة منذ 3 أسابيع.\nWorse on stairs.",
}
RTL_CONTACT = {"name": "أحمد علي", "message": "سؤال عن الفاتورة 42"}


def test_right_to_left_patient_text_is_isolated_on_the_inbox_and_submission_page(
    app, staff, post_appointment
):
    """A right-to-left name cannot reorder the staff page around it: every patient value is shown
    inside <bdi> or an element with dir="auto"."""
    assert post_appointment(**RTL_APPOINTMENT).status_code == 303
    patient = app.test_client()
    data = {**VALID_CONTACT, **RTL_CONTACT, **form_tokens(patient, "/contact-us")}
    assert patient.post("/contact-us", data=data).status_code == 303
    appointment, contact = (s.reference for s in stored_submissions(app))
    post(staff, f"/admin/submissions/{appointment}/notes", {"text": "اتصلت، لا رد 1"})

    inbox = staff.get("/admin/").get_data(as_text=True)
    assert "<bdi>מרים כהן-לוי</bdi>" in inbox
    assert "<bdi>أحمد علي</bdi>" in inbox
    for text in ("מרים כהן-לוי", "أحمد علي", "(617) 253-1000"):
        assert isolation_of(inbox, text) == (1, 0), text

    page = staff.get(f"/admin/submissions/{appointment}").get_data(as_text=True)
    assert "<dd><bdi>מרים</bdi></dd>" in page
    assert '<span class="multiline" dir="auto">ألم في الركبة' in page
    assert '<p class="note__text multiline" dir="auto">اتصلت، لا رد 1</p>' in page
    for text in (*RTL_APPOINTMENT.values(), "(617) 253-1000", "اتصلت، لا رد 1"):
        shown, unisolated = isolation_of(page, text)
        assert shown >= 1 and unisolated == 0, text
    # The patient's acknowledgement: its recipient (the patient's address) is isolated too.
    contact_page = staff.get(f"/admin/submissions/{contact}").get_data(as_text=True)
    assert isolation_of(contact_page, VALID_CONTACT["email"]) == (3, 0)

    page = staff.get(f"/admin/submissions/{contact}").get_data(as_text=True)
    for text in RTL_CONTACT.values():
        shown, unisolated = isolation_of(page, text)
        assert shown >= 1 and unisolated == 0, text


def stored_submissions(app) -> list[Submission]:
    with app.app_context():
        submissions = list(db.session.scalars(select(Submission).order_by(Submission.id)))
        db.session.expunge_all()
        return submissions


def test_patient_email_cannot_add_recipients_or_a_body_to_the_mailto_link(app, client):
    """A valid address may hold ? & = (atext): in the link they are data, not mailto fields."""
    from .admin_helpers import add_submission

    address = "a?bcc=attacker@evil.example"
    make_user(app)
    sign_in(client)
    reference = add_submission(app, email=address)
    page = client.get(f"/admin/submissions/{reference}").get_data(as_text=True)
    assert 'href="mailto:a%3Fbcc%3Dattacker@evil.example"' in page
    assert "mailto:a?" not in page
