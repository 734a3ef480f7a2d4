"""The patient forms: Flask-WTF classes with every rule the server enforces."""

from __future__ import annotations

import re
import secrets
from datetime import date

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Field,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.utils import unset_value
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..practice import Practice
from ..validators import drop_format_characters, plain_text, single_line, strip

NAME_MAX = 100
TEXT_MAX = 2000
MAX_AGE_YEARS = 120
FORM_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
PHONE_EXAMPLE = "Enter a phone number, like (617) 555-0123"
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]


class PhoneField(StringField):
    """A phone number as typed; ``e164`` holds the normalised number once it validates."""

    e164: str | None = None


class EmailField(StringField):
    """An email address as typed; ``normalised`` holds the checked address once it validates."""

    normalised: str | None = None


def new_form_token() -> str:
    """A one-time token for one rendered form: two POSTs carrying it make one submission."""
    return secrets.token_urlsafe(32)


def phone_number(form: FlaskForm, field: Field) -> None:
    """Parse with phonenumbers (US by default) and keep the E.164 form beside the typed text."""
    if not field.data:
        return
    try:
        number = phonenumbers.parse(field.data, "US")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError(PHONE_EXAMPLE)
    field.e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_address(form: FlaskForm, field: Field) -> None:
    """Check syntax only (no DNS: the form must work offline) and keep the normalised address."""
    if not field.data:
        return
    try:
        result = validate_email(field.data, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValidationError("Enter an email address, like name@example.com") from error
    field.normalised = result.normalized


def name_field(label: str) -> StringField:
    """A required name: any script, one line, up to 100 characters."""
    return StringField(
        label,
        filters=[strip],
        validators=[
            DataRequired(f"Enter your {label.lower()}"),
            Length(max=NAME_MAX, message=f"{label} must be {NAME_MAX} characters or fewer"),
            single_line,
        ],
    )


def optional_line(label: str, max_length: int = NAME_MAX) -> StringField:
    """An optional one-line answer."""
    return StringField(
        label,
        filters=[strip],
        validators=[
            Optional(),
            Length(max=max_length, message=f"{label} must be {max_length} characters or fewer"),
            single_line,
        ],
    )


def phone_field(required: bool) -> PhoneField:
    """The patient's phone number, normalised to E.164 when it validates."""
    return PhoneField(
        "Phone number",
        filters=[strip],
        validators=[
            DataRequired("Enter your phone number") if required else Optional(),
            Length(max=40, message=PHONE_EXAMPLE),
            single_line,
            phone_number,
        ],
    )


def email_field(required: bool) -> EmailField:
    """The patient's email address, checked offline and normalised."""
    return EmailField(
        "Email address",
        filters=[strip],
        validators=[
            DataRequired("Enter your email address") if required else Optional(),
            Length(max=254, message="Email address must be 254 characters or fewer"),
            single_line,
            email_address,
        ],
    )


def long_text(label: str, missing: str) -> TextAreaField:
    """A required long answer of up to 2,000 characters."""
    return TextAreaField(
        label,
        # Invisible format characters are dropped before the white space around the text.
        filters=[drop_format_characters, strip],
        validators=[
            DataRequired(missing),
            Length(max=TEXT_MAX, message=f"{label} must be 2,000 characters or fewer"),
            plain_text,
        ],
    )


class MemorableDateField(Field):
    """A date typed as three numbers, Month, Day and Year (the USWDS memorable-date pattern).

    The three inputs are named ``<name>-month``, ``<name>-day`` and ``<name>-year``; what the
    patient typed is kept in ``parts`` so the form can be shown again exactly as it was.
    """

    PARTS = ("month", "day", "year")
    # The most digits each part may have. Anything longer is not a date, and int() of it could
    # overflow date() (an OverflowError, not a ValueError).
    DIGITS = {"month": 2, "day": 2, "year": 4}

    def __init__(self, label: str | None = None, validators: list | None = None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.parts = dict.fromkeys(self.PARTS, "")
        self.invalid_parts: set[str] = set()

    def process(self, formdata, data=unset_value, extra_filters=None) -> None:
        super().process(formdata, data, extra_filters)
        if formdata is not None:
            self.parts = {p: (formdata.get(f"{self.name}-{p}") or "").strip() for p in self.PARTS}

    def part_id(self, part: str) -> str:
        """The id of one of the three inputs."""
        return f"{self.id}-{part}"

    def pre_validate(self, form: FlaskForm) -> None:
        self.data = None
        label = self.label.text
        missing = [p for p in self.PARTS if not self.parts[p]]
        if len(missing) == len(self.PARTS):
            self.invalid_parts = set(self.PARTS)
            raise ValidationError(f"Enter your {label.lower()}")
        if missing:
            self.invalid_parts = set(missing)
            raise ValidationError(f"{label} must include a {' and a '.join(missing)}")
        self.invalid_parts = {
            p
            for p in self.PARTS
            if not self.parts[p].isdecimal() or len(self.parts[p]) > self.DIGITS[p]
        }
        if len(self.parts["year"]) != self.DIGITS["year"]:
            self.invalid_parts.add("year")
        if self.invalid_parts:
            raise ValidationError(f"{label} must be a real date, like 3 27 1980")
        try:
            value = date(int(self.parts["year"]), int(self.parts["month"]), int(self.parts["day"]))
        except (ValueError, OverflowError) as error:
            self.invalid_parts = set(self.PARTS)
            raise ValidationError(f"{label} must be a real date, like 3 27 1980") from error
        today = date.today()
        if value >= today:
            self.invalid_parts = set(self.PARTS)
            raise ValidationError(f"{label} must be in the past")
        if _years_between(value, today) > MAX_AGE_YEARS:
            self.invalid_parts = {"year"}
            raise ValidationError(f"{label} must be within the last {MAX_AGE_YEARS} years")
        self.data = value

    @property
    def first_input_id(self) -> str:
        """Where the error summary's link leads: the first input in error."""
        for part in self.PARTS:
            if part in self.invalid_parts:
                return self.part_id(part)
        return self.part_id("month")


def _years_between(earlier: date, later: date) -> int:
    return later.year - earlier.year - ((later.month, later.day) < (earlier.month, earlier.day))


class MultiCheckboxField(SelectMultipleField):
    """A group of checkboxes, several of which may be ticked."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class PatientForm(FlaskForm):
    """What both forms share: the one-time token and the honeypot."""

    form_token = HiddenField(validators=[InputRequired()])
    # A trap for bots: hidden by the stylesheet, named so that no browser autofills it.
    portal_hp = StringField("Leave this field empty", filters=[strip])

    def validate_form_token(self, field: Field) -> None:
        if not FORM_TOKEN_PATTERN.match(field.data or ""):
            raise ValidationError("This form has expired")

    @property
    def is_bot(self) -> bool:
        """True when the honeypot field was filled in."""
        return bool(self.portal_hp.data)

    @property
    def token_problem(self) -> bool:
        """True when the CSRF or one-time token was missing or expired: ask to send it again."""
        return bool(self.csrf_token.errors or self.form_token.errors)


class AppointmentForm(PatientForm):
    """Request an Appointment."""

    first_name = name_field("First name")
    last_name = name_field("Last name")
    date_of_birth = MemorableDateField("Date of birth")
    phone = phone_field(required=True)
    email = email_field(required=False)
    contact_method = RadioField(
        "How should we contact you?",
        choices=[
            SelectChoice("phone", "Phone"),
            SelectChoice("email", "Email"),
            SelectChoice("text", "Text message"),
        ],
        default="phone",
        validators=[InputRequired("Select how we should contact you")],
    )
    specialty = SelectField("Specialty", validators=[DataRequired("Select a specialty")])
    physician = SelectField("Physician", validators=[Optional()])
    patient_type = RadioField(
        "New or returning patient?",
        choices=[
            SelectChoice("new", "New patient"),
            SelectChoice("returning", "Returning patient"),
        ],
        validators=[Optional()],
    )
    preferred_days = MultiCheckboxField(
        "Preferred days", choices=[SelectChoice(d) for d in WEEKDAYS], validators=[Optional()]
    )
    preferred_time = RadioField(
        "Preferred time of day",
        choices=[
            SelectChoice("morning", "Morning"),
            SelectChoice("afternoon", "Afternoon"),
            SelectChoice("any", "Any time"),
        ],
        validators=[Optional()],
    )
    insurance = optional_line("Insurance provider")
    referring_physician = optional_line("Referring physician")
    reason = long_text("Reason for visit", "Enter the reason for your visit")
    consent = BooleanField(
        "I understand that this is a request, not a confirmed appointment: the front desk will "
        "contact me to arrange a time. In an emergency, I will call 911.",
        validators=[DataRequired("Confirm that you understand this is a request")],
    )

    def __init__(self, practice: Practice, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.specialty.choices = [SelectChoice("", "Select a specialty")] + [
            SelectChoice(s) for s in practice.specialties
        ]
        self.physician.choices = [SelectChoice("", "No preference")] + [
            SelectChoice(p) for p in practice.physicians
        ]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # Optional() stops the email field's own chain when empty, so this rule lives here.
        if self.contact_method.data == "email" and not self.email.data and not self.email.errors:
            self.email.errors.append(
                "Enter your email address, or choose another way to contact you"
            )
            valid = False
        return valid


class ContactForm(PatientForm):
    """Contact Us."""

    name = name_field("Name")
    email = email_field(required=True)
    phone = phone_field(required=False)
    topic = SelectField("Topic", validators=[Optional()])
    message = long_text("Message", "Enter your message")

    def __init__(self, practice: Practice, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.topic.choices = [SelectChoice("", "Select a topic")] + [
            SelectChoice(t) for t in practice.contact_topics
        ]
