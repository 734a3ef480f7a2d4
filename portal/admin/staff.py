"""Who is acting in a staff view: the signed-in account, never None past the blueprint's guard."""

from __future__ import annotations

from flask import request
from flask_login import current_user

from ..models import User
from ..services.actions import Actor


def current_staff() -> User:
    """The signed-in account as a model object; inside staff views it is always there.

    The blueprint's before_request lets no one through to a staff view without a session, so
    reaching this without one is a programming error, not a visitor's.
    """
    user = current_user._get_current_object() if current_user.is_authenticated else None
    if not isinstance(user, User):
        raise RuntimeError("current_staff() called outside a signed-in staff request")
    return user


def staff_actor(user: User | None = None) -> Actor:
    """The actor of a staff action from this request: the given account, else the signed-in one."""
    return Actor(user=user if user is not None else current_staff(), ip=request.remote_addr)


def visitor(user: User | None, label: str = "") -> Actor:
    """The actor of a sign-in step: the account when it exists (else the label), and the address."""
    return Actor(user=user, label=label, ip=request.remote_addr)
