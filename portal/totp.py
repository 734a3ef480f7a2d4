"""Two-factor sign-in: TOTP codes accepted once, pending secrets kept encrypted in the database,
and one-time set-up links.

Nothing here reads the request: the views and the CLI call it alike. Every one-time thing (a
code's time step, a set-up link, a pending secret) is claimed with one conditional UPDATE, and
only the request whose UPDATE changed a row succeeds: two requests that arrive together with the
same code or link cannot both get in, on SQLite or PostgreSQL.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from datetime import timedelta
from typing import Any, cast

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import CursorResult, or_, select, update

from .extensions import SessionLike
from .models import User, new_session_token, utcnow

# A different key from the one that signs cookies, derived from it: a leaked cookie signature
# key alone says nothing about this one, and rotating SECRET_KEY only voids pending set-ups.
KEY_INFO = b"practice-portal: pending TOTP secret"


def _fernet() -> Fernet:
    secret_key = current_app.config["SECRET_KEY"]
    material = secret_key.encode() if isinstance(secret_key, str) else bytes(secret_key)
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KEY_INFO).derive(material)
    return Fernet(base64.urlsafe_b64encode(key))


def pending_secret(user: User) -> str:
    """The secret being set up for this user: the stored one, or a new one stored encrypted.

    The caller commits. A pending secret that cannot be read (SECRET_KEY changed) is replaced.
    """
    if user.totp_pending:
        try:
            return _fernet().decrypt(user.totp_pending.encode()).decode()
        except InvalidToken:
            pass
    return new_pending_secret(user)


def new_pending_secret(user: User) -> str:
    """Replace the pending secret with a new one (stored encrypted); the caller commits."""
    secret = pyotp.random_base32()
    user.totp_pending = _fernet().encrypt(secret.encode()).decode()
    return secret


def matching_step(secret: str, code: str, clock: float | None = None) -> int | None:
    """The time step (this one or one either side) whose code this is, or None."""
    totp = pyotp.TOTP(secret)
    clock = time.time() if clock is None else clock
    for drift in (0, -1, 1):
        moment = int(clock + drift * totp.interval)
        if totp.verify(code, for_time=moment):
            return moment // totp.interval
    return None


def claim_code(session: SessionLike, user: User, code: str, clock: float | None = None) -> bool:
    """True when the code is right for the user's authenticator and its step was not used yet.

    The step is claimed with one conditional UPDATE; of several requests carrying the same code,
    only the one whose UPDATE changed the row gets True. The caller commits.
    """
    if not user.totp_secret:
        return False
    step = matching_step(user.totp_secret, code, clock)
    if step is None:
        return False
    table = User.__table__
    # An UPDATE's result is a CursorResult (it has rowcount); Session.execute is typed as Result.
    result = cast(
        CursorResult[Any],
        session.execute(
            update(table)
            .where(
                table.c.id == user.id,
                table.c.totp_secret == user.totp_secret,
                or_(table.c.totp_last_step.is_(None), table.c.totp_last_step < step),
            )
            .values(totp_last_step=step)
        ),
    )
    return result.rowcount == 1


def confirm_pending(
    session: SessionLike, user: User, code: str, *, setup_token_hash: str | None = None
) -> bool:
    """Turn two-factor sign-in on with the pending secret if the code is right; True if it did.

    One conditional UPDATE moves the pending secret into place, records the code's step, ends
    every session of the user (a new session token) and, for a set-up link, uses the link up:
    it changes a row only while the secret is still pending (and the link still valid), so a
    second request with the same code or link changes nothing. The caller commits.
    """
    if not user.totp_pending or user.totp_secret:
        return False
    secret = pending_secret(user)
    step = matching_step(secret, code)
    if step is None:
        return False
    table = User.__table__
    conditions = [
        table.c.id == user.id,
        table.c.totp_secret.is_(None),
        table.c.totp_pending == user.totp_pending,
    ]
    if setup_token_hash is not None:
        conditions += [
            table.c.setup_token_hash == setup_token_hash,
            table.c.setup_expires_at > utcnow(),
        ]
    # An UPDATE's result is a CursorResult (it has rowcount); Session.execute is typed as Result.
    result = cast(
        CursorResult[Any],
        session.execute(
            update(table)
            .where(*conditions)
            .values(
                totp_secret=secret,
                totp_pending=None,
                totp_last_step=step,
                setup_token_hash=None,
                setup_expires_at=None,
                session_token=new_session_token(),
            )
        ),
    )
    return result.rowcount == 1


def provisioning(user: User, secret: str) -> dict[str, str]:
    """What an authenticator app needs: the secret in groups of four, and the otpauth:// link."""
    practice = current_app.extensions["practice"]
    return {
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "uri": pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=practice.name),
    }


# --- One-time set-up links -----------------------------------------------------------------------


def token_hash(token: str) -> str:
    """What is stored of a set-up link's token: its SHA-256, so the database alone opens nothing."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_setup_link(user: User) -> str:
    """Give the user a new one-time set-up link (any earlier one stops working); the caller commits.

    Returns the link, built from PUBLIC_BASE_URL, never from a request.
    """
    token = secrets.token_urlsafe(32)
    user.setup_token_hash = token_hash(token)
    user.setup_expires_at = utcnow() + timedelta(seconds=current_app.config["SETUP_LINK_LIFETIME"])
    user.totp_pending = None  # the link's holder gets a secret of their own
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}/admin/setup/{token}"


def setup_link_user(session: SessionLike, token: str) -> User | None:
    """The active account, still without an authenticator, whose valid set-up link this is."""
    if not token or len(token) > 100:
        return None
    user = session.scalar(select(User).where(User.setup_token_hash == token_hash(token)))
    if (
        user is None
        or not user.active
        or user.totp_secret
        or user.setup_expires_at is None
        or user.setup_expires_at <= utcnow()
    ):
        return None
    return user
