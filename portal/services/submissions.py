"""Changing a submission: its status and its notes, whoever does it (staff or an API token)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from .. import audit, webhooks
from ..models import STATUSES, ApiToken, Note, Submission, User


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a staff account or an API token, and from which address."""

    user: User | None = None
    api_token: ApiToken | None = None
    ip: str | None = None

    @property
    def name(self) -> str:
        """What the audit trail says: the account's email or the token's name."""
        if self.user is not None:
            return self.user.email
        if self.api_token is not None:
            return self.api_token.name
        return audit.COMMAND_LINE

    @property
    def via(self) -> str | None:
        """How the change came in, for the audit detail (the API says so)."""
        return "api" if self.api_token is not None else None


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


class StatusConflict(Exception):
    """The submission's status is no longer the one the caller expected."""

    def __init__(self, current: str) -> None:
        super().__init__(current)
        self.current = current


def update_submission(
    session: Session,
    submission: Submission,
    actor: Actor,
    *,
    status: str | None = None,
    note: str | None = None,
    if_status: str | None = None,
) -> Update:
    """Set the status and/or add a note, audited, in the caller's transaction (not committed).

    This is the one place a submission is updated: `submission.updated` events are to be
    queued here, in the same transaction (see the end of the function).
    """
    if status is not None and status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    if if_status is not None and submission.status != if_status:
        raise StatusConflict(submission.status)
    update = Update(submission=submission)
    detail_via: dict[str, Any] = {"via": actor.via} if actor.via else {}
    if status is not None and status != submission.status:
        update.status_from, update.status_to = submission.status, status
        submission.status = status
        update.changes.append("status")
        _record(
            session,
            actor,
            "submission.status",
            submission,
            {"from": update.status_from, "to": status, **detail_via},
        )
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


def _record(
    session: Session, actor: Actor, action: str, submission: Submission, detail: dict[str, Any]
) -> None:
    audit.record(
        session,
        action,
        user=actor.user,
        actor=actor.name,
        target=submission.reference,
        ip=actor.ip,
        detail=detail,
    )
