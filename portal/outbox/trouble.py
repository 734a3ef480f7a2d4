"""Delivery trouble: is email reaching the front desk, and who raises the alarm when it is not.

"Trouble" holds while any of these does: a front-desk notification failed for good and nobody
dealt with it (retried it, or marked it handled); the oldest pending message is older than
``HEALTH_OUTBOX_MAX_AGE``; the last ``DELIVERY_ALARM_AFTER`` attempts in a row all failed.

``evaluate()`` only reads, and is what pages, ``/healthz`` and ``outbox status`` show.
``check()`` also records a start or an end in the shared ``delivery_state`` row with a
conditional UPDATE, so that among any number of workers and web hosts exactly one process logs
the transition (one ERROR line, event ``delivery.trouble.start`` / ``delivery.trouble.end``) and
posts it to ``ALERT_WEBHOOK_URL``. Nothing here carries an address or anything a patient typed.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..extensions import SessionLike, db
from ..models import DeliveryState, OutboxMessage, WebhookEndpoint, utcnow
from .queue import oldest_pending

log = logging.getLogger(__name__)

START = "delivery.trouble.start"
END = "delivery.trouble.end"
STATE_ID = 1
NOTIFICATION = "email/notification"
# What a webhook endpoint's disabled_reason says after its receiver answered 410 Gone.
GONE = "The receiver answered 410 Gone"
# Most urgent first: the first reason that holds is "the" reason of the trouble.
REASONS = {
    "mail_auth": "the mail server refused the portal's user name or password",
    "mail_tls": "the mail server's certificate could not be verified",
    "notification_failed": "front-desk notifications could not be delivered",
    "attempts_failing": "every recent attempt to send email failed",
    "outbox_stuck": "emails have been waiting too long to be sent",
    "webhook_gone": "a webhook receiver answered 410 Gone, so its endpoint was disabled",
}
# The worker's loop may call maybe_check() after every batch; it really checks this often.
CHECK_INTERVAL = 5.0
# Webhook tries per transition, all within MAIL_TIMEOUT seconds together.
ALERT_TRIES = 3
# "SMTPRecipientsRefused: 550 5.1.1 ..." -> the kind of error is for logs, the rest for people.
ERROR_KIND = re.compile(r"^[A-Z][A-Za-z0-9_.]*(?:Error|Exception|Refused|Disconnected|Timeout):\s*")
SMTP_CODE = re.compile(r"\b([245]\d\d)(?:[ -]([245]\.\d{1,3}\.\d{1,3}))?\b")


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

    @property
    def active(self) -> bool:
        """True while any condition of trouble holds."""
        return bool(self.reasons)

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


def smtp_code(last_error: str | None) -> str | None:
    """Only the SMTP status codes of an answer ("550 5.1.1"): they never hold an address."""
    match = SMTP_CODE.search(last_error or "")
    if match is None:
        return None
    return " ".join(part for part in match.groups() if part)


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
    oldest = oldest_pending(session)
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
    )


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
    _announce(event, reason, since, trouble, now, background)
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


def describe(trouble: Trouble) -> str:
    """One sentence for logs and chat: reasons and SMTP codes, never an address or a name."""
    parts = []
    for code in trouble.reasons:
        if code == "notification_failed":
            count = trouble.failed_notifications
            parts.append(
                f"{count} front-desk notification{'s' if count != 1 else ''} could not be delivered"
            )
        elif code == "outbox_stuck":
            minutes = int((trouble.oldest_pending_age() or 0) // 60)
            parts.append(f"the oldest email has waited {minutes} minutes")
        elif code == "attempts_failing":
            parts.append(f"the last {trouble.consecutive_failures} attempts to send email failed")
        else:
            parts.append(REASONS[code])
    answer = smtp_code(trouble.server_answer)
    sentence = "; ".join(parts) or "email is not getting through"
    return (
        sentence[0].upper() + sentence[1:] + (f" (the mail server said {answer})" if answer else "")
    )


def _announce(
    event: str,
    reason: str | None,
    since: datetime,
    trouble: Trouble,
    now: datetime,
    background: bool,
) -> None:
    """The one ERROR line of a transition, then the webhook."""
    config = current_app.config
    practice = current_app.extensions["practice"].name
    outbox_url = f"{config['PUBLIC_BASE_URL'].rstrip('/')}/admin/outbox"
    if event == START:
        summary = describe(trouble)
        text = f"Email delivery trouble at {practice}: {summary}. See {outbox_url}"
    else:
        minutes = max(0, int((now - since).total_seconds() // 60))
        text = (
            f"Email delivery is back to normal at {practice} "
            f"(trouble started {since:%Y-%m-%d %H:%M} UTC, {minutes} min ago)."
        )
    fields = {
        "event": event,
        "reason": reason,
        "reasons": list(trouble.reasons),
        "since": since.isoformat(),
    }
    log.error("%s %s: %s", event, reason, text, extra={"fields": fields})
    url = config.get("ALERT_WEBHOOK_URL")
    if not url:
        return
    payload = {"text": text, "event": event, "reason": reason, "since": since.isoformat()}
    budget = float(config["MAIL_TIMEOUT"])
    if background:
        threading.Thread(
            target=post_alert, args=(url, payload, budget), name="delivery-alert", daemon=True
        ).start()
    else:
        post_alert(url, payload, budget)


def post_alert(url: str, payload: dict[str, Any], budget: float) -> bool:
    """POST the JSON payload, tried up to ALERT_TRIES times within budget seconds in all."""
    deadline = time.monotonic() + budget
    body = json.dumps(payload).encode("utf-8")
    for attempt in range(1, ALERT_TRIES + 1):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=remaining) as response:
                if 200 <= response.status < 300:
                    return True
                problem = f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            problem = f"HTTP {error.code}"
        except (urllib.error.URLError, OSError, ValueError) as error:
            problem = type(error).__name__
        # The URL is a secret (anyone holding it can post to the channel): never logged.
        log.warning(
            "alert webhook: try %d of %d failed (%s)",
            attempt,
            ALERT_TRIES,
            problem,
            extra={"fields": {"event": payload["event"], "alert_try": attempt}},
        )
        pause = min(0.5 * 2 ** (attempt - 1), deadline - time.monotonic())
        if attempt < ALERT_TRIES and pause > 0:
            time.sleep(pause)
    # WARNING, not ERROR: the transition's own ERROR line was written; this is one per alarm.
    log.warning(
        "alert webhook: %s could not be posted",
        payload["event"],
        extra={"fields": {"event": "delivery.alert.failed", "alert_event": payload["event"]}},
    )
    return False
