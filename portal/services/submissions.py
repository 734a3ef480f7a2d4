"""Changing a submission: its status and its notes, whoever does it (staff or an API token)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from flask import current_app
from sqlalchemy import select

from .. import outbox, webhooks
from ..extensions import SessionLike
from ..models import STATUSES, Note, OutboxMessage, Submission, User, utcnow
from .actions import Actor, audit_event, staff_action, unit_of_work

__all__ = [
    "Actor",
    "StatusConflict",
    "Update",
    "add_note",
    "assign",
    "assignable_users",
    "resend",
    "set_status",
]

# Who each queued email of a submission was for, as staff pages and the audit trail say it.
MESSAGE_KINDS = {
    "email/notification": "Front-desk notification",
    "email/acknowledgement": "Patient acknowledgement",
}


@dataclass
class Update:
    """What one update changed: the status moved from -> to, and the note added."""

    submission: Submission
    status_from: str | None = None
    status_to: str | None = None
    note: Note | None = None
    changes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True when anything changed (a status set to what it was is no change)."""
        return bool(self.changes)


class Keep(Enum):
    """The assignment argument's default: leave the assignment as it is (None: assign nobody)."""

    ASSIGNMENT = "keep"


KEEP = Keep.ASSIGNMENT


def assignable_users(session: SessionLike) -> list[User]:
    """Who a request can be assigned to: active staff and admins, by email."""
    return list(session.scalars(select(User).where(User.active).order_by(User.email)))


class StatusConflict(Exception):
    """The submission's status is no longer the one the caller expected."""

    def __init__(self, current: str) -> None:
        super().__init__(current)
        self.current = current


def update_submission(
    session: SessionLike,
    submission: Submission,
    actor: Actor,
    *,
    status: str | None = None,
    note: str | None = None,
    if_status: str | None = None,
    assign: User | None | Literal[Keep.ASSIGNMENT] = KEEP,
) -> Update:
    """Set the status, the assignment (a person, or None: nobody) and/or add a note, audited,
    in the caller's transaction (not committed).

    This is the one place a submission is updated: `submission.updated` events are to be
    queued here, in the same transaction (see the end of the function).
    """
    if status is not None and status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    if assign is not KEEP and assign is not None and assign != submission.assigned_to:
        if not assign.active:
            raise ValueError("a request is assigned to active accounts only")
    if if_status is not None and submission.status != if_status:
        raise StatusConflict(submission.status)
    update = Update(submission=submission)
    detail_via: dict[str, Any] = {"via": actor.via} if actor.via else {}
    if status is not None and status != submission.status:
        update.status_from, update.status_to = submission.status, status
        submission.status = status
        update.changes.append("status")
        if update.status_from == "new" and submission.first_response_at is None:
            _record_first_response(submission, actor)
        _record(
            session,
            actor,
            "submission.status",
            submission,
            {"from": update.status_from, "to": status, **detail_via},
        )
    if assign is not KEEP and assign != submission.assigned_to:
        before = submission.assigned_to
        submission.assigned_to = assign
        update.changes.append("assigned_to")
        # Staff emails are staff data: the audit trail names both accounts.
        detail = {
            "from": before.email if before else None,
            "to": assign.email if assign else None,
        }
        _record(session, actor, "submission.assigned", submission, {**detail, **detail_via})
    if note is not None:
        update.note = Note(
            submission_id=submission.id,
            author_id=actor.user.id if actor.user is not None else None,
            api_token_id=actor.api_token.id if actor.api_token is not None else None,
            text=note,
        )
        session.add(update.note)
        update.changes.append("note")
        _record(session, actor, "note.added", submission, {"characters": len(note), **detail_via})
    # The `submission.updated` webhook event, in this transaction: what changed, never the text.
    webhooks.submission_updated(session, submission, update.changes)
    return update


def _record_first_response(submission: Submission, actor: Actor) -> None:
    """The first time a request leaves New: when, by whom, and its wait in business time."""
    practice = current_app.extensions["practice"]
    submission.first_response_at = utcnow()
    submission.first_response_by_id = actor.user.id if actor.user is not None else None
    waited = practice.business_seconds(submission.created_at, submission.first_response_at)
    submission.response_seconds = round(waited)


def _record(
    session: SessionLike, actor: Actor, action: str, submission: Submission, detail: dict[str, Any]
) -> None:
    audit_event(session, actor, action, target=submission.reference, detail=detail)


def set_status(session: SessionLike, submission: Submission, actor: Actor, status: str) -> bool:
    """Move a submission to a status, audited and committed; False when it already had it."""
    with unit_of_work(session):
        return update_submission(session, submission, actor, status=status).changed


def assign(session: SessionLike, submission: Submission, actor: Actor, user: User | None) -> bool:
    """Assign a submission to an active account (None: to nobody), audited and committed.

    False when it already was; ValueError for an account that is disabled.
    """
    with unit_of_work(session):
        return update_submission(session, submission, actor, assign=user).changed


def add_note(session: SessionLike, submission: Submission, actor: Actor, text: str) -> Note:
    """Add a note to a submission, audited and committed."""
    with unit_of_work(session):
        note = update_submission(session, submission, actor, note=text).note
    assert note is not None  # update_submission always adds the note it is given
    return note


def message_kind(template: str) -> str:
    """Which of a submission's emails this is, in words."""
    return MESSAGE_KINDS.get(template, "Email")


def resend(session: SessionLike, reference: str, message_id: int, actor: Actor) -> str | None:
    """Queue one of this submission's emails again, audited; its kind, or None if it has none."""
    message = session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.id == message_id,
            OutboxMessage.reference == reference,  # only this submission's own emails
        )
    )
    if message is None:
        return None
    kind = message_kind(message.template)
    detail = {"email": kind, "previous_status": message.status}
    with staff_action(session, actor, "notification.resent", target=reference, detail=detail):
        outbox.resend(session, message)
    return kind
