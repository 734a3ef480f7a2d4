"""The patient forms: Flask-WTF classes with every rule the server enforces.

Each field is built from its definition in submissions.py (label, hint, choices); the rules
(lengths, formats, what is required) live here.
"""

from __future__ import annotations

import re
import secrets
from datetime import date
from functools import cache
from typing import Any, ClassVar, TypeVar

import phonenumbers
from babel.support import NullTranslations, Translations
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (  # type: ignore[attr-defined]  # SelectChoice: WTForms 3.3, stubs 3.2
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
from wtforms.i18n import messages_path
from wtforms.utils import unset_value
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from .. import languages
from .. import submissions as schema
from ..i18n import own_words, page_language
from ..practice import Practice
from ..submissions import APPOINTMENT, CONTACT, form_field
from ..validators import add_error, drop_format_characters, plain_text, single_line, strip

NAME_MAX = 100
TEXT_MAX = 2000
MAX_AGE_YEARS = 120
FORM_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
# Messages are lazy: the form classes are built at import, the text is read in the page's language.
PHONE_EXAMPLE = _l("Enter a phone number, like (617) 555-0123")
WEEKDAYS = schema.WEEKDAYS


# Any WTForms field class that one_line() can build.
F = TypeVar("F", bound=StringField)


class PhoneField(StringField):
    """A phone number as typed; ``e164`` holds the normalised number once it validates."""

    e164: str | None = None


class EmailField(StringField):
    """An email address as typed; ``normalised`` holds the checked address once it validates."""

    normalised: str | None = None


def new_form_token() -> str:
    """A one-time token for one rendered form: two POSTs carrying it make one submission."""
    return secrets.token_urlsafe(32)


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


class PatientForm(FlaskForm):
    """What both forms share: the one-time token and the honeypot."""

    class Meta:
        def get_translations(self, form: FlaskForm) -> Any:
            if not current_app.config.get("WTF_I18N_ENABLED", True):
                return super().get_translations(form)  # type: ignore[misc]
            return WTFORMS_MESSAGES

    form_token = HiddenField(validators=[InputRequired()])
    # A trap for bots: hidden by the stylesheet, named so that no browser autofills it.
    portal_hp = StringField(_l("Leave this field empty"), filters=[strip])

    def validate_form_token(self, field: Field) -> None:
        if not FORM_TOKEN_PATTERN.match(field.data or ""):
            raise ValidationError(_("This form has expired"))

    # Fields named otherwise than the answer they store (submissions.py keys).
    RENAMED: ClassVar[dict[str, str]] = {}

    def answer_field(self, key: str) -> Field:
        """The field that holds the answer stored as ``key``."""
        return self[self.RENAMED.get(key, key)]

    @property
    def is_bot(self) -> bool:
        """True when the honeypot field was filled in."""
        return bool(self.portal_hp.data)

    @property
    def token_problem(self) -> bool:
        """True when the CSRF or one-time token was missing or expired: ask to send it again."""
        return bool(self.csrf_token.errors or self.form_token.errors)


WTFORMS_MESSAGES = WTFormsMessages()


def choices_of(question: schema.Field) -> list[SelectChoice]:
    """A choice question's options, value and label, in the schema's order."""
    return [SelectChoice(value, label) for value, label in (question.choices or {}).items()]


def listed(
    question: schema.Field, options: list[str], practice: Practice | None = None
) -> list[SelectChoice]:
    """A select list of the practice's own options, after the empty first option.

    With the practice, each option reads in the page's language where the profile translates
    it, else in English marked ``lang="en"``; its value is the English text in every language.
    """
    first = question.prompt if question.prompt is not None else question.empty_answer
    return [SelectChoice("", first), *(own_choice(o, practice) for o in options)]


def own_choice(option: str, practice: Practice | None) -> SelectChoice:
    """One of the practice's options: stored as written in the profile, shown translated."""
    if practice is None:
        return SelectChoice(option)
    label, lang = own_words(practice, option)
    return SelectChoice(option, label, render_kw={"lang": lang} if lang else None)


def language_options(practice: Practice) -> list[SelectChoice]:
    """The preferred-language options: each language in its own name, marked as written in it,
    then the option for any other language, in the page's language.

    A patient looks for their language, and can read its name only as it is written in that
    language ("Español", "中文"), whatever language the page is in: GOV.UK lists languages so.
    ``lang`` lets a screen reader say each name in its own voice.
    """
    tags = practice.preferred_languages
    bases = [tag.split("-")[0] for tag in tags]
    options = []
    for tag, base in zip(tags, bases, strict=True):
        # "Português", not "Português (Brasil)", unless another Portuguese is listed too.
        name = languages.own_name(tag, region=bases.count(base) > 1)
        attributes = {"lang": tag, **({"dir": "rtl"} if languages.is_rtl(tag) else {})}
        options.append(SelectChoice(tag, name, render_kw=attributes))
    return [*options, SelectChoice(languages.OTHER, schema.OTHER_LANGUAGE)]


def page_language_option(practice: Practice) -> str:
    """The option that matches the page's language, else the practice's default language."""
    tag = page_language().tag
    return languages.best_match(tag, practice.preferred_languages) or practice.languages[0]


def preferred_language_field(question: schema.Field) -> SelectField:
    """The patient's preferred language; the options (the profile's) are given per form."""
    # Absent from a POST (a page from before the question existed): stored as not given.
    return SelectField(question.label, validators=[Optional()], validate_choice=False)


class LanguageForm(PatientForm):
    """A patient form that asks the preferred language."""

    preferred_language: SelectField
    offered: set[str]

    def offer_languages(self, practice: Practice, submitted: bool) -> None:
        """List the profile's languages; a new form starts on the page's language."""
        options = language_options(practice)
        self.preferred_language.choices = options
        self.offered = {option.value for option in options}
        if not submitted:
            self.preferred_language.data = page_language_option(practice)

    def validate_preferred_language(self, field: SelectField) -> None:
        if field.data not in self.offered:
            raise ValidationError(_l("Select your preferred language from the list"))


def _appointment(key: str) -> schema.Field:
    return form_field(APPOINTMENT, key)


class AppointmentForm(LanguageForm):
    """Request an Appointment."""

    RENAMED = {"message": "reason"}  # the reason for the visit is the request's message

    first_name = name_field(_appointment("first_name"), _l("Enter your first name"))
    last_name = name_field(_appointment("last_name"), _l("Enter your last name"))
    date_of_birth = MemorableDateField(
        _appointment("date_of_birth").label, description=_appointment("date_of_birth").hint
    )
    phone = phone_field(required=True, question=_appointment("phone"))
    email = email_field(required=False, question=_appointment("email"))
    contact_method = RadioField(
        _appointment("contact_method").label,
        choices=choices_of(_appointment("contact_method")),
        default="phone",
        validators=[InputRequired(_l("Select how we should contact you"))],
    )
    preferred_language = preferred_language_field(_appointment("preferred_language"))
    interpreter = RadioField(
        _appointment("interpreter").label,
        description=_appointment("interpreter").hint or "",
        choices=choices_of(_appointment("interpreter")),
        validators=[Optional()],
    )
    specialty = SelectField(
        _appointment("specialty").label, validators=[DataRequired(_l("Select a specialty"))]
    )
    physician = SelectField(_appointment("physician").label, validators=[Optional()])
    patient_type = RadioField(
        _appointment("patient_type").label,
        choices=choices_of(_appointment("patient_type")),
        validators=[Optional()],
    )
    preferred_days = MultiCheckboxField(
        _appointment("preferred_days").label,
        choices=choices_of(_appointment("preferred_days")),
        validators=[Optional()],
    )
    preferred_time = RadioField(
        _appointment("preferred_time").label,
        choices=choices_of(_appointment("preferred_time")),
        validators=[Optional()],
    )
    insurance = optional_line(_appointment("insurance"))
    referring_physician = optional_line(_appointment("referring_physician"))
    reason = long_text(_appointment("message"), _l("Enter the reason for your visit"))
    consent = BooleanField(
        _appointment("consent").label,
        validators=[DataRequired(_l("Confirm that you understand this is a request"))],
    )

    def __init__(self, practice: Practice, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.specialty.choices = listed(_appointment("specialty"), practice.specialties, practice)
        self.physician.choices = listed(_appointment("physician"), practice.physicians)
        self.offer_languages(practice, self.is_submitted())

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # Optional() stops the email field's own chain when empty, so this rule lives here.
        if self.contact_method.data == "email" and not self.email.data and not self.email.errors:
            add_error(
                self.email, _("Enter your email address, or choose another way to contact you")
            )
            valid = False
        return valid


def _contact(key: str) -> schema.Field:
    return form_field(CONTACT, key)


class ContactForm(LanguageForm):
    """Contact Us."""

    name = name_field(_contact("name"), _l("Enter your name"))
    email = email_field(required=True, question=_contact("email"))
    phone = phone_field(required=False, question=_contact("phone"))
    preferred_language = preferred_language_field(_contact("preferred_language"))
    topic = SelectField(_contact("topic").label, validators=[Optional()])
    message = long_text(_contact("message"), _l("Enter your message"))

    def __init__(self, practice: Practice, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.topic.choices = listed(_contact("topic"), practice.contact_topics, practice)
        self.offer_languages(practice, self.is_submitted())
