"""Admins' page for API tokens: create one (shown once), see when each was last used, revoke.

Not in STAFF_ENDPOINTS: like every endpoint not listed there, these are for admins only.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import abort, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response

# SelectChoice is new in WTForms 3.3; types-WTForms (3.2) does not list it yet.
from wtforms import (  # type: ignore[attr-defined]
    DateField,
    HiddenField,
    SelectChoice,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from ..extensions import db
from ..models import API_SCOPES, ApiToken, utcnow
from ..services.actions import staff_action
from ..validators import required_text, single_line
from . import bp
from .forms import typed_text
from .staff import current_staff, staff_actor
from .views import practice


class ScopesField(SelectMultipleField):
    """Checkboxes, one per scope."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


NAME_REQUIRED = "Enter a name, such as the system that will use the token"
NAME_LENGTH = Length(max=100, message="A name must be 100 characters or fewer")


class NewTokenForm(FlaskForm):
    """Name, scopes and optional expiry of a new API token."""

    name = typed_text(StringField, "Name", NAME_REQUIRED, NAME_LENGTH, single_line)
    scopes = ScopesField(
        "Scopes",
        choices=[SelectChoice(key, f"{key}: {label}") for key, label in API_SCOPES.items()],
        validators=[DataRequired("Select at least one scope")],
    )
    expires_on = DateField("Expires on", validators=[Optional()])

    def validate_name(self, field: StringField) -> None:
        """Each token has a name of its own: the audit trail and the list tell them apart by it."""
        if db.session.scalar(select(ApiToken.id).where(ApiToken.name == field.data)) is not None:
            raise ValidationError("There is already a token with this name")

    def validate_expires_on(self, field: DateField) -> None:
        """An expiry, when given, is a day after today (practice time)."""
        if field.data is not None and field.data <= datetime.now(practice().zone).date():
            raise ValidationError("The expiry date must be in the future")


class RevokeTokenForm(FlaskForm):
    """Revoke one token."""

    token = HiddenField(validators=[InputRequired(), Regexp(r"^\d{1,18}$")])


def _page(form: NewTokenForm, new_token: str | None = None, status: int = 200) -> tuple[str, int]:
    tokens = db.session.scalars(select(ApiToken).order_by(ApiToken.created_at.desc())).all()
    return render_template(
        "admin/api_tokens.html",
        form=form,
        tokens=tokens,
        new_token=new_token,
        revoke_form=RevokeTokenForm(formdata=None),
        scopes=API_SCOPES,
        now=utcnow(),
    ), status


@bp.route("/api-tokens", methods=["GET", "POST"])
def api_tokens() -> tuple[str, int]:
    """The tokens, and the form that creates one (a POST; Flask-WTF reads no data on a GET)."""
    form = NewTokenForm()
    if not form.validate_on_submit():
        return _page(form, status=422 if form.is_submitted() else 200)
    name = form.name.data
    secret = ApiToken.new_secret()
    chosen = form.scopes.data or []  # DataRequired: a list of at least one once validated
    scopes = [s for s in API_SCOPES if s in chosen]
    detail = {"scopes": scopes, "expires_on": _iso(form.expires_on.data)}
    with staff_action(db.session, staff_actor(), "api_token.created", target=name, detail=detail):
        db.session.add(
            ApiToken(
                name=name,
                hint=secret[:12],
                token_hash=ApiToken.hash(secret),
                scopes=" ".join(scopes),
                created_by_id=current_staff().id,
                expires_at=_end_of_day(form.expires_on.data),
            )
        )
    # Shown on this answer only (no redirect): the admin copies it now; only its hash is kept.
    return _page(NewTokenForm(formdata=None), new_token=secret, status=201)


@bp.post("/api-tokens/revoke")
def revoke_api_token() -> Response:
    form = RevokeTokenForm()
    token = db.session.get(ApiToken, int(required_text(form.token))) if form.validate() else None
    if token is None:
        abort(404)
    if token.revoked_at is None:
        with staff_action(db.session, staff_actor(), "api_token.revoked", target=token.name):
            token.revoked_at = utcnow()
        flash(f"The API token {token.name} is revoked.", "success")
    return redirect(url_for(".api_tokens"), code=303)


def _end_of_day(day: date | None) -> datetime | None:
    # A token "expires on" a day: it works until that day ends in the practice's time zone.
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=practice().zone)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
