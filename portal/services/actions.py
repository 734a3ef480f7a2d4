"""Who acts, and the one unit of work of every staff action: change, audit record, commit.

A service opens `staff_action(...)`, changes what it changes inside the block, and leaves it:
the audit event is added and the whole is committed together, or, when anything fails, nothing
is (the session is rolled back and the error goes on to the caller: a 503 page, a CLI error).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

from .. import audit
from ..extensions import SessionLike
from ..models import ApiToken, User


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff account or an API token (with the request's address), or the CLI."""

    user: User | None = None
    # What the audit trail says instead (e.g. "unknown account" for a failed sign-in); empty:
    # the account, the token or the command line names the actor.
    label: str = ""
    api_token: ApiToken | None = None
    ip: str | None = None

    @property
    def name(self) -> str:
        """What the audit trail says: the account's email, the token's name or "command line"."""
        if self.label:
            return self.label
        if self.user is not None:
            return self.user.email
        if self.api_token is not None:
            return self.api_token.name
        return audit.COMMAND_LINE

    @property
    def via(self) -> str | None:
        """How the change came in, for the audit detail (the API says so)."""
        return "api" if self.api_token is not None else None


class About(TypedDict, total=False):
    """What an audit event is about: its target (a reference, an email) and its detail."""

    target: str | None
    detail: dict[str, Any] | None


@dataclass
class Action:
    """The audit event a unit of work ends with; the block may fill in its target and detail."""

    name: str
    target: str | None = None
    detail: dict[str, Any] | None = None


def audit_event(session: SessionLike, actor: Actor, action: str, **about: Unpack[About]) -> None:
    """Add one audit event by this actor to the session (committed with what it records)."""
    audit.record(session, action, user=actor.user, actor=actor.name, ip=actor.ip, **about)


@contextmanager
def unit_of_work(session: SessionLike) -> Iterator[SessionLike]:
    """Commit what the block did when it ends normally; roll all of it back when it raises."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


@contextmanager
def staff_action(
    session: SessionLike, actor: Actor, action: str, **about: Unpack[About]
) -> Iterator[Action]:
    """One staff action: the block's changes, its audit event and the commit, all or nothing."""
    event = Action(action, about.get("target"), about.get("detail"))
    with unit_of_work(session):
        yield event
        audit_event(session, actor, event.name, target=event.target, detail=event.detail)


def record_event(session: SessionLike, actor: Actor, action: str, **about: Unpack[About]) -> None:
    """Commit an audit event that is the whole action (a page viewed, a sign-in failed)."""
    with unit_of_work(session):
        audit_event(session, actor, action, **about)
