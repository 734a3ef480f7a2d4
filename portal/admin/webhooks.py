"""Admins' page for webhook endpoints: create (secret shown once), enable or disable, Rotate,
send a test event, and each endpoint's last deliveries.

Not in STAFF_ENDPOINTS: like every endpoint not listed there, these are for admins only.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import (  # type: ignore[attr-defined]  # SelectChoice: WTForms 3.3, stubs 3.2
    BooleanField,
    HiddenField,
    SelectChoice,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from .. import webhooks
from ..extensions import db
from ..models import WEBHOOK_EVENTS, WebhookAttempt, WebhookEndpoint
from ..services.actions import staff_action
from ..validators import required_text, strip
from . import bp
from .staff import staff_actor

# Deliveries shown per endpoint: enough to see a pattern, not a log.
RECENT_DELIVERIES = 10


class EventsField(SelectMultipleField):
    """Checkboxes, one per event."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class NewEndpointForm(FlaskForm):
    """URL, events and the FHIR opt-in of a new endpoint."""

    url = StringField(
        "URL",
        filters=[strip],
        validators=[
            DataRequired("Enter the URL that receives the events"),
            Length(max=2000, message="A URL must be 2000 characters or fewer"),
        ],
    )
    events = EventsField(
        "Events",
        choices=[SelectChoice(key, f"{key}: {label}") for key, label in WEBHOOK_EVENTS.items()],
        validators=[DataRequired("Select at least one event")],
    )
    include_fhir = BooleanField("Include the FHIR Bundle (patient data; https URLs only)")

    def validate_url(self, field: StringField) -> None:
        """The URL's scheme and every address it resolves to are allowed by the settings."""
        problem = webhooks.validate_url(field.data or "")
        if problem:
            raise ValidationError(problem)

    def validate_include_fhir(self, field: BooleanField) -> None:
        """Patient data only over https."""
        if field.data and not (self.url.data or "").startswith("https://"):
            raise ValidationError("The FHIR Bundle can be sent only to an https:// URL")


class EndpointForm(FlaskForm):
    """One endpoint's action (enable, disable, rotate, test)."""

    endpoint = HiddenField(validators=[InputRequired(), Regexp(r"^\d{1,18}$")])


def _page(
    form: NewEndpointForm,
    new_secret: tuple[int, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    endpoints = db.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)).all()
    deliveries = {
        e.id: db.session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.endpoint_id == e.id)
            .order_by(WebhookAttempt.attempted_at.desc(), WebhookAttempt.id.desc())
            .limit(RECENT_DELIVERIES)
        ).all()
        for e in endpoints
    }
    return render_template(
        "admin/webhooks.html",
        form=form,
        endpoints=endpoints,
        deliveries=deliveries,
        new_secret=new_secret,
        action_form=EndpointForm(formdata=None),
        events=WEBHOOK_EVENTS,
    ), status


def _endpoint() -> WebhookEndpoint:
    form = EndpointForm()
    valid = form.validate()
    endpoint = db.session.get(WebhookEndpoint, int(required_text(form.endpoint))) if valid else None
    if endpoint is None:
        abort(404)
    return endpoint


def _name(endpoint: WebhookEndpoint) -> str:
    """How the audit trail names an endpoint (never its URL, which may carry a secret)."""
    return f"webhook {endpoint.id}"


@bp.route("/webhooks", methods=["GET", "POST"])
def webhooks_page() -> tuple[str, int]:
    """The endpoints, and the form that adds one (a POST; Flask-WTF reads no data on a GET)."""
    form = NewEndpointForm()
    if not form.validate_on_submit():
        return _page(form, status=422 if form.is_submitted() else 200)
    with staff_action(db.session, staff_actor(), "webhook.created") as action:
        endpoint, secret = webhooks.create_endpoint(
            db.session,
            required_text(form.url),
            list(form.events.data or []),
            bool(form.include_fhir.data),
        )
        db.session.flush()
        action.target = f"webhook {endpoint.id}"
        action.detail = {"events": endpoint.events.split(), "include_fhir": endpoint.include_fhir}
    # Shown on this answer only (no redirect): the admin copies it into the receiver now.
    return _page(NewEndpointForm(formdata=None), new_secret=(endpoint.id, secret), status=201)


@bp.post("/webhooks/enable")
def enable_webhook() -> Response:
    endpoint = _endpoint()
    if not endpoint.enabled:
        with staff_action(db.session, staff_actor(), "webhook.enabled", target=_name(endpoint)):
            endpoint.enabled, endpoint.disabled_reason = True, None
        flash(f"Webhook endpoint {endpoint.id} is enabled.", "success")
    return redirect(url_for(".webhooks_page"), code=303)


@bp.post("/webhooks/disable")
def disable_webhook() -> Response:
    endpoint = _endpoint()
    if endpoint.enabled:
        with staff_action(db.session, staff_actor(), "webhook.disabled", target=_name(endpoint)):
            endpoint.enabled, endpoint.disabled_reason = False, "Disabled by an admin"
        flash(f"Webhook endpoint {endpoint.id} is disabled.", "success")
    return redirect(url_for(".webhooks_page"), code=303)


@bp.post("/webhooks/rotate")
def rotate_webhook() -> tuple[str, int]:
    endpoint = _endpoint()
    with staff_action(db.session, staff_actor(), "webhook.rotated", target=_name(endpoint)):
        secret = webhooks.rotate_secret(endpoint)
    return _page(NewEndpointForm(formdata=None), new_secret=(endpoint.id, secret))


@bp.post("/webhooks/test")
def test_webhook() -> Response:
    endpoint = _endpoint()
    with staff_action(db.session, staff_actor(), "webhook.test", target=_name(endpoint)):
        webhooks.send_test_event(db.session, endpoint)
    flash(f"A test event is queued for webhook endpoint {endpoint.id}.", "success")
    return redirect(url_for(".webhooks_page"), code=303)
