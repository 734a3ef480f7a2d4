"""Delivery trouble: is email reaching the front desk, and who raises the alarm when it is not.

"Trouble" holds while any of these does: a front-desk notification failed for good and nobody
dealt with it (retried it, or marked it handled); the oldest pending email is older than
``HEALTH_OUTBOX_MAX_AGE``; the last ``DELIVERY_ALARM_AFTER`` attempts to send email in a row all
failed. Webhooks to the practice's own systems raise the same alarm under their own reasons: an
event still retried after ``DELIVERY_ALARM_AFTER`` attempts or failed for good and not dealt
with, or an endpoint disabled by a 410 (a receiver that is down is never reported as email).

``evaluate()`` only reads, and is what pages, ``/healthz`` and ``outbox status`` show.
``check()`` also records a start or an end in the shared ``delivery_state`` row with a
conditional UPDATE, so that among any number of workers and web hosts exactly one process logs
the transition (one ERROR line, event ``delivery.trouble.start`` / ``delivery.trouble.end``) and
posts it to ``ALERT_WEBHOOK_URL`` (``alert.py``). Nothing here carries an address or anything a
patient typed.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..extensions import SessionLike, db
from ..models import DeliveryState, OutboxMessage, WebhookEndpoint, utcnow
from .alert import END, REASONS, START, WEBHOOK_REASONS, announce
from .queue import EMAIL, PENDING, oldest_pending
from .webhook import GONE, WEBHOOK

log = logging.getLogger(__name__)

STATE_ID = 1
NOTIFICATION = "email/notification"
# The worker's loop may call maybe_check() after every batch; it really checks this often.
CHECK_INTERVAL = 5.0
# "SMTPRecipientsRefused: 550 5.1.1 ..." or "HTTP503: 503 Service Unavailable" -> the kind of
# error is for logs, the rest for people.
ERROR_KIND = re.compile(
    r"^(?:[A-Z][A-Za-z0-9_.]*(?:Error|Exception|Refused|Disconnected|Timeout)|HTTP\d{3}):\s*"
)


@dataclass(frozen=True)
class Trouble:
    """What the delivery path looks like now, and the trouble recorded in the shared row."""

    reasons: tuple[str, ...]
    failed_notifications: int
    # The server's answer to the newest failed notification, or the last failed attempt's.
    server_answer: str | None
    oldest_pending_at: datetime | None
    max_age: float
    consecutive_failures: int
    alarm_after: int
    last_error_at: datetime | None
    # Set by the process that claimed the start; None until one did (or when there is none).
    since: datetime | None
    recorded_reason: str | None
    # Webhook endpoints disabled by a 410 that no admin has re-enabled or disabled since.
    gone_endpoints: int = 0
    # Webhook events still retried after alarm_after attempts, those that failed for good and
    # nobody dealt with, and the newest one's last answer.
    failing_webhooks: int = 0
    failed_webhooks: int = 0
    webhook_answer: str | None = None

    @property
    def active(self) -> bool:
        """True while any condition of trouble holds."""
        return bool(self.reasons)

    @property
    def webhooks_only(self) -> bool:
        """True when all that is wrong is about webhooks: email is reaching the front desk."""
        return bool(self.reasons) and set(self.reasons) <= WEBHOOK_REASONS

    @property
    def reason(self) -> str | None:
        """The most urgent reason, a stable code such as notification_failed."""
        return self.reasons[0] if self.reasons else None

    def age_seconds(self, now: datetime | None = None) -> float | None:
        """How long the recorded trouble has lasted."""
        if self.since is None:
            return None
        return round(((now or utcnow()) - self.since).total_seconds(), 1)

    def oldest_pending_age(self, now: datetime | None = None) -> float | None:
        """Seconds since the oldest message still waiting was queued."""
        if self.oldest_pending_at is None:
            return None
        return round(((now or utcnow()) - self.oldest_pending_at).total_seconds(), 1)


def server_answer(last_error: str | None) -> str | None:
    """The server's own words from a stored error, without the Python exception's name."""
    if not last_error:
        return None
    return ERROR_KIND.sub("", last_error.strip(), count=1)[:300] or None


def _failing_reason(last_error: str | None) -> str:
    """Attempts keep failing: say so, or say which configuration error makes them fail."""
    text = (last_error or "").lower()
    if "authentication" in text or re.search(r"\b535\b", text):
        return "mail_auth"
    if "certificate" in text or "sslcertverification" in text:
        return "mail_tls"
    return "attempts_failing"


def evaluate(session: SessionLike, now: datetime | None = None) -> Trouble:
    """Read the three conditions of trouble and the shared row; changes nothing."""
    config = current_app.config
    now = now or utcnow()
    failed = (
        OutboxMessage.status == "failed",
        OutboxMessage.template == NOTIFICATION,
        OutboxMessage.handled_at.is_(None),
    )
    failed_count = (
        session.scalar(select(func.count()).select_from(OutboxMessage).where(*failed)) or 0
    )
    newest_failed_error = (
        session.scalar(
            select(OutboxMessage.last_error).where(*failed).order_by(OutboxMessage.id.desc())
        )
        if failed_count
        else None
    )
    oldest = oldest_pending(session, EMAIL)
    # Columns, not the entity: a long-lived worker session must never see a cached row.
    state = session.execute(
        select(
            DeliveryState.consecutive_failures,
            DeliveryState.last_error,
            DeliveryState.last_error_at,
            DeliveryState.trouble_since,
            DeliveryState.trouble_reason,
        ).where(DeliveryState.id == STATE_ID)
    ).first()
    failures = (state.consecutive_failures or 0) if state else 0
    last_error = state.last_error if state else None

    max_age = float(config["HEALTH_OUTBOX_MAX_AGE"] or 0)
    alarm_after = int(config["DELIVERY_ALARM_AFTER"])
    reasons = set()
    if failed_count:
        reasons.add("notification_failed")
    if max_age and oldest is not None and (now - oldest).total_seconds() > max_age:
        reasons.add("outbox_stuck")
    if alarm_after > 0 and failures >= alarm_after:
        reasons.add(_failing_reason(last_error))
    gone = (
        session.scalar(
            select(func.count())
            .select_from(WebhookEndpoint)
            .where(WebhookEndpoint.disabled_reason == GONE)
        )
        or 0
    )
    if gone:
        reasons.add("webhook_gone")
    failing_webhooks, failed_webhooks, webhook_error = _failing_webhooks(session, alarm_after)
    if failing_webhooks or failed_webhooks:
        reasons.add("webhooks_failing")
    return Trouble(
        reasons=tuple(code for code in REASONS if code in reasons),
        failed_notifications=failed_count,
        server_answer=server_answer(newest_failed_error or last_error),
        oldest_pending_at=oldest,
        max_age=max_age,
        consecutive_failures=failures,
        alarm_after=alarm_after,
        last_error_at=state.last_error_at if state else None,
        since=state.trouble_since if state else None,
        recorded_reason=state.trouble_reason if state else None,
        gone_endpoints=gone,
        failing_webhooks=failing_webhooks,
        failed_webhooks=failed_webhooks,
        webhook_answer=server_answer(webhook_error),
    )


def _failing_webhooks(session: SessionLike, alarm_after: int) -> tuple[int, int, str | None]:
    """Webhook events still retried after alarm_after attempts or more (each is retried on its
    own, so its attempts are its streak), those that failed for good and nobody retried or marked
    as handled, and the newest such event's last error."""
    retried = and_(OutboxMessage.status.in_(PENDING), OutboxMessage.attempts >= alarm_after)
    failed = and_(OutboxMessage.status == "failed", OutboxMessage.handled_at.is_(None))
    either = (OutboxMessage.channel == WEBHOOK, or_(retried, failed) if alarm_after > 0 else failed)
    counts = session.execute(
        select(
            func.count().filter(OutboxMessage.status != "failed"),
            func.count().filter(OutboxMessage.status == "failed"),
        ).where(*either)
    ).one()
    if not (counts[0] or counts[1]):
        return 0, 0, None
    newest = select(OutboxMessage.last_error).where(*either).order_by(OutboxMessage.id.desc())
    return counts[0], counts[1], session.scalar(newest.limit(1))


