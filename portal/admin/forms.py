"""Flask-WTF forms of the staff area that change something (the filters: filter_forms.py)."""

from __future__ import annotations

from collections.abc import Callable

from email_validator import EmailNotValidError, validate_email
from flask_wtf import FlaskForm
from wtforms import (  # type: ignore[attr-defined]  # SelectChoice: WTForms 3.3, stubs 3.2
    Field,
    HiddenField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    AnyOf,
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)

from ..models import User
from ..passwords import MAX_LENGTH, password_problem
from ..submissions import LABELS, NOBODY, STATUSES
from ..validators import plain_text, single_line, strip

# A text rule of validators.py: a WTForms inline validator.
TextRule = Callable[[FlaskForm, Field], None]

STATUS_CHOICES = [SelectChoice(value, label) for value, label in STATUSES.items()]


def lower_email(value: str | None) -> str | None:
    """Staff emails are compared in lower case."""
    return value.strip().lower() if isinstance(value, str) else value


def digits_only(value: str | None) -> str | None:
    """An authentication code as typed, with spaces and dashes taken out."""
    return "".join(ch for ch in value if ch not in " -") if value else value


def staff_email(form: FlaskForm, field: Field) -> None:
    """A syntactically valid address (no DNS lookup: this must work offline)."""
    try:
        field.data = validate_email(field.data or "", check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise ValidationError("Enter an email address, like name@example.com") from error


def strong_password(form: FlaskForm, field: Field) -> None:
    """The one password rule (passwords.py), for the account the form is about."""
    email = getattr(form, "account_email", None)
    if email is None and hasattr(form, "email"):
        email = form.email.data
    problem = password_problem(field.data or "", email)
    if problem:
        raise ValidationError(problem)


def email_field(
    required: str, clean: Callable[[str | None], str | None], rule: TextRule
) -> StringField:
    """An email address: cleaned as typed, required, at most 254 characters, checked by rule."""
    return StringField(
        "Email address", filters=[clean], validators=[DataRequired(required), Length(max=254), rule]
    )


def new_password_field(label: str, required: str) -> PasswordField:
    """A new password, held to the one password rule."""
    return PasswordField(label, validators=[DataRequired(required), strong_password])


def confirm_field(label: str, required: str, other: str, what: str) -> PasswordField:
    """The new password typed again, which must match the field named other."""
    mismatch = EqualTo(other, message=f"The two {what} must match")
    return PasswordField(label, validators=[DataRequired(required), mismatch])


def typed_text(
    kind: type[StringField], label: str, required: str | None, limit: Length, rule: TextRule
) -> StringField:
    """Typed text: trimmed, required (with this message) or optional, limited, one text rule."""
    need = DataRequired(required) if required is not None else Optional()
    return kind(label, filters=[strip], validators=[need, limit, rule])


def code_field() -> StringField:
    return StringField(
        "Authentication code",
        filters=[digits_only],
        validators=[
            DataRequired("Enter the 6-digit code from your authenticator app"),
            Regexp(r"^\d{6}$", message="Enter the 6-digit code from your authenticator app"),
        ],
    )


class LoginForm(FlaskForm):
    """Sign in with an email address and a password."""

    email = email_field("Enter your email address", lower_email, single_line)
    password = PasswordField(
        "Password", validators=[DataRequired("Enter your password"), Length(max=MAX_LENGTH)]
    )


class CodeForm(FlaskForm):
    """The second step of signing in: a code from an authenticator app."""

    code = code_field()


def assignee_choices(users: list[User], anyone: str | None = None) -> list[SelectChoice]:
    """Nobody and each account, by id (the inbox's filter adds anyone and "Me" before them)."""
    first = [SelectChoice("", anyone), SelectChoice("me", "Me")] if anyone else []
    nobody = SelectChoice("nobody" if anyone else "", NOBODY)
    return [*first, nobody, *(SelectChoice(str(u.id), u.email) for u in users)]


class StatusForm(FlaskForm):
    """Move a submission along the front desk's workflow."""

    status = RadioField(
        LABELS["status"], choices=STATUS_CHOICES, validators=[InputRequired("Select a status")]
    )


class AssignForm(FlaskForm):
    """Who calls the patient back: a person or nobody; "Assign to me" sends ``to=me``."""

    assigned_to = SelectField(LABELS["assigned_to"], validators=[Optional()])
    # The value of the "Assign to me" button, which the template draws as a button.
    to = HiddenField(validators=[Optional(), AnyOf(["me"])])

    def __init__(self, users: list[User], *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.assigned_to.choices = assignee_choices(users)


NOTE_LENGTH = Length(max=2000, message="A note must be 2,000 characters or fewer")


class NoteForm(FlaskForm):
    """An internal note on a submission."""

    text = typed_text(TextAreaField, "Add a note", "Enter a note", NOTE_LENGTH, plain_text)


class ResendForm(FlaskForm):
    """Send a notification again."""

    message = HiddenField(validators=[InputRequired(), Regexp(r"^\d{1,18}$")])


def current_password_field() -> PasswordField:
    """The signed-in user's own password, asked again before a sensitive change."""
    return PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password"), Length(max=MAX_LENGTH)],
    )


class PasswordChangeForm(FlaskForm):
    """A user changes their own password."""

    def __init__(self, *args, account_email: str | None = None, **kwargs):
        # The rule refuses a password built from the account's email, so it must know it.
        self.account_email = account_email
        super().__init__(*args, **kwargs)

    current_password = current_password_field()
    new_password = new_password_field("New password", "Enter a new password")
    confirm = confirm_field(
        "Confirm new password", "Enter the new password again", "new_password", "new passwords"
    )


class TwoFactorOnForm(FlaskForm):
    """Confirm the authenticator app by typing its current code."""

    code = code_field()


class TwoFactorOffForm(FlaskForm):
    """Turning two-factor sign-in off takes the password and a current code."""

    password = current_password_field()
    code = StringField(
        "Authentication code",
        filters=[digits_only],
        validators=[
            Optional(),
            Regexp(r"^\d{6}$", message="Enter the 6-digit code from your authenticator app"),
        ],
    )


class SetupForm(FlaskForm):
    """A set-up link asks for the account's password before it shows a new authenticator key."""

    password = PasswordField(
        "Password", validators=[DataRequired("Enter your password"), Length(max=MAX_LENGTH)]
    )


class StepUpForm(FlaskForm):
    """An admin's own password, asked again before a sensitive account change."""

    password = PasswordField(
        "Your password", validators=[DataRequired("Enter your password"), Length(max=MAX_LENGTH)]
    )


class RoleForm(FlaskForm):
    """Change another account's role."""

    email = HiddenField(validators=[InputRequired(), Length(max=254)])
    role = HiddenField(validators=[InputRequired(), AnyOf(["staff", "admin"])])


class NewUserForm(FlaskForm):
    """An admin adds a staff account."""

    email = email_field("Enter an email address", strip, staff_email)
    role = RadioField(
        "Role",
        choices=[SelectChoice("staff", "Staff"), SelectChoice("admin", "Admin")],
        default="staff",
        validators=[InputRequired("Select a role")],
    )
    password = new_password_field("Password", "Enter a password")
    confirm = confirm_field("Confirm password", "Enter the password again", "password", "passwords")


class UserActionForm(FlaskForm):
    """Disable or enable one account."""

    email = HiddenField(validators=[InputRequired(), Length(max=254)])


class MessageActionForm(FlaskForm):
    """Retry one email, or mark a failed one as handled."""

    message = HiddenField(validators=[InputRequired(), Regexp(r"^\d{1,18}$")])


class ConfirmForm(FlaskForm):
    """A confirmation step: only the CSRF token."""


class TestEmailForm(FlaskForm):
    """An admin sends a test email through the outbox."""

    email = email_field("Enter an email address", strip, staff_email)
