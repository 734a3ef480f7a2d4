"""The vocabulary of a submission: its kinds, statuses and the ordered fields of each form.

Every label, hint and choice a person reads about a submission is written here once, marked for
translation with ``lazy_gettext`` (it is looked up in the language of the page or email that
shows it, so the languages issue only adds catalogues). The public forms build their fields from
these definitions; the staff pages, the emails, the exports and the FHIR mapping read labels and
formatting from here: a new field is one more ``Field`` here, a column and a migration.

How an answer is shown, everywhere: a phone number in its national format, a date of birth as
"March 27, 1980", a time in the practice's zone, a choice by its label; an empty answer as
"Not given" (``NOT_GIVEN``), except where leaving it empty is itself an answer the patient chose
(an empty physician is "No preference", the option they picked). Exports write an empty answer as
an empty cell, so a spreadsheet's filter on blanks finds it, and a date as ISO 8601.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo

import phonenumbers
from babel.dates import format_date
from flask_babel import LazyString, get_locale
from flask_babel import lazy_gettext as _l

from .languages import OTHER, english_name
from .practice import format_phone

Text: TypeAlias = str | LazyString

APPOINTMENT = "appointment"
CONTACT = "contact"


@dataclass(frozen=True)
class Kind:
    """A kind of submission (one public form): how staff pages, emails and exports name it."""

    key: str
    label: Text  # one submission of this kind, e.g. in the inbox's Form column
    plural: Text  # the inbox's and the export's filter
    noun: Text  # "We received your request"
    prefix: str  # of its references: APT-7K4M9QXR


KINDS: dict[str, Kind] = {
    APPOINTMENT: Kind(
        APPOINTMENT, _l("Appointment request"), _l("Appointment requests"), _l("request"), "APT"
    ),
    CONTACT: Kind(CONTACT, _l("Message"), _l("Messages"), _l("message"), "MSG"),
}

# The front desk's workflow, in order; Spam sits beside it.
STATUSES: dict[str, Text] = {
    "new": _l("New"),
    "contacted": _l("Contacted"),
    "scheduled": _l("Scheduled"),
    "closed": _l("Closed"),
    "spam": _l("Spam"),
}

# What every submission has besides the patient's answers, named as staff pages and exports show
# it; the two last head the inbox's columns that sum up a name and a specialty or topic.
LABELS: dict[str, Text] = {
    "reference": _l("Reference"),
    "received": _l("Received"),
    "kind": _l("Form"),
    "status": _l("Status"),
    "patient_name": _l("Name"),
    "phone": _l("Phone"),
    "category": _l("Specialty or topic"),
    # The front desk's work on it (staff pages and exports).
    "assigned_to": _l("Assigned to"),
    "first_response_at": _l("First response at"),
    "first_response_by": _l("First response by"),
    "response_time": _l("Response time"),
    "response_hours": _l("Response time (business hours)"),
    # The patient's preferred language: the inbox's filter, the front desk's email.
    "language": _l("Language"),
}
# Assigned to no one; a New request waiting longer than RESPONSE_TARGET_HOURS.
NOBODY = _l("Nobody")
OVERDUE = _l("Overdue")

NOT_GIVEN = _l("Not given")
# The preferred language's last option, and how staff see it (stored as languages.OTHER).
OTHER_LANGUAGE = _l("Other language")
# On an inbox row and in the front desk's email, when the patient asked for an interpreter.
INTERPRETER = _l("Interpreter")
INTERPRETER_REQUESTED = _l("Interpreter requested")
NO_PREFERENCE = _l("No preference")
# The combined export's last column, which holds the reason for visit or the message.
MESSAGE_OF_EITHER_KIND = _l("Reason for visit or message")

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
CONSENT = _l(
    "I understand that this is a request, not a confirmed appointment: the front desk will "
    "contact me to arrange a time. In an emergency, I will call 911."
)


@dataclass(frozen=True)
class Field:
    """One question of a form: its stored key, label, hint and choices, and how it is shown.

    ``shown`` says how a staff page links the answer: text, tel, email or multiline; "language"
    for a language tag, shown by the language's English name.
    """

    key: str
    label: Text
    hint: Text | None = None
    required: bool = False
    # value -> label; None for free text and for choices the practice profile lists.
    choices: Mapping[str, Text] | None = None
    # The empty first option of a select list that asks to choose ("Select a specialty").
    prompt: Text | None = None
    # The label of an empty answer when leaving it empty is an option the patient chose.
    empty_answer: Text | None = None
    shown: str = "text"
    # Several choices stored as one text, joined by ", " (the preferred days).
    several: bool = False
    # False for what the form asks but does not store (the consent checkbox).
    stored: bool = True

    @property
    def empty(self) -> Text:
        """What a staff page or an email shows for an empty answer."""
        return self.empty_answer if self.empty_answer is not None else NOT_GIVEN


FIRST_NAME = Field("first_name", _l("First name"), required=True)
LAST_NAME = Field("last_name", _l("Last name"), required=True)
NAME = Field("name", _l("Name"), required=True)
DATE_OF_BIRTH = Field(
    "date_of_birth", _l("Date of birth"), hint=_l("For example: 3 27 1980"), required=True
)
PHONE = Field("phone", _l("Phone number"), shown="tel")
EMAIL = Field("email", _l("Email address"), shown="email")
CONTACT_METHOD = Field(
    "contact_method",
    _l("How should we contact you?"),
    required=True,
    choices={"phone": _l("Phone"), "email": _l("Email"), "text": _l("Text message")},
)
SPECIALTY = Field("specialty", _l("Specialty"), required=True, prompt=_l("Select a specialty"))
PHYSICIAN = Field("physician", _l("Physician"), empty_answer=NO_PREFERENCE)
PATIENT_TYPE = Field(
    "patient_type",
    _l("New or returning patient?"),
    choices={"new": _l("New patient"), "returning": _l("Returning patient")},
)
PREFERRED_DAYS = Field(
    "preferred_days",
    _l("Preferred days"),
    choices={
        "Monday": _l("Monday"),
        "Tuesday": _l("Tuesday"),
        "Wednesday": _l("Wednesday"),
        "Thursday": _l("Thursday"),
        "Friday": _l("Friday"),
    },
    several=True,
)
PREFERRED_TIME = Field(
    "preferred_time",
    _l("Preferred time of day"),
    choices={"morning": _l("Morning"), "afternoon": _l("Afternoon"), "any": _l("Any time")},
)
# Options: the profile's languages, each in its own name, then "Other language".
PREFERRED_LANGUAGE = Field("preferred_language", _l("Preferred language"), shown="language")
INTERPRETER_NEEDED = Field(
    "interpreter",
    _l("Do you need an interpreter?"),
    hint=_l("An interpreter is free of charge."),
    choices={"yes": _l("Yes"), "no": _l("No")},
)
INSURANCE = Field("insurance", _l("Insurance provider"))
REFERRING_PHYSICIAN = Field("referring_physician", _l("Referring physician"))
TOPIC = Field("topic", _l("Topic"), prompt=_l("Select a topic"))
LONG_TEXT_HINT = _l("Up to 2,000 characters.")
REASON = Field(
    "message", _l("Reason for visit"), hint=LONG_TEXT_HINT, required=True, shown="multiline"
)
MESSAGE = Field("message", _l("Message"), hint=LONG_TEXT_HINT, required=True, shown="multiline")
CONSENT_FIELD = Field("consent", CONSENT, required=True, stored=False)

# The ordered questions of each form, as the patient meets them.
FORMS: dict[str, tuple[Field, ...]] = {
    APPOINTMENT: (
        FIRST_NAME,
        LAST_NAME,
        DATE_OF_BIRTH,
        replace(PHONE, hint=_l("For example: (617) 555-0123"), required=True),
        replace(
            EMAIL,
            hint=_l(
                "Needed if you would like us to contact you by email. "
                "We will send a receipt to this address."
            ),
        ),
        CONTACT_METHOD,
        PREFERRED_LANGUAGE,
        INTERPRETER_NEEDED,
        SPECIALTY,
        PHYSICIAN,
        PATIENT_TYPE,
        PREFERRED_DAYS,
        PREFERRED_TIME,
        INSURANCE,
        REFERRING_PHYSICIAN,
        REASON,
        CONSENT_FIELD,
    ),
    CONTACT: (
        NAME,
        replace(EMAIL, hint=_l("We will reply to this address."), required=True),
        PHONE,
        PREFERRED_LANGUAGE,
        TOPIC,
        MESSAGE,
    ),
}
# The field that says what an appointment or a message is about: it routes the email.
CATEGORY = {APPOINTMENT: SPECIALTY, CONTACT: TOPIC}


def form_field(kind: str, key: str) -> Field:
    """The question ``key`` as the form of ``kind`` asks it (KeyError if it does not)."""
    for question in FORMS[kind]:
        if question.key == key:
            return question
    raise KeyError(f"the {kind} form has no {key}")


def stored_fields(kind: str) -> list[Field]:
    """The answers a submission of this kind stores, in the form's order."""
    return [f for f in FORMS[kind] if f.stored]