def check(background: bool = False) -> str | None:
    """Evaluate, and claim a start or an end of trouble; the one claimant logs and alerts.

    Returns the event this process claimed (START or END), or None. With background, the
    webhook is posted from a thread, so that a web request is not held up by it.
    """
    session = db.session
    now = utcnow()
    trouble = evaluate(session, now)
    event: str | None = None
    reason: str | None = None
    since: datetime | None = None
    if trouble.active and trouble.since is None:
        event, reason, since = START, trouble.reason, now
        claimed = _claim_start(session, now, trouble.reason or "")
    elif not trouble.active and trouble.since is not None:
        event, reason, since = END, trouble.recorded_reason, trouble.since
        claimed = _claim(
            session,
            update(DeliveryState)
            .where(DeliveryState.id == STATE_ID, DeliveryState.trouble_since == trouble.since)
            .values(trouble_since=None, trouble_reason=None),
        )
    elif trouble.active and trouble.reason != trouble.recorded_reason:
        # Still in trouble, for another reason now: shown to staff, not a new alarm.
        _claim(
            session,
            update(DeliveryState)
            .where(DeliveryState.id == STATE_ID, DeliveryState.trouble_since == trouble.since)
            .values(trouble_reason=trouble.reason),
        )
        return None
    else:
        return None
    if not claimed:
        return None  # another process got there first, and speaks for all
    announce(event, reason, since, trouble, now, background)
    return event


