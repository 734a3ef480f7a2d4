"""The audit trail: who did what to which record, when (UTC) and from which address.

An event is added to the session of the action it records and committed with it, so an action
whose audit record cannot be written does not happen either. The portal only ever inserts audit
events: a flush or a bulk statement that would change or delete one is refused.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from .extensions import SessionLike
from .models import AuditEvent, User

# Action -> how the audit page says it.
ACTIONS: dict[str, str] = {
    "login.success": "Signed in",
    "login.failed": "Sign-in failed",
    "login.blocked": "Sign-in refused: too many failures",
    "logout": "Signed out",
    "session.expired": "Session ended after inactivity or its time limit",
    "inbox.viewed": "Viewed the inbox",
    "submission.viewed": "Viewed a submission",
    "submission.status": "Changed a status",
    "submission.assigned": "Changed who a submission is assigned to",
    "note.added": "Added a note",
    "notification.resent": "Resent a notification",
    "outbox.retry_failed": "Retried all failed emails",
    "outbox.retried": "Retried an email",
    "outbox.handled": "Marked a failed email as handled",
    "outbox.test_email": "Sent a test email",
    "export": "Exported submissions",
    "user.created": "Created an account",
    "user.disabled": "Disabled an account",
    "user.enabled": "Enabled an account",
    "user.role": "Changed a role",
    "user.setup_link": "Created a two-factor set-up link",
    "user.password": "Changed a password",
    "user.2fa_enabled": "Turned on two-factor sign-in",
    "user.2fa_disabled": "Turned off two-factor sign-in",
    "purge": "Purged old submissions",
    "submissions.listed": "Listed submissions through the API",
    "api_token.created": "Created an API token",
    "api_token.revoked": "Revoked an API token",
    "webhook.created": "Created a webhook endpoint",
    "webhook.enabled": "Enabled a webhook endpoint",
    "webhook.disabled": "Disabled a webhook endpoint",
    "webhook.rotated": "Rotated a webhook endpoint's secret",
    "webhook.test": "Sent a test webhook event",
}

COMMAND_LINE = "command line"


class AuditTrailIsAppendOnly(RuntimeError):
    """Raised when something tries to change or delete an audit event."""


def record(
    session: SessionLike,
    action: str,
    *,
    user: User | None = None,
    actor: str | None = None,
    target: str | None = None,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the session; it is committed with the action it records."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    audit_event = AuditEvent(
        user_id=user.id if user is not None else None,
        actor=(actor or (user.email if user is not None else COMMAND_LINE))[:254],
        action=action,
        target=target[:254] if target else None,
        ip=ip[:45] if ip else None,
        detail=detail,
    )
    session.add(audit_event)
    return audit_event


@event.listens_for(Session, "before_flush")
def _refuse_changes_to_audit_events(session: Session, context: object, instances: object) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditTrailIsAppendOnly("audit events are never changed or deleted")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_changes_to_audit_events(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and any(
        mapper.class_ is AuditEvent for mapper in state.all_mappers
    ):
        raise AuditTrailIsAppendOnly("audit events are never changed or deleted")
