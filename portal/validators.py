"""Text rules both sides share: what a one-line answer and a long answer may contain.

The patient forms and the staff forms both use these, so they live in neither blueprint. Their
messages are translated when they are raised, in the language of the page (staff pages: English).
"""

from __future__ import annotations

import unicodedata

from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import Field
from wtforms.validators import ValidationError

# Line and paragraph separators end a line as surely as LF does.
LINE_BREAKS = {"\u2028", "\u2029"}


def strip(value: str | None) -> str | None:
    """Trim surrounding white space from typed text."""
    return value.strip() if isinstance(value, str) else value


def is_format_character(ch: str) -> bool:
    """True for an invisible Unicode format character (category Cf).

    Bidi overrides and isolates (U+202A-U+202E, U+2066-U+2069) and zero-width characters
    (U+200B-U+200F, U+2060, U+FEFF) are invisible, yet they reorder or hide the text around them
    wherever staff read it: in the inbox, an email or an export.
    """
    return unicodedata.category(ch) == "Cf"


def drop_format_characters(value: str | None) -> str | None:
    """Remove invisible format characters from a long answer (nothing a reader needs is lost)."""
    if not isinstance(value, str):
        return value
    return "".join(ch for ch in value if not is_format_character(ch))


def single_line(form: FlaskForm, field: Field) -> None:
    """Reject control characters (CR, LF, NUL and the rest) and format characters in one line."""
    value = field.data or ""
    label = field.label.text
    if any(unicodedata.category(ch) == "Cc" or ch in LINE_BREAKS for ch in value):
        raise ValidationError(
            _("%(label)s must be on one line, without special characters", label=label)
        )
    if any(is_format_character(ch) for ch in value):
        # Refused rather than silently changed: these fields identify the patient, and what is
        # stored must be what they can see they typed.
        raise ValidationError(
            _(
                "%(label)s contains an invisible character (such as a text direction mark or a "
                "zero-width space). Type it again rather than pasting it",
                label=label,
            )
        )


def plain_text(form: FlaskForm, field: Field) -> None:
    """Allow line breaks and tabs in a long answer, but no other control characters."""
    value = field.data or ""
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\r\n" for ch in value):
        raise ValidationError(
            _("%(label)s must not contain special characters", label=field.label.text)
        )


def add_error(field: Field, message: str) -> None:
    """Show one more error under a field, after the form's own validation has run."""
    # Validation leaves a list in field.errors, appended to in place (form.errors may already
    # hold it); before validation it is the class's empty tuple, which cannot grow.
    if isinstance(field.errors, list):
        field.errors.append(message)
    else:
        field.errors = [*field.errors, message]


def required_text(field: Field) -> str:
    """A required field's text once its form has validated (its validators refused no answer)."""
    # Field stubs type data as optional for every field; after validate() a required field holds
    # its text, so no text here is a programming error (an optional or unvalidated field).
    if not isinstance(field.data, str):
        raise RuntimeError(f"required_text() on {field.name}, which holds no validated text")
    return field.data
