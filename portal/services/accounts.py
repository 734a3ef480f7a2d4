"""Staff accounts: create, disable and enable, set a password or a role, two-factor sign-in.

The users page, the account page, the set-up link and ``flask --app portal users ...`` all call
these, so an account changes by one rule wherever the change is made. Each function is one unit
of work (check, change, audit, commit); the caller says who acts.
"""

from __future__ import annotations

from sqlalchemy import select

from .. import totp
from ..extensions import SessionLike
from ..models import ROLES, User
from ..passwords import password_problem
from .actions import Actor, staff_action, unit_of_work


class AccountError(ValueError):
    """The change may not be made; the message says why, in plain words."""


def find(session: SessionLike, email: str) -> User | None:
    """The account with this email address (as typed: trimmed, any case), or None."""
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def check_password(password: str, email: str) -> None:
    """Refuse a password the staff password rule refuses (AccountError)."""
    problem = password_problem(password, email)
    if problem:
        raise AccountError(problem)


def create(session: SessionLike, actor: Actor, email: str, role: str, password: str) -> User:
    """Add an account (email already validated and normalised), audited."""
    if role not in ROLES:
        raise AccountError(f"not a role: {role}")
    if find(session, email) is not None:
        raise AccountError(f"there is already an account for {email}")
    check_password(password, email)
    with staff_action(session, actor, "user.created", target=email, detail={"role": role}):
        user = User(email=email, role=role)
        user.set_password(password)
        session.add(user)
    return user


def set_active(session: SessionLike, actor: Actor, user: User, active: bool) -> bool:
    """Enable or disable an account, audited; its sessions end. False when it already was."""
    if user.active == active:
        return False
    action = "user.enabled" if active else "user.disabled"
    with staff_action(session, actor, action, target=user.email):
        user.active = active
        user.end_sessions()  # a disabled user is signed out everywhere at once
    return True


def set_password(session: SessionLike, actor: Actor, user: User, password: str) -> None:
    """Give an account a new password, audited: every one of its sessions ends."""
    check_password(password, user.email)
    with staff_action(session, actor, "user.password", target=user.email):
        user.set_password(password)  # replaces the session token


def set_role(session: SessionLike, actor: Actor, user: User, role: str) -> bool:
    """Change an account's role, audited; its sessions start again. False when it had it."""
    if role not in ROLES:
        raise AccountError(f"not a role: {role}")
    if user.role == role:
        return False
    detail = {"from": user.role, "to": role}
    with staff_action(session, actor, "user.role", target=user.email, detail=detail):
        user.role = role
        user.end_sessions()  # the account's sessions start again with the new role
    return True


def setup_link(session: SessionLike, actor: Actor, user: User) -> str:
    """A new one-time link that sets up two-factor sign-in for the account, audited."""
    if not user.active:
        raise AccountError(f"{user.email} is disabled: enable it first")
    if user.totp_secret:
        raise AccountError(f"{user.email} already has two-factor sign-in")
    with staff_action(session, actor, "user.setup_link", target=user.email):
        return totp.create_setup_link(user)


def pending_secret(session: SessionLike, user: User) -> str:
    """The authenticator secret being set up for the account (a new one is kept encrypted)."""
    with unit_of_work(session):
        return totp.pending_secret(user)


def new_pending_secret(session: SessionLike, user: User) -> None:
    """Replace the secret being set up: whoever saw the one before does not know the new one."""
    with unit_of_work(session):
        totp.new_pending_secret(user)


def enable_two_factor(
    session: SessionLike,
    actor: Actor,
    user: User,
    code: str,
    *,
    setup_token_hash: str | None = None,
) -> bool:
    """Turn two-factor sign-in on if the code is right for the pending secret, audited.

    With a set-up link's hash, the link is used up in the same UPDATE. Every session of the
    account ends. False (and nothing changed) when the code or the link is not right.
    """
    if not totp.confirm_pending(session, user, code, setup_token_hash=setup_token_hash):
        session.rollback()
        return False
    detail = {"by": "set-up link"} if setup_token_hash is not None else None
    with staff_action(session, actor, "user.2fa_enabled", target=user.email, detail=detail):
        pass  # the UPDATE above is in this transaction: it commits with its audit event
    session.refresh(user)
    return True


def disable_two_factor(session: SessionLike, actor: Actor, user: User) -> None:
    """Turn two-factor sign-in off, audited: every session of the account ends."""
    with staff_action(session, actor, "user.2fa_disabled", target=user.email):
        user.totp_secret = None
        user.totp_last_step = None
        user.totp_pending = None
        user.end_sessions()
