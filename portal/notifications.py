"""The emails a submission causes: the front desk's notification and the patient's receipt.

Both are queued in the outbox inside the transaction that stores the submission, so they exist
exactly when the submission does. Their bodies are rendered later, by the delivery worker, from
``templates/email/<name>.txt`` and ``.html`` and the context stored here. Subjects are fixed text
and the reference.

By default the front desk's notification says only that something arrived: the reference, the
form, the time and the link. The specialty or topic (what treatment a patient seeks), a name, an
address, even the patient's email in Reply-To are health information, so they are stored in the
message only with NOTIFY_INCLUDE_DETAILS. Routing by specialty or topic still works: it chooses
the recipients, and the message does not say why.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from flask import current_app

from . import outbox
from .extensions import db
from .models import OutboxMessage, Submission, utcnow
from .practice import Practice, format_phone

log = logging.getLogger(__name__)

FORM_LABELS = {"appointment": "Appointment request", "contact": "Message"}
NOUNS = {"appointment": "request", "contact": "message"}
NOTIFICATION_SUBJECTS = {
    "appointment": "New appointment request — {reference}",
    "contact": "New message — {reference}",
}
ACKNOWLEDGEMENT_SUBJECTS = {
    "appointment": "We received your appointment request — {reference}",
    "contact": "We received your message — {reference}",
}
# The answers of choice fields as the forms show them.
CHOICE_LABELS = {
    "contact_method": {"phone": "Phone", "email": "Email", "text": "Text message"},
    "patient_type": {"new": "New patient", "returning": "Returning patient"},
    "preferred_time": {"morning": "Morning", "afternoon": "Afternoon", "any": "Any time"},
}
# Every field, with the form's own label, for practices that set NOTIFY_INCLUDE_DETAILS.
DETAIL_FIELDS = {
    "appointment": [
        ("first_name", "First name"),
        ("last_name", "Last name"),
        ("date_of_birth", "Date of birth"),
        ("phone", "Phone number"),
        ("email", "Email address"),
        ("contact_method", "How should we contact you?"),
        ("specialty", "Specialty"),
        ("physician", "Physician"),
        ("patient_type", "New or returning patient?"),
        ("preferred_days", "Preferred days"),
        ("preferred_time", "Preferred time of day"),
        ("insurance", "Insurance provider"),
        ("referring_physician", "Referring physician"),
        ("message", "Reason for visit"),
    ],
    "contact": [
        ("name", "Name"),
        ("email", "Email address"),
        ("phone", "Phone number"),
        ("topic", "Topic"),
        ("message", "Message"),
    ],
}


def queue_submission_emails(submission: Submission) -> list[OutboxMessage]:
    """Queue the notification (one per front-desk address) and the patient's acknowledgement."""
    config = current_app.config
    practice: Practice = current_app.extensions["practice"]
    # The time in the email must be the time stored with the submission.
    if submission.created_at is None:
        submission.created_at = utcnow()
    kind = submission.form
    reference = submission.reference
    category = submission.specialty if kind == "appointment" else submission.topic
    include_details = bool(config["NOTIFY_INCLUDE_DETAILS"])
    context: dict[str, Any] = {
        "reference": reference,
        "form": kind,
        "form_label": FORM_LABELS[kind],
        "received": submission.created_at.astimezone(practice.zone).strftime(
            "%B %-d, %Y at %-I:%M %p %Z"
        ),
        "staff_url": f"{config['PUBLIC_BASE_URL'].rstrip('/')}/admin/submissions/{reference}",
        "details": None,
    }
    if include_details:
        context |= {
            "category_label": "Specialty" if kind == "appointment" else "Topic",
            "category": category,
            "details": _details(submission),
        }
    patient_email = submission.email if _sendable(submission.email) else None

    queued = []
    recipients = _front_desk(practice, config["FRONT_DESK_EMAILS"], category)
    if not recipients:
        log.error("no front-desk address for %s: set FRONT_DESK_EMAILS", reference)
    for recipient in recipients:
        queued.append(
            outbox.queue(
                db.session,
                recipient=recipient,
                subject=NOTIFICATION_SUBJECTS[kind].format(reference=reference),
                template="email/notification",
                context=context,
                # The front desk answers a patient from the staff area unless details are on.
                reply_to=patient_email if include_details else None,
                reference=reference,
            )
        )
    if patient_email:
        queued.append(
            outbox.queue(
                db.session,
                recipient=patient_email,
                subject=ACKNOWLEDGEMENT_SUBJECTS[kind].format(reference=reference),
                template="email/acknowledgement",
                context={"reference": reference, "form": kind, "noun": NOUNS[kind]},
                reference=reference,
            )
        )
    elif submission.email:
        log.info("no acknowledgement for %s: the address needs SMTPUTF8", reference)
    return queued


def _front_desk(practice: Practice, default: list[str] | str, category: str | None) -> list[str]:
    """The profile's routing for this specialty or topic, else FRONT_DESK_EMAILS; no repeats."""
    routed = practice.routing.get(category or "") or default
    addresses = [routed] if isinstance(routed, str) else list(routed)
    return list(dict.fromkeys(a.strip() for a in addresses if a and a.strip()))


def _sendable(address: str | None) -> bool:
    """An address Flask-Mail can put in a header and an envelope: its local part is ASCII.

    Flask-Mail encodes a non-ASCII local part as an RFC 2047 word, which makes another address.
    """
    return bool(address) and address.rpartition("@")[0].isascii()


def _details(submission: Submission) -> list[tuple[str, str]]:
    """Every field the patient filled in, as label and text, for NOTIFY_INCLUDE_DETAILS."""
    details = []
    for name, label in DETAIL_FIELDS[submission.form]:
        value = getattr(submission, name)
        if isinstance(value, date):
            text = f"{value:%B} {value.day}, {value.year}"
        elif name == "phone" and value:
            text = format_phone(value)
        elif name in CHOICE_LABELS and value:
            text = CHOICE_LABELS[name].get(value, value)
        else:
            text = value or ""
        details.append((label, text or "Not given"))
    return details
