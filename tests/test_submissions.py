"""The vocabulary of a submission (portal/submissions.py): one place for every label, and every
page, email, export and FHIR resource reading its labels and formatting from there."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from flask_babel import LazyString
from wtforms.fields.core import UnboundField

from portal import submissions
from portal.models import Submission
from portal.public import forms

from .admin_helpers import ADMIN, add_submission, make_user, sign_in

ROOT = Path(__file__).resolve().parent.parent
# The same words naming something else: these are not labels of a submission's fields.
ELSEWHERE = {
    ("Email", "portal/services/submissions.py"),  # an email the outbox sent, on the submission page
    ("Email address", "portal/admin/forms.py"),  # a staff account's address
    ("Email address", "templates/admin/account.html"),
    ("Email address", "templates/admin/users.html"),
    ("Name", "portal/admin/api_tokens.py"),  # an API token's name
    ("Name", "templates/admin/api_tokens.html"),
    ("Reference", "templates/admin/outbox.html"),  # what an email is about, on the outbox page
    ("Status", "templates/admin/outbox.html"),  # an email's delivery status
    ("Status", "templates/admin/submission.html"),
    *((day, "portal/practice/hours.py") for day in submissions.WEEKDAYS),  # opening hours
}


def spelled_in(label: str) -> set[str]:
    """Python modules with the label as a string literal; templates with it as an element's
    whole text or at the start of a line of a plain-text email."""
    found = set()
    for path in ROOT.glob("portal/**/*.py"):
        text = path.read_text()
        if f'"{label}"' in text or f"'{label}'" in text:
            found.add(str(path.relative_to(ROOT)))
    for path in ROOT.glob("templates/**/*.*"):
        text = path.read_text()
        as_element = re.search(rf">\s*{re.escape(label)}\s*<", text)
        if as_element or re.search(rf"^{re.escape(label)}:", text, re.MULTILINE):
            found.add(str(path.relative_to(ROOT)))
    return found


def test_every_submission_label_is_spelled_in_the_schema_only():
    labels = {str(label) for label in submissions.every_label()}
    assert {"How should we contact you?", "No preference", "Not given", "Spam"} <= labels
    for label in labels:
        found = {path for path in spelled_in(label) if (label, path) not in ELSEWHERE}
        assert found <= {"portal/submissions.py"}, label


def test_every_label_and_choice_is_marked_for_translation():
    for label in submissions.every_label():
        assert isinstance(label, LazyString), label


def test_public_forms_ask_the_schemas_questions_in_its_order():
    for kind, form_class in (
        ("appointment", forms.AppointmentForm),
        ("contact", forms.ContactForm),
    ):
        unbound = [(n, getattr(form_class, n)) for n in dir(form_class)]
        fields = [(f.creation_counter, n) for n, f in unbound if isinstance(f, UnboundField)]
        declared = [name for _, name in sorted(fields)]
        expected = [form_class.RENAMED.get(f.key, f.key) for f in submissions.FORMS[kind]]
        assert [n for n in declared if n in expected] == expected
        for question in submissions.FORMS[kind]:
            name = form_class.RENAMED.get(question.key, question.key)
            unbound = getattr(form_class, name)
            assert unbound.args[0] == question.label
            assert unbound.kwargs.get("description", "") == (question.hint or "")
            if question.choices:
                pairs = [(c.value, c.label) for c in unbound.kwargs["choices"]]
                assert pairs == list(question.choices.items())


def test_every_stored_field_is_a_submission_column():
    for kind in submissions.FORMS:
        for question in submissions.stored_fields(kind):
            assert question.key in Submission.__table__.columns, question.key


def test_kind_is_the_form_column_under_its_own_name(app):
    reference = add_submission(app, form="contact")
    with app.app_context():
        from portal.extensions import db

        submission = db.session.query(Submission).filter(Submission.kind == "contact").one()
        assert submission.reference == reference and submission.kind == submission.form


def test_inbox_filters_by_kind_with_the_form_query_argument(app, client):
    appointment = add_submission(app)
    message = add_submission(app, form="contact")
    make_user(app, ADMIN, "admin")
    sign_in(client, ADMIN)
    page = client.get("/admin/?form=contact").get_data(as_text=True)
    assert message in page and appointment not in page
    assert re.search(r'<select[^>]*id="form"[^>]*name="form"', page)
    assert '<option selected value="contact">Messages</option>' in page


def test_empty_physician_is_no_preference_on_the_page_in_the_email_and_in_the_export(app, client):
    reference = add_submission(app, physician=None, insurance=None)
    make_user(app, ADMIN, "admin")
    sign_in(client, ADMIN)
    page = client.get(f"/admin/submissions/{reference}").get_data(as_text=True)
    assert re.search(r"<dt>Physician</dt>\s*<dd><span class=\"muted\">No preference</span>", page)
    assert re.search(r"<dt>Insurance provider</dt>\s*<dd><span class=\"muted\">Not given", page)

    with app.app_context():
        from portal.extensions import db

        submission = db.session.query(Submission).filter_by(reference=reference).one()
        details = dict(submissions.details(submission))
    assert details["Physician"] == "No preference"
    assert details["Insurance provider"] == "Not given"

    export = client.get("/admin/export.csv?form=appointment").get_data().decode("utf-8-sig")
    [row] = list(csv.DictReader(io.StringIO(export)))
    assert row["Physician"] == "No preference"
    assert row["Insurance provider"] == ""  # an empty cell: a spreadsheet's blank filter


def test_contact_method_has_one_label_on_the_page_in_the_email_and_in_the_export(app, client):
    reference = add_submission(app, contact_method="text")
    make_user(app, ADMIN, "admin")
    sign_in(client, ADMIN)
    label = "How should we contact you?"
    page = client.get(f"/admin/submissions/{reference}").get_data(as_text=True)
    assert re.search(rf"<dt>{re.escape(label)}</dt>\s*<dd><bdi>Text message</bdi>", page)
    export = client.get("/admin/export.csv?form=appointment").get_data().decode("utf-8-sig")
    [row] = list(csv.DictReader(io.StringIO(export)))
    assert row[label] == "Text message"
    with app.app_context():
        from portal.extensions import db

        submission = db.session.query(Submission).filter_by(reference=reference).one()
        assert (label, "Text message") in submissions.details(submission)


def test_answers_are_shown_in_national_format_and_words():
    phone = submissions.form_field("contact", "phone")
    days = submissions.form_field("appointment", "preferred_days")
    assert submissions.answer_text(phone, "+16172531000") == "(617) 253-1000"
    assert submissions.answer_text(phone, "+442079460958") == "+44 20 7946 0958"
    assert submissions.answer_text(days, "Monday, Thursday") == "Monday, Thursday"
    assert submissions.answer_text(days, "") == ""
