"""What staff can do about email delivery: retry failed emails, mark one handled, send a test.

Each function is one unit of work (check, change, audit, commit), called by the Outbox page and
by ``flask --app portal outbox retry-failed`` alike; the caller says who acts and from where.
"""

from __future__ import annotations

import secrets
from collections import Counter

from flask import current_app
from sqlalchemy import select

from .. import outbox
from ..extensions import SessionLike
from ..models import REFERENCE_ALPHABET, OutboxMessage, utcnow
from .actions import Actor, staff_action

__all__ = ["Actor", "mark_handled", "recent_tests", "retry_failed", "retry_one", "send_test"]

TEST_TEMPLATE = "email/test"
# The recipient's kind, from the template it was queued with.
KINDS = {
    "email/notification": "Front desk",
    "email/acknowledgement": "Patient",
    TEST_TEMPLATE: "Test",
}


def kind_of(template: str) -> str:
    """Front desk, Patient, Test or Webhook: who a message was for, without saying their address."""
    if template in KINDS:
        return KINDS[template]
    # A webhook is queued under its event's name (submission.created ...), an email under email/.
    return "Other" if template.startswith("email/") else "Webhook"


def failed_to_retry(session: SessionLike) -> list[OutboxMessage]:
    """Failed emails nobody has marked as handled: what "Retry all failed" queues again."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == "failed", OutboxMessage.handled_at.is_(None))
            .order_by(OutboxMessage.id)
        )
    )


def retry_failed(session: SessionLike, actor: Actor) -> int:
    """Queue every failed, unhandled email again, audited as one action; returns how many."""
    messages = failed_to_retry(session)
    kinds = Counter(kind_of(message.template) for message in messages)
    detail = {"messages": len(messages), "kinds": dict(kinds)}
    with staff_action(session, actor, "outbox.retry_failed", detail=detail):
        for message in messages:
            outbox.resend(session, message)
    return len(messages)


def retry_one(session: SessionLike, message_id: int, actor: Actor) -> OutboxMessage | None:
    """Queue one email again (failed, waiting or sent), audited; None if there is no such email."""
    message = session.get(OutboxMessage, message_id)
    if message is None:
        return None
    detail = {"email": kind_of(message.template), "previous_status": message.status}
    with staff_action(session, actor, "outbox.retried", target=message.reference, detail=detail):
        outbox.resend(session, message)
    return message


def mark_handled(session: SessionLike, message_id: int, actor: Actor) -> OutboxMessage | None:
    """Record that a person dealt with a failed email (e.g. phoned the patient), audited.

    Only a failed email can be handled; None when there is no such failed email.
    """
    message = session.get(OutboxMessage, message_id)
    if message is None or message.status != "failed":
        return None
    if message.handled_at is None:
        target, detail = message.reference, {"email": kind_of(message.template)}
        with staff_action(session, actor, "outbox.handled", target=target, detail=detail):
            message.handled_at = utcnow()
            message.handled_by = actor.name
    return message


def send_test(session: SessionLike, address: str, actor: Actor) -> OutboxMessage:
    """Queue a test email to a validated address through the outbox itself, audited."""
    body = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    reference = f"TEST-{body}"
    practice = current_app.extensions["practice"]
    detail = {"reference": reference}
    with staff_action(session, actor, "outbox.test_email", target=address, detail=detail):
        message = outbox.queue(
            session,
            recipient=address,
            subject=f"Test email from the {practice.name} portal — {reference}",
            template=TEST_TEMPLATE,
            context={"reference": reference, "requested_by": actor.name},
            reference=reference,
        )
    return message


def recent_tests(session: SessionLike, limit: int = 5) -> list[OutboxMessage]:
    """The newest test emails, to show their outcome."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == TEST_TEMPLATE)
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )
