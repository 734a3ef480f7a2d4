"""The front desk's daily digest: one email each business day at DIGEST_TIME, through the outbox.

It says how many requests came in since the last digest, how many wait, how many are overdue,
how long the oldest has waited and how many open requests each person has, with a link to the
dashboard: references and counts only, never a patient's name, phone, address or message.

The delivery worker calls ``tick()`` as it polls. Exactly one digest goes out per day whatever the
number of workers and hosts: the day is claimed by inserting its ``digest_run`` row (the day is
the primary key) in the transaction that queues the emails, so a second worker's insert fails
and its emails are rolled back with it.
"""

from __future__ import annotations

import logging
import re
import time as clock
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import current_app, render_template
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from . import front_desk, outbox
from .extensions import SessionLike, db
from .models import DigestRun, Submission, utcnow
from .practice import Practice
from .response_time import ResponseClock, duration_text

log = logging.getLogger(__name__)

SUBJECT = "Front desk digest — {day}"
TEMPLATE = "email/digest"
# How often one worker looks whether the digest is due (a read; the claim is the only write).
CHECK_INTERVAL = 60.0
DIGEST_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
# Overdue references listed in the email; the rest are counted.
MAX_REFERENCES = 20


def digest_time(value: object) -> time | None:
    """DIGEST_TIME as a time of day, None when it is "" (off); anything else is refused."""
    if value in ("", None):
        return None
    match = DIGEST_TIME.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f'DIGEST_TIME must be "HH:MM" (24-hour clock) or "" (off), not {value!r}')
    return time(int(match.group(1)), int(match.group(2)))


def is_business_day(practice: Practice, day: date) -> bool:
    """A day with opening periods and no holiday; Monday to Friday when hours are free text."""
    hours = practice.opening_hours
    if hours is None:
        return day.weekday() < 5
    return bool(hours.periods_on(day, practice.zone))


def due_day(practice: Practice, now: datetime, at: time | None) -> date | None:
    """Today (practice time) when the digest is due at ``now`` (perhaps sent already), else None."""
    if at is None:
        return None
    local = now.astimezone(practice.zone)
    if not is_business_day(practice, local.date()) or local.time() < at:
        return None
    return local.date()


def recipients(practice: Practice, front_desk_emails: list[str] | str) -> list[str]:
    """The front desk: FRONT_DESK_EMAILS and every address the profile routes requests to."""
    addresses = [front_desk_emails] if isinstance(front_desk_emails, str) else front_desk_emails
    for routed in practice.routing.values():
        addresses = [*addresses, *([routed] if isinstance(routed, str) else routed)]
    return list(dict.fromkeys(a.strip() for a in addresses if a and a.strip()))


def compose(session: SessionLike, practice: Practice, now: datetime) -> dict[str, Any]:
    """The digest's context (JSON, stored in the outbox): counts and references only."""
    config = current_app.config
    target = float(config["RESPONSE_TARGET_HOURS"])
    day = front_desk.today(session, practice, now, target)
    last = session.scalar(select(func.max(DigestRun.queued_at)))
    since = last or now - timedelta(days=1)
    overdue_references = list(
        session.scalars(
            select(Submission.reference)
            .where(ResponseClock(practice, target, now).overdue_clause())
            .order_by(Submission.created_at, Submission.id)
            .limit(MAX_REFERENCES)
        )
    )
    base = config["PUBLIC_BASE_URL"].rstrip("/")
    return {
        "day": now.astimezone(practice.zone).strftime("%A, %B %-d, %Y"),
        "since": since.astimezone(practice.zone).strftime("%A %-I:%M %p"),
        "first": last is None,
        "new_since": front_desk.count(session, Submission.created_at > since),
        "waiting": day.waiting,
        "overdue": day.overdue,
        "target_hours": f"{target:g}",
        "overdue_references": overdue_references,
        "oldest_reference": day.oldest_reference,
        # Worded as the inbox words a wait: "1 day 4 h", a day being the usual open day.
        "oldest_waited": (
            None
            if day.oldest_seconds is None
            else duration_text(day.oldest_seconds, practice.business_day_seconds)
        ),
        "assigned": [list(row) for row in day.assigned],
        "dashboard_url": f"{base}/admin/dashboard",
    }


@dataclass(frozen=True)
class Outcome:
    """What a call did: whether emails were queued, to how many, and why not."""

    queued: int
    reason: str


def _queue(session: SessionLike, context: dict[str, Any], to: list[str], day: date) -> None:
    for recipient in to:
        outbox.queue(
            session,
            recipient=recipient,
            subject=SUBJECT.format(day=day.isoformat()),
            template=TEMPLATE,
            context=context,
            reference=f"digest-{day.isoformat()}",
        )


def send_scheduled(now: datetime | None = None) -> Outcome:
    """Queue today's digest if it is due and no worker has claimed today yet (commits)."""
    config = current_app.config
    practice: Practice = current_app.extensions["practice"]
    now = now or utcnow()
    day = due_day(practice, now, digest_time(config["DIGEST_TIME"]))
    if day is None:
        return Outcome(0, "not due")
    session = db.session
    if session.get(DigestRun, day) is not None:
        session.rollback()  # a read only: a worker that finds it sent holds no lock
        return Outcome(0, "already sent today")
    to = recipients(practice, config["FRONT_DESK_EMAILS"])
    context = compose(session, practice, now)
    session.add(DigestRun(day=day, queued_at=now, recipients=len(to)))
    _queue(session, context, to, day)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # another worker claimed the day first: its emails are the ones
        return Outcome(0, "already sent today")
    log.info("daily digest for %s queued for %d recipients", day, len(to))
    return Outcome(len(to), "queued")


def send_now(now: datetime | None = None) -> Outcome:
    """Queue the digest at once (the command): it counts as today's, so none follows today."""
    config = current_app.config
    practice: Practice = current_app.extensions["practice"]
    now = now or utcnow()
    day = now.astimezone(practice.zone).date()
    session = db.session
    to = recipients(practice, config["FRONT_DESK_EMAILS"])
    context = compose(session, practice, now)
    run = session.get(DigestRun, day) or DigestRun(day=day)
    run.queued_at, run.recipients = now, len(to)
    session.add(run)
    _queue(session, context, to, day)
    session.commit()
    return Outcome(len(to), "queued")


def preview(now: datetime | None = None) -> str:
    """The digest's text as it would be sent now (for --dry-run): nothing is queued or claimed."""
    practice: Practice = current_app.extensions["practice"]
    context = compose(db.session, practice, now or utcnow())
    db.session.rollback()
    to = recipients(practice, current_app.config["FRONT_DESK_EMAILS"])
    return f"To: {', '.join(to)}\n\n" + render_template(f"{TEMPLATE}.txt", **context)


class Ticker:
    """Looks at most every CHECK_INTERVAL seconds whether the digest is due (one per worker)."""

    def __init__(self) -> None:
        self.next_check = 0.0

    def tick(self) -> None:
        """Send the digest if due; a failure is logged and tried again at the next check."""
        if clock.monotonic() < self.next_check:
            return
        self.next_check = clock.monotonic() + CHECK_INTERVAL
        try:
            send_scheduled()
        except Exception:
            log.exception("daily digest: could not be queued; trying again later")
            db.session.rollback()
