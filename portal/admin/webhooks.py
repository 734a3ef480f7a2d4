"""Admins' page for webhook endpoints: create (secret shown once), enable or disable, Rotate,
send a test event, and each endpoint's last deliveries.

Not in STAFF_ENDPOINTS: like every endpoint not listed there, these are for admins only.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import BooleanField, HiddenField, SelectChoice, SelectMultipleField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from .. import webhooks
from ..extensions import db
from ..models import WEBHOOK_EVENTS, WebhookAttempt, WebhookEndpoint
from ..public.forms import strip
from . import bp
from .auth import commit, record

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
    endpoint = db.session.get(WebhookEndpoint, int(form.endpoint.data)) if form.validate() else None
    if endpoint is None:
        abort(404)
    return endpoint


@bp.get("/webhooks")
def webhooks_page() -> tuple[str, int]:
    return _page(NewEndpointForm(formdata=None))


@bp.post("/webhooks")
def create_webhook() -> tuple[str, int]:
    form = NewEndpointForm()
    if not form.validate():
        return _page(form, status=422)
    endpoint, secret = webhooks.create_endpoint(
        db.session, form.url.data, list(form.events.data), bool(form.include_fhir.data)
    )
    db.session.flush()
    record(
        "webhook.created",
        target=f"webhook {endpoint.id}",
        detail={"events": endpoint.events.split(), "include_fhir": endpoint.include_fhir},
    )
    commit()
    # Shown on this answer only (no redirect): the admin copies it into the receiver now.
    return _page(NewEndpointForm(formdata=None), new_secret=(endpoint.id, secret), status=201)


@bp.post("/webhooks/enable")
def enable_webhook() -> Response:
    endpoint = _endpoint()
    if not endpoint.enabled:
        endpoint.enabled, endpoint.disabled_reason = True, None
        record("webhook.enabled", target=f"webhook {endpoint.id}")
        commit()
        flash(f"Webhook endpoint {endpoint.id} is enabled.", "success")
    return redirect(url_for(".webhooks_page"), code=303)


@bp.post("/webhooks/disable")
def disable_webhook() -> Response:
    endpoint = _endpoint()
    if endpoint.enabled:
        endpoint.enabled, endpoint.disabled_reason = False, "Disabled by an admin"
        record("webhook.disabled", target=f"webhook {endpoint.id}")
        commit()
        flash(f"Webhook endpoint {endpoint.id} is disabled.", "success")
    return redirect(url_for(".webhooks_page"), code=303)


@bp.post("/webhooks/rotate")
def rotate_webhook() -> tuple[str, int]:
    endpoint = _endpoint()
    secret = webhooks.rotate_secret(endpoint)
    record("webhook.rotated", target=f"webhook {endpoint.id}")
    commit()
    return _page(NewEndpointForm(formdata=None), new_secret=(endpoint.id, secret))


@bp.post("/webhooks/test")
def test_webhook() -> Response:
    endpoint = _endpoint()
    webhooks.send_test_event(db.session, endpoint)
    record("webhook.test", target=f"webhook {endpoint.id}")
    commit()
    flash(f"A test event is queued for webhook endpoint {endpoint.id}.", "success")
    return redirect(url_for(".webhooks_page"), code=303)
