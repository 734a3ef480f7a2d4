"""The patient forms: Flask-WTF classes with every rule the server enforces.

Each field is built from its definition in submissions.py (label, hint, choices) by the builders
in fields.py, where the rules of each kind of answer (lengths, formats) live; what one form adds
(the token, the honeypot, the practice's options, rules across fields) lives here.
"""

from __future__ import annotations

import re
import secrets
from typing import Any, ClassVar

from flask import current_app
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
    StringField,
)
from wtforms.validators import DataRequired, InputRequired, Optional, ValidationError

from .. import languages
from .. import submissions as schema
from ..i18n import own_words, page_language
from ..practice import Practice
from ..submissions import APPOINTMENT, CONTACT, form_field
from ..validators import add_error, strip
from .fields import (
    MemorableDateField,
    MultiCheckboxField,
    WTFormsMessages,
    choices_of,
    email_field,
    long_text,
    name_field,
    optional_line,
    phone_field,
)

FORM_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
WEEKDAYS = schema.WEEKDAYS


def new_form_token() -> str:
    """A one-time token for one rendered form: two POSTs carrying it make one submission."""
    return secrets.token_urlsafe(32)


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
        attributes = {
            "lang": languages.written_in(tag),
            **({"dir": "rtl"} if languages.is_rtl(tag) else {}),
        }
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
