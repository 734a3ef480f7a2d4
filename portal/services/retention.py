"""Retention: submissions older than the kept days go, with their notes and emails.

The audit trail stays: it names submissions by reference only and holds no patient details.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Select, delete, func, select

from ..extensions import SessionLike
from ..models import Note, OutboxMessage, Submission, utcnow
from .actions import Actor, staff_action

# Submissions deleted per statement: bounded IN lists, on SQLite and PostgreSQL alike.
PURGE_BATCH = 500


@dataclass
class Purge:
    """What a purge deleted (or, dry, would delete): submissions, notes, emails; and the cutoff."""

    cutoff: datetime
    counts: dict[str, int] = field(
        default_factory=lambda: {"submissions": 0, "notes": 0, "emails": 0}
    )


def check_days(days: Any) -> int:
    """The days to keep, refused unless a whole number of 1 or more (ValueError)."""
    if not isinstance(days, int) or days < 1:
        # A setting of 0 (or a typo) must never mean "delete every submission".
        raise ValueError(f"RETENTION_DAYS must be a whole number of days, 1 or more: {days!r}")
    return days


def purge(session: SessionLike, actor: Actor, days: int, *, dry_run: bool = False) -> Purge:
    """Delete what was received more than `days` days ago, audited; dry: only count it."""
    days = check_days(days)
    result = Purge(cutoff=utcnow() - timedelta(days=days))
    if dry_run:
        _purge_batches(session, result, _count_batch)
        return result
    with staff_action(session, actor, "purge") as action:
        _purge_batches(session, result, _delete_batch)
        # the deletions and their audit record, together or not at all
        action.detail = {
            "older_than_days": days,
            "cutoff": result.cutoff.isoformat(),
            **result.counts,
        }
    return result


def _purge_batches(session: SessionLike, result: Purge, handle: Any) -> None:
    old = select(Submission.id, Submission.reference).where(Submission.created_at < result.cutoff)
    last_id = 0
    while batch := session.execute(
        old.where(Submission.id > last_id).order_by(Submission.id).limit(PURGE_BATCH)
    ).all():
        last_id = batch[-1].id
        ids = [row.id for row in batch]
        references = [row.reference for row in batch]
        for what, n in handle(session, ids, references).items():
            result.counts[what] += n


def _count_batch(session: SessionLike, ids: list[int], references: list[str]) -> dict[str, int]:
    def count(statement: Select[Any]) -> int:
        return session.scalar(select(func.count()).select_from(statement.subquery())) or 0

    return {
        "notes": count(select(Note).where(Note.submission_id.in_(ids))),
        "emails": count(select(OutboxMessage).where(OutboxMessage.reference.in_(references))),
        "submissions": len(ids),
    }


def _delete_batch(session: SessionLike, ids: list[int], references: list[str]) -> dict[str, int]:
    def rows(statement: Any) -> int:
        # A DELETE's result is a CursorResult (it has rowcount); Session.execute is typed as Result.
        return cast(CursorResult[Any], session.execute(statement)).rowcount

    return {
        "notes": rows(delete(Note).where(Note.submission_id.in_(ids))),
        "emails": rows(delete(OutboxMessage).where(OutboxMessage.reference.in_(references))),
        "submissions": rows(delete(Submission).where(Submission.id.in_(ids))),
    }
