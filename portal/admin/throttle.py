"""The sign-in throttle: failures counted per (account, client address) and per account.

Every password or code check is counted as a failure *before* it is made, with one atomic
``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` per counter, committed at once; a success
takes its count back. So thirty simultaneous attempts get exactly LOGIN_MAX_FAILURES checks, in
any number of web processes, on SQLite and PostgreSQL alike.

- (account, address): LOGIN_MAX_FAILURES in LOGIN_FAILURE_WINDOW, then that address may not try
  that account until the window ends. Other addresses are not affected: an attacker cannot lock
  a member of staff out from elsewhere.
- account: LOGIN_ACCOUNT_MAX_FAILURES in LOGIN_ACCOUNT_WINDOW (a spread-out attack), then a
  growing delay between attempts from addresses that already failed; never a hard lock, and an
  address with no recent failure signs in as usual.
- address, for accounts that do not exist: LOGIN_MAX_FAILURES unknown accounts, then that
  address is refused (guessing accounts from one address).
- A refused attempt is audited once per address per LOGIN_FAILURE_WINDOW, not once per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, case, delete, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import LoginThrottle, User, UTCDateTime, utcnow

# The growing delay once an account is over its limit: 2 s, 4 s, 8 s... up to this.
MAX_DELAY = 5 * 60


@dataclass(frozen=True)
class Verdict:
    """Whether the attempt may check its password or code, and if not, for how long to wait."""

    allowed: bool
    reason: str = ""  # "blocked" (limit reached) or "slow" (the growing delay)
    wait: int = 0  # seconds, for "slow"
    first_refusal: bool = False  # the first refusal for this address in the window: audit it


def _address(ip: str | None) -> str:
    return ip or "unknown"


def bump(key: str, window: int, now: datetime | None = None) -> int:
    """Count one more for this key within its window, atomically; the count after this one."""
    now = now or utcnow()
    table = LoginThrottle.__table__
    since = now - timedelta(seconds=window)
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    expired = table.c.window_start <= since
    statement = (
        insert.values(key=key, window_start=now, failures=1)
        .on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "failures": case((expired, 1), else_=table.c.failures + 1),
                "window_start": case(
                    (expired, literal(now, UTCDateTime())), else_=table.c.window_start
                ),
            },
        )
        .returning(table.c.failures)
    )
    return db.session.execute(statement).scalar_one()


def current(key: str, window: int, now: datetime | None = None) -> int:
    """The count for this key within its window (0 once the window has passed)."""
    since = (now or utcnow()) - timedelta(seconds=window)
    count = db.session.scalar(
        select(LoginThrottle.failures).where(
            LoginThrottle.key == key, LoginThrottle.window_start > since
        )
    )
    return count or 0


def _take_turn(key: str, delay: int, now: datetime) -> int:
    """Claim the account's next turn (a conditional UPDATE): 0 if claimed, else seconds to wait."""
    table = LoginThrottle.__table__
    # An UPDATE's result is a CursorResult (it has rowcount); Session.execute is typed as Result.
    claimed = cast(
        CursorResult[Any],
        db.session.execute(
            update(table)
            .where(table.c.key == key, or_(table.c.not_before.is_(None), table.c.not_before <= now))
            .values(not_before=now + timedelta(seconds=delay))
        ),
    ).rowcount
    if claimed:
        return 0
    not_before = db.session.scalar(select(LoginThrottle.not_before).where(LoginThrottle.key == key))
    return max(1, int(((not_before or now) - now).total_seconds()) + 1)


def check(user: User | None, ip: str | None) -> Verdict:
    """Count this attempt as a failure in advance and say whether it may go on. Commits."""
    config = current_app.config
    limit, window = config["LOGIN_MAX_FAILURES"], config["LOGIN_FAILURE_WINDOW"]
    address, now = _address(ip), utcnow()
    verdict = Verdict(True)
    if user is None:
        if bump(f"address:{address}", window, now) > limit:
            verdict = Verdict(False, "blocked")
    elif current(f"address:{address}", window, now) >= limit:
        verdict = Verdict(False, "blocked")
    else:
        pair = bump(f"pair:{user.id}:{address}", window, now)
        if pair > limit:
            verdict = Verdict(False, "blocked")
        else:
            account_limit = config["LOGIN_ACCOUNT_MAX_FAILURES"]
            account = bump(f"account:{user.id}", config["LOGIN_ACCOUNT_WINDOW"], now)
            # Over the account's limit, an address that already failed here waits its turn;
            # a first attempt from an address is never held, so the owner still gets in.
            if account > account_limit and pair > 1:
                delay = min(2 ** min(account - account_limit, 20), MAX_DELAY)
                wait = _take_turn(f"account:{user.id}", delay, now)
                if wait:
                    verdict = Verdict(False, "slow", wait)
    if not verdict.allowed and bump(f"blocked:{address}", window, now) == 1:
        verdict = Verdict(False, verdict.reason, verdict.wait, first_refusal=True)
    db.session.commit()
    return verdict


def forgive(user: User, ip: str | None) -> None:
    """Take back the count of an attempt that turned out right; the caller commits."""
    table = LoginThrottle.__table__
    keys = [f"pair:{user.id}:{_address(ip)}", f"account:{user.id}"]
    db.session.execute(
        update(table)
        .where(table.c.key.in_(keys), table.c.failures > 0)
        .values(failures=table.c.failures - 1)
    )


def signed_in(user: User, ip: str | None) -> None:
    """A complete sign-in: this address starts afresh for this account. The caller commits."""
    forgive(user, ip)
    db.session.execute(
        delete(LoginThrottle.__table__).where(
            LoginThrottle.__table__.c.key == f"pair:{user.id}:{_address(ip)}"
        )
    )
