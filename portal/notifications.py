"""The emails a submission causes: the front desk's notification and the patient's receipt.

Both are queued in the outbox inside the transaction that stores the submission, so they exist
exactly when the submission does. Their bodies are rendered later, by the delivery worker, from
``templates/email/<name>.txt`` and ``.html`` and the context stored here. Subjects are fixed text
and the reference. The patient's acknowledgement is in the language of the page they sent the
form from: its subject is translated here and its context stores the language, in which the
worker renders it (with ``Content-Language``); the front desk's notification stays in English.

By default the front desk's notification says only that something arrived: the reference, the
form, the time and the link. The specialty or topic (what treatment a patient seeks), a name, an
address, even the patient's email in Reply-To are health information, so they are stored in the
message only with NOTIFY_INCLUDE_DETAILS. Routing by specialty or topic still works: it chooses
the recipients, and the message does not say why.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from . import outbox, promise
from .extensions import db
from .i18n import languages, page_language
from .models import OutboxMessage, Submission, utcnow
from .practice import Practice
from .submissions import CATEGORY, KINDS, NOT_GIVEN, details, language_line, local_time

log = logging.getLogger(__name__)

NOTIFICATION_SUBJECTS = {
    "appointment": "New appointment request — {reference}",
    "contact": "New message — {reference}",
}
ACKNOWLEDGEMENT_SUBJECTS = {
    "appointment": _l("We received your appointment request — %(reference)s"),
    "contact": _l("We received your message — %(reference)s"),
}


def queue_submission_emails(submission: Submission) -> list[OutboxMessage]:
    """Queue the notification (one per front-desk address) and the patient's acknowledgement."""
    config = current_app.config
    practice: Practice = current_app.extensions["practice"]
    # The time in the email must be the time stored with the submission.
    if submission.created_at is None:
        submission.created_at = utcnow()
    kind = submission.kind
    reference = submission.reference
    category_field = CATEGORY[kind]
    category = getattr(submission, category_field.key)
    include_details = bool(config["NOTIFY_INCLUDE_DETAILS"])
    # The front desk reads English whatever the language of the patient's page.
    with force_locale(languages().default.locale):
        context = _notification(submission, practice, include_details)
    patient_email = submission.email if _sendable(submission.email) else None

    recipients = _front_desk(practice, config["FRONT_DESK_EMAILS"], category)
    if not recipients:
        log.error("no front-desk address for %s: set FRONT_DESK_EMAILS", reference)
    send = partial(outbox.queue, db.session, reference=reference)
    queued = [
        send(
            recipient=recipient,
            subject=NOTIFICATION_SUBJECTS[kind].format(reference=reference),
            template="email/notification",
            context=context,
            # The front desk answers a patient from the staff area unless details are on.
            reply_to=patient_email if include_details else None,
        )
        for recipient in recipients
    ]
    if patient_email:
        # Read in the request, so in the language of the patient's page.
        acknowledgement = {
            "reference": reference,
            "form": kind,
            "noun": str(KINDS[kind].noun),
            "language": page_language().tag,
            # Said in the patient's language now: the worker renders later, outside the request.
            "usual_answer": promise.usual_answer(),
        }
        queued.append(
            send(
                recipient=patient_email,
                subject=str(ACKNOWLEDGEMENT_SUBJECTS[kind]) % {"reference": reference},
                template="email/acknowledgement",
                context=acknowledgement,
            )
        )
    elif submission.email:
        log.info("no acknowledgement for %s: the address needs SMTPUTF8", reference)
    return queued


def _notification(
    submission: Submission, practice: Practice, include_details: bool
) -> dict[str, Any]:
    """The front desk's notification context: labels stored as text (the context is JSON)."""
    reference = submission.reference
    category_field = CATEGORY[submission.kind]
    context: dict[str, Any] = {
        "reference": reference,
        "form": submission.kind,
        "form_label": str(KINDS[submission.kind].label),
        "received": local_time(submission.created_at, practice.zone),
        "staff_url": f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/admin/submissions/"
        f"{reference}",
        # Which language to call back in, and whether to book an interpreter: not health
        # information, and what the desk needs before the call, so always said.
        "language_line": language_line(submission),
        "details": None,
    }
    if include_details:
        context |= {
            "category_label": str(category_field.label),
            "category": getattr(submission, category_field.key) or str(NOT_GIVEN),
            "details": details(submission),
        }
    return context


def _front_desk(practice: Practice, default: list[str] | str, category: str | None) -> list[str]:
    """The profile's routing for this specialty or topic, else FRONT_DESK_EMAILS; no repeats."""
    routed = practice.routing.get(category or "") or default
    addresses = [routed] if isinstance(routed, str) else list(routed)
    return list(dict.fromkeys(a.strip() for a in addresses if a and a.strip()))


def _sendable(address: str | None) -> bool:
    """An address Flask-Mail can put in a header and an envelope: its local part is ASCII.

    Flask-Mail encodes a non-ASCII local part as an RFC 2047 word, which makes another address.
    """
    return bool(address and address.rpartition("@")[0].isascii())