# --- How an answer is shown to people -------------------------------------------------------

NANP_E164 = re.compile(r"^\+1([2-9]\d{2})([2-9]\d{2})(\d{4})$")
RECEIVED_FORMAT = "%B %-d, %Y at %-I:%M %p %Z"


def display_phone(e164: str) -> str:
    """A stored phone number as people write it; anything unparseable as it was stored."""
    # The hot path of a large export: phonenumbers takes ~20 µs a number (2 s per 100,000
    # rows), and a North American number's national format is always (NPA) NXX-XXXX.
    nanp = NANP_E164.match(e164)
    if nanp:
        return f"({nanp[1]}) {nanp[2]}-{nanp[3]}"
    try:
        return format_phone(e164)
    except phonenumbers.NumberParseException:
        return e164


def show_date(value: date) -> str:
    """A date as people write it, in the page's language: March 27, 1980; 27 de marzo de 1980."""
    locale = get_locale()
    if locale is None or locale.language == "en":
        return f"{value:%B} {value.day}, {value.year}"
    return format_date(value, "long", locale=locale)


def local_time(moment: datetime, zone: ZoneInfo, fmt: str = RECEIVED_FORMAT) -> str:
    """A stored (UTC) time in the practice's zone: March 9, 2026 at 2:05 PM EDT."""
    return moment.astimezone(zone).strftime(fmt)


def choice_text(question: Field, value: str) -> str:
    """A stored choice (or several, joined by ", ") by its label; unknown values as stored."""
    choices = question.choices or {}
    if question.several:
        return ", ".join(str(choices.get(v.strip(), v.strip())) for v in value.split(","))
    return str(choices.get(value, value))


def language_text(tag: str) -> str:
    """A stored preferred language as staff read it: "Spanish", "Other language"."""
    return str(OTHER_LANGUAGE) if tag == OTHER else english_name(tag)


def language_line(submission: Any) -> str:
    """What the front desk needs before calling back: "Language: Spanish · Interpreter requested".

    Not health information, so the notification says it even without NOTIFY_INCLUDE_DETAILS;
    "" when the form did not ask.
    """
    parts = []
    language = getattr(submission, "preferred_language", None)
    if language:
        parts.append(f"{LABELS['language']}: {language_text(language)}")
    if getattr(submission, "interpreter", None) == "yes":
        parts.append(str(INTERPRETER_REQUESTED))
    return " · ".join(parts)


def answer_text(question: Field, value: Any) -> str:
    """An answer as a staff page, an email or the FHIR comment shows it; "" when empty."""
    if value is None or value == "":
        return ""
    if isinstance(value, date):
        return show_date(value)
    if question.shown == "tel":
        return display_phone(value)
    if question.shown == "language":
        return language_text(value)
    if question.choices:
        return choice_text(question, value)
    return str(value)


@dataclass(frozen=True)
class Answer:
    """One answer as a staff page shows it: label, stored value, text, and how to link it."""

    label: str
    value: Any
    text: str
    shown: str
    empty: bool = False


def answers(submission: Any) -> list[Answer]:
    """Every answer of a submission, in its form's order; an empty one says so in words."""
    shown = []
    for question in stored_fields(submission.kind):
        value = getattr(submission, question.key)
        text = answer_text(question, value)
        shown.append(
            Answer(
                str(question.label), value, text or str(question.empty), question.shown, not text
            )
        )
    return shown


def details(submission: Any) -> list[tuple[str, str]]:
    """Every answer as (label, text) for an email: plain strings, stored as JSON in the outbox."""
    return [(a.label, a.text) for a in answers(submission)]


def every_label() -> Iterable[Text]:
    """Every label and choice this module defines (for the test that no other module spells one)."""
    for kind in KINDS.values():
        yield from (kind.label, kind.plural)
    yield from STATUSES.values()
    yield from LABELS.values()
    for fields in FORMS.values():
        for question in fields:
            yield question.label
            yield from (question.choices or {}).values()
            if question.empty_answer is not None:
                yield question.empty_answer
    yield from (NOT_GIVEN, MESSAGE_OF_EITHER_KIND, NOBODY, OVERDUE, OTHER_LANGUAGE, INTERPRETER)
    yield INTERPRETER_REQUESTED
