"""The patient forms' building blocks: custom fields, the rules of each kind of answer, and
WTForms' own messages in the page's language.

Each builder takes a question from submissions.py (label, hint, choices); the rules (lengths,
formats, what is required) live here.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any, TypeVar

import phonenumbers
from babel.support import NullTranslations, Translations
from email_validator import EmailNotValidError, validate_email
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (  # type: ignore[attr-defined]  # SelectChoice: WTForms 3.3, stubs 3.2
    Field,
    SelectChoice,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.i18n import messages_path
from wtforms.utils import unset_value
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from .. import submissions as schema
from ..validators import drop_format_characters, plain_text, single_line, strip

NAME_MAX = 100
TEXT_MAX = 2000
MAX_AGE_YEARS = 120
# Messages are lazy: the form classes are built at import, the text is read in the page's language.
PHONE_EXAMPLE = _l("Enter a phone number, like (617) 555-0123")


# Any WTForms field class that one_line() can build.
F = TypeVar("F", bound=StringField)


class PhoneField(StringField):
    """A phone number as typed; ``e164`` holds the normalised number once it validates."""

    e164: str | None = None


class EmailField(StringField):
    """An email address as typed; ``normalised`` holds the checked address once it validates."""

    normalised: str | None = None


def phone_number(form: FlaskForm, field: PhoneField) -> None:
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


def email_address(form: FlaskForm, field: EmailField) -> None:
    """Check syntax only (no DNS: the form must work offline) and keep the normalised address."""
    if not field.data:
        return
    try:
        result = validate_email(field.data, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValidationError(_("Enter an email address, like name@example.com")) from error
    field.normalised = result.normalized


def one_line(cls: type[F], question: schema.Field, presence: Any, limit: Length, *more: Any) -> F:
    """A one-line answer: trimmed, present or not, within its length, on one line, then checked."""
    return cls(
        question.label,
        description=question.hint or "",
        filters=[strip],
        validators=[presence, limit, single_line, *more],
    )


def too_long(question: schema.Field, limit: int) -> Length:
    """The length rule of a one-line answer, its message naming the question."""
    return Length(
        max=limit,
        message=_l(
            "%(label)s must be %(limit)s characters or fewer", label=question.label, limit=limit
        ),
    )


def name_field(question: schema.Field, missing: schema.Text) -> StringField:
    """A required name: any script, one line, up to 100 characters."""
    return one_line(StringField, question, DataRequired(missing), too_long(question, NAME_MAX))


def optional_line(question: schema.Field, max_length: int = NAME_MAX) -> StringField:
    """An optional one-line answer."""
    return one_line(StringField, question, Optional(), too_long(question, max_length))


def phone_field(required: bool, question: schema.Field = schema.PHONE) -> PhoneField:
    """The patient's phone number, normalised to E.164 when it validates."""
    presence = DataRequired(_l("Enter your phone number")) if required else Optional()
    limit = Length(max=40, message=PHONE_EXAMPLE)
    return one_line(PhoneField, question, presence, limit, phone_number)


def email_field(required: bool, question: schema.Field = schema.EMAIL) -> EmailField:
    """The patient's email address, checked offline and normalised."""
    presence = DataRequired(_l("Enter your email address")) if required else Optional()
    return one_line(EmailField, question, presence, too_long(question, 254), email_address)


def long_text(question: schema.Field, missing: schema.Text) -> TextAreaField:
    """A required long answer of up to 2,000 characters."""
    label = question.label
    return TextAreaField(
        label,
        description=question.hint or "",
        # Invisible format characters are dropped before the white space around the text.
        filters=[drop_format_characters, strip],
        validators=[
            DataRequired(missing),
            Length(
                max=TEXT_MAX,
                message=_l("%(label)s must be 2,000 characters or fewer", label=label),
            ),
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
    # Which parts are missing -> the message (each whole, so that a language can word it).
    MISSING = {
        ("month",): _l("%(label)s must include a month"),
        ("day",): _l("%(label)s must include a day"),
        ("year",): _l("%(label)s must include a year"),
        ("month", "day"): _l("%(label)s must include a month and a day"),
        ("month", "year"): _l("%(label)s must include a month and a year"),
        ("day", "year"): _l("%(label)s must include a day and a year"),
    }

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
            raise ValidationError(_("Enter your date of birth"))
        if missing:
            self.invalid_parts = set(missing)
            raise ValidationError(str(self.MISSING[tuple(missing)]) % {"label": label})
        self.invalid_parts = {
            p
            for p in self.PARTS
            if not self.parts[p].isdecimal() or len(self.parts[p]) > self.DIGITS[p]
        }
        if len(self.parts["year"]) != self.DIGITS["year"]:
            self.invalid_parts.add("year")
        not_a_date = _("%(label)s must be a real date, like 3 27 1980", label=label)
        if self.invalid_parts:
            raise ValidationError(not_a_date)
        try:
            value = date(int(self.parts["year"]), int(self.parts["month"]), int(self.parts["day"]))
        except (ValueError, OverflowError) as error:
            self.invalid_parts = set(self.PARTS)
            raise ValidationError(not_a_date) from error
        today = date.today()
        if value >= today:
            self.invalid_parts = set(self.PARTS)
            raise ValidationError(_("%(label)s must be in the past", label=label))
        if _years_between(value, today) > MAX_AGE_YEARS:
            self.invalid_parts = {"year"}
            raise ValidationError(
                _(
                    "%(label)s must be within the last %(years)s years",
                    label=label,
                    years=MAX_AGE_YEARS,
                )
            )
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

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Each ticked box once: a value sent twice must not grow the stored text past its size."""
        super().process_formdata(list(dict.fromkeys(valuelist)))


@cache
def _wtforms_catalogue(locale: str) -> NullTranslations:
    return Translations.load(messages_path(), [locale], domain="wtforms")


class WTFormsMessages:
    """WTForms' own messages in the page's language, each catalogue read once per process.

    Flask-WTF reads WTForms' catalogue from disk again in every request that builds a form (a
    twentieth of an appointment POST's CPU); the catalogues do not change while the app runs.
    """

    def gettext(self, string: str) -> str:
        """One message in the current locale."""
        return _wtforms_catalogue(str(get_locale() or "en")).ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """One message with a count in the current locale."""
        return _wtforms_catalogue(str(get_locale() or "en")).ungettext(singular, plural, n)


def choices_of(question: schema.Field) -> list[SelectChoice]:
    """A choice question's options, value and label, in the schema's order."""
    return [SelectChoice(value, label) for value, label in (question.choices or {}).items()]
