"""The models' shared pieces: the UTC clock and timestamp type, and submission references."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import DateTime, TypeDecorator

from ..submissions import KINDS

# No 0/O, 1/I/L: a reference is read aloud over the phone.
REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
REFERENCE_LENGTH = 8


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC (a callable default, evaluated per row)."""
    return datetime.now(UTC)


def new_reference(kind: str) -> str:
    """A random reference such as APT-7K4M9QXR: never sequential, so it reveals no volume."""
    body = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
    return f"{KINDS[kind].prefix}-{body}"


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
