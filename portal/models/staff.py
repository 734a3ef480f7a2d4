"""The staff area: accounts, API tokens, the audit trail and the sign-in throttle."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import Model
from .base import UTCDateTime, utcnow

ROLES = ("staff", "admin")


def new_session_token() -> str:
    """A fresh per-user session token: replacing it ends every session that carries the old one."""
    return secrets.token_urlsafe(32)


class User(UserMixin, Model):
    """A staff account: front-desk staff, or an admin who may also export, audit and manage."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="staff")
    active: Mapped[bool] = mapped_column(default=True)
    # Replaced on sign-out, password change and disabling; Flask-Login's session holds it too,
    # so a session (or a copied cookie) with the old token no longer signs anyone in.
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # The TOTP time step of the last code accepted: each code signs in once (claimed with a
    # conditional UPDATE, so two requests carrying the same code cannot both succeed).
    totp_last_step: Mapped[int | None]
    # The secret of an authenticator being set up, encrypted with a key derived from SECRET_KEY
    # (Fernet): it lives here until the first code confirms it, never in the session cookie.
    totp_pending: Mapped[str | None] = mapped_column(Text)
    # A one-time set-up link an admin created: the SHA-256 of its token (the token itself is
    # only ever shown to the admin), and when it stops working.
    setup_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    setup_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses to sign in an inactive user
        return self.active

    @property
    def is_admin(self) -> bool:
        """Admins may export, read the audit trail and manage accounts."""
        return self.role == "admin"

    def get_id(self) -> str:
        """What Flask-Login keeps in the session: the id and the current session token."""
        return f"{self.id}:{self.session_token}"

    def set_password(self, password: str) -> None:
        """Hash with PASSWORD_HASH_METHOD (scrypt) and end every session of this user."""
        method = current_app.config["PASSWORD_HASH_METHOD"]
        self.password_hash = generate_password_hash(password, method=method)
        self.end_sessions()

    def check_password(self, password: str) -> bool:
        """True when the password matches the stored hash."""
        return check_password_hash(self.password_hash, password)

    def end_sessions(self) -> None:
        """Replace the session token: every session signed in as this user ends."""
        self.session_token = new_session_token()

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


# --- The API for machines: bearer tokens ------------------------------------------------------

API_SCOPES = {
    "submissions:read": "Read submissions (their fields and FHIR)",
    "submissions:write": "Change a submission's status and add notes",
}
# Every token starts with this, so a leaked one is recognisable (secret scanners, logs).
API_TOKEN_PREFIX = "portal_"


class ApiToken(Model):
    """A bearer token for the API: only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Shown in the audit trail as the actor of everything done with the token.
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # The token's first characters, enough for staff to tell tokens apart; not a secret.
    hint: Mapped[str] = mapped_column(String(24))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Space-separated, from API_SCOPES.
    scopes: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_by: Mapped[User | None] = relationship()

    @staticmethod
    def new_secret() -> str:
        """A fresh token: the prefix and 32 random bytes, base64url-encoded."""
        return API_TOKEN_PREFIX + secrets.token_urlsafe(32)

    @staticmethod
    def hash(token: str) -> str:
        """SHA-256 of the token: 32 random bytes need no slow hash to resist guessing."""
        return hashlib.sha256(token.encode()).hexdigest()

    @property
    def scope_set(self) -> frozenset[str]:
        """The token's scopes."""
        return frozenset(self.scopes.split())

    def usable(self, now: datetime) -> bool:
        """Neither revoked nor expired."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} {self.hint}>"


class AuditEvent(Model):
    """One line of the audit trail: who did what, to what, when (UTC) and from where.

    Written in the transaction of the action it records; never updated or deleted by the portal.
    """

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), index=True)
    # The account's email at the time, the email typed at a failed sign-in, or "command line".
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(40), index=True)
    # What it was done to: a submission's reference, an account's email.
    target: Mapped[str | None] = mapped_column(String(254), index=True)
    ip: Mapped[str | None] = mapped_column(String(45), index=True)
    detail: Mapped[dict | None] = mapped_column(JSON)

    def __repr__(self) -> str:
        return f"<AuditEvent {self.id} {self.action}>"


class LoginThrottle(Model):
    """A counter of the sign-in throttle: failures of one key within its current window.

    Keys name what is counted: ``pair:<user id>:<address>`` (one account from one client
    address), ``account:<user id>`` (one account from anywhere), ``address:<address>`` (unknown
    accounts tried from one address) and ``blocked:<address>`` (refused attempts, so that they
    are audited once per window). Each count is one INSERT ... ON CONFLICT DO UPDATE, atomic on
    SQLite and PostgreSQL, made before the password is checked.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    failures: Mapped[int] = mapped_column(default=0)
    # Per account, over its limit: no attempt from an address that already failed before this.
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<LoginThrottle {self.key} {self.failures}>"
