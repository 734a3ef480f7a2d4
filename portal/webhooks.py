"""Webhook events: what changed, queued in the outbox in the transaction of the change.

Events are thin: the submission's reference, kind, status, time received and staff URL, never
patient data; a receiver fetches the details through the API, where access is authenticated and
audited. An endpoint on https may opt in to the FHIR Bundle, which the worker adds when it sends
(so the outbox never stores it). Delivery is the outbox's (``outbox/webhook.py``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app
from sqlalchemy import select

from . import fhir, outbox
from .extensions import SessionLike, db
from .models import (
    WEBHOOK_EVENTS,
    OutboxMessage,
    Submission,
    WebhookEndpoint,
    utcnow,
)
from .outbox.webhook import WEBHOOK, BlockedURL, check_url, new_secret

# How long the old secret signs too after Rotate, so receivers can switch without a gap.
ROTATION_OVERLAP = timedelta(hours=24)
TEST_EVENT = "webhook.test"


def init_app(app: Flask) -> None:
    """Let the outbox tell us about failures and let the worker add the FHIR Bundle."""
    app.extensions["outbox.on_failed"] = delivery_failed
    app.extensions["outbox.webhook_body"] = body_with_fhir


def new_message_id() -> str:
    """A webhook-id: "msg_" and a random UUID; kept across retries (the receiver's dedup key)."""
    return f"msg_{uuid.uuid4().hex}"


def thin_data(submission: Submission) -> dict[str, Any]:
    """What every event says about a submission: no patient data."""
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return {
        "reference": submission.reference,
        "kind": submission.form,
        "status": submission.status,
        "received_at": _iso(submission.created_at),
        "url": f"{base}/admin/submissions/{submission.reference}",
    }


def queue_event(
    session: SessionLike,
    event: str,
    data: dict[str, Any],
    *,
    reference: str | None = None,
    endpoints: list[WebhookEndpoint] | None = None,
) -> list[OutboxMessage]:
    """Add one outbox message per enabled endpoint that receives ``event`` (not committed)."""
    targets = (
        _receivers(session, event) if endpoints is None else [(e.id, e.url) for e in endpoints]
    )
    now = utcnow()
    body = {"type": event, "timestamp": _iso(now), "data": data}
    queued = []
    for endpoint_id, url in targets:
        message = outbox.queue(
            session,
            channel=WEBHOOK,
            webhook_endpoint_id=endpoint_id,
            message_id=new_message_id(),
            reference=reference,
            template=event,
            recipient=url[:254],
            subject=event,
            context=body,
        )
        queued.append(message)
    return queued


def _receivers(session: SessionLike, event: str) -> list[tuple[int, str]]:
    """The id and URL of each enabled endpoint that receives ``event``.

    A plain read of three columns, as it runs in every patient's POST; on the session's
    connection, so in its transaction, and without the ORM's autoflush: the caller's change is
    written (and may fail) at its own commit, where it handles failures, not inside this read.
    """
    table = WebhookEndpoint.__table__
    rows = session.connection().execute(
        select(table.c.id, table.c.url, table.c.events).where(table.c.enabled)
    )
    return [(id_, url) for id_, url, events in rows if event in events.split()]


def submission_created(session: SessionLike, submission: Submission) -> list[OutboxMessage]:
    """Queue `submission.created` with the submission (same transaction)."""
    if submission.created_at is None:
        submission.created_at = utcnow()
    if submission.status is None:  # not flushed yet: the column's default is what it will be
        submission.status = Submission.__table__.c.status.default.arg
    return queue_event(
        session, "submission.created", thin_data(submission), reference=submission.reference
    )


def submission_updated(
    session: SessionLike, submission: Submission, changes: list[str]
) -> list[OutboxMessage]:
    """Queue `submission.updated`, saying what changed (status, assigned_to, note), never a
    note's text or who was assigned."""
    if not changes:
        return []
    data = thin_data(submission) | {"changes": list(changes)}
    return queue_event(session, "submission.updated", data, reference=submission.reference)


def delivery_failed(session: SessionLike, message_id: int) -> None:
    """Queue `delivery.failed` for an email or webhook that failed for good (ledger's hook)."""
    message = session.get(OutboxMessage, message_id)
    if message is None or message.template == "delivery.failed":
        return  # a failed delivery.failed event announces nothing further: no loops
    data: dict[str, Any] = {"channel": message.channel or "email"}
    if message.reference:
        submission = session.scalar(
            select(Submission).where(Submission.reference == message.reference)
        )
        if submission is not None:
            data = thin_data(submission) | data
    if message.channel == WEBHOOK:
        data["event"] = message.template
    queue_event(session, "delivery.failed", data, reference=message.reference)


def body_with_fhir(payload: dict[str, Any], endpoint: WebhookEndpoint) -> dict[str, Any]:
    """The stored body, with the FHIR Bundle in data.fhir for https endpoints that opted in."""
    data = payload.get("data") or {}
    reference = data.get("reference")
    if not (endpoint.include_fhir and urlsplit(endpoint.url).scheme == "https" and reference):
        return payload
    submission = db.session.scalar(select(Submission).where(Submission.reference == reference))
    if submission is None:
        return payload
    bundle = fhir.bundle(
        submission, current_app.config["PUBLIC_BASE_URL"], current_app.extensions["practice"]
    )
    return payload | {"data": data | {"fhir": bundle}}


def validate_url(url: str) -> str | None:
    """Why a URL cannot be an endpoint under the current settings, or None when it can."""
    config = current_app.config
    try:
        check_url(
            url,
            allow_private=bool(config["WEBHOOK_ALLOW_PRIVATE"]),
            allow_http=bool(config["WEBHOOK_ALLOW_HTTP"]),
        )
    except BlockedURL as error:
        return str(error)[:1].upper() + str(error)[1:]
    return None


def create_endpoint(
    session: SessionLike, url: str, events: list[str], include_fhir: bool
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint (not committed) and its secret, which the caller shows once."""
    unknown = set(events) - set(WEBHOOK_EVENTS)
    if unknown or not events:
        raise ValueError(f"unknown events {sorted(unknown)}")
    if include_fhir and urlsplit(url).scheme != "https":
        raise ValueError("the FHIR Bundle is sent only to https endpoints")
    secret = new_secret()
    endpoint = WebhookEndpoint(
        url=url,
        events=" ".join(e for e in WEBHOOK_EVENTS if e in events),
        enabled=True,
        include_fhir=include_fhir,
        secret=secret,
    )
    session.add(endpoint)
    return endpoint, secret


def rotate_secret(endpoint: WebhookEndpoint, now: datetime | None = None) -> str:
    """A new secret; the old one keeps signing too for 24 hours (not committed)."""
    now = now or utcnow()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = now + ROTATION_OVERLAP
    endpoint.secret = new_secret()
    return endpoint.secret


def send_test_event(session: SessionLike, endpoint: WebhookEndpoint) -> OutboxMessage:
    """Queue a `webhook.test` event for one endpoint, whatever events it receives."""
    data = {"endpoint": endpoint.id, "test": True}
    return queue_event(session, TEST_EVENT, data, endpoints=[endpoint])[0]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None