def maybe_check() -> None:
    """check(), at most every CHECK_INTERVAL seconds per app: for the worker's loop."""
    memory = current_app.extensions.setdefault("delivery_trouble", {})
    if time.monotonic() - memory.get("checked", float("-inf")) < CHECK_INTERVAL:
        return
    memory["checked"] = time.monotonic()
    try:
        check()
    except SQLAlchemyError as error:
        # The database is what the worker's own loop already reports on; try again later.
        db.session.rollback()
        log.warning("delivery trouble check failed: %s", type(error).__name__)
    except Exception:
        # The alarm must never stop the worker that delivers the mail.
        db.session.rollback()
        log.exception("delivery trouble check failed")


def _claim_start(session: SessionLike, now: datetime, reason: str) -> bool:
    """Set trouble_since where it is unset; create the row if no worker has yet."""
    statement = (
        update(DeliveryState)
        .where(DeliveryState.id == STATE_ID, DeliveryState.trouble_since.is_(None))
        .values(trouble_since=now, trouble_reason=reason)
    )
    if _claim(session, statement):
        return True
    exists = session.scalar(select(DeliveryState.id).where(DeliveryState.id == STATE_ID))
    session.rollback()
    if exists is not None:
        return False
    try:
        session.execute(
            insert(DeliveryState).values(
                id=STATE_ID,
                consecutive_failures=0,
                backoff_step=0,
                trouble_since=now,
                trouble_reason=reason,
            )
        )
        session.commit()
    except IntegrityError:  # another process created the row (and claimed, or will claim)
        session.rollback()
        return False
    return True


def _claim(session: SessionLike, statement: Any) -> bool:
    """Run a conditional UPDATE and commit; True when it changed the row."""
    # An UPDATE's result is a CursorResult (it has rowcount); Session.execute is typed as Result.
    result = cast(
        CursorResult[Any], session.execute(statement.execution_options(synchronize_session=False))
    )
    if result.rowcount == 1:
        session.commit()
        return True
    session.rollback()
    return False
