"""The words of a delivery alarm, and where they go: one ERROR line and ``ALERT_WEBHOOK_URL``.

``trouble.check()`` decides that trouble started or ended, and exactly one process claims each
transition; this module says it in one sentence, logs it and posts it to the chat channel that
still works when mail is what broke. A sentence holds reason codes and SMTP or HTTP status
codes only: never an address, a name or anything a patient typed.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import current_app

if TYPE_CHECKING:
    from .trouble import Trouble

# The logger name operators already filter on for the transitions (they began in trouble.py).
log = logging.getLogger("portal.outbox.trouble")

START = "delivery.trouble.start"
END = "delivery.trouble.end"
# Most urgent first: the first reason that holds is "the" reason of the trouble.
REASONS = {
    "mail_auth": "the mail server refused the portal's user name or password",
    "mail_tls": "the mail server's certificate could not be verified",
    "notification_failed": "front-desk notifications could not be delivered",
    "attempts_failing": "every recent attempt to send email failed",
    "outbox_stuck": "emails have been waiting too long to be sent",
    "webhooks_failing": "webhook events are not reaching the practice's systems",
    "webhook_gone": "a webhook receiver answered 410 Gone, so its endpoint was disabled",
}
# The reasons that are about the practice's own systems, not about email.
WEBHOOK_REASONS = frozenset({"webhooks_failing", "webhook_gone"})
# Webhook tries per transition, all within MAIL_TIMEOUT seconds together.
ALERT_TRIES = 3
SMTP_CODE = re.compile(r"\b([245]\d\d)(?:[ -]([245]\.\d{1,3}\.\d{1,3}))?\b")
HTTP_CODE = re.compile(r"^([1-5]\d\d)\b")


def smtp_code(answer: str | None) -> str | None:
    """Only the SMTP status codes of an answer ("550 5.1.1"): they never hold an address."""
    match = SMTP_CODE.search(answer or "")
    if match is None:
        return None
    return " ".join(part for part in match.groups() if part)


def describe(trouble: Trouble) -> str:
    """One sentence for logs and chat: reasons and status codes, never an address or a name."""
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
        elif code == "webhooks_failing":
            if count := trouble.failed_webhooks:
                parts.append(
                    f"{count} webhook event{'s' if count != 1 else ''} could not be delivered"
                )
            if count := trouble.failing_webhooks:
                parts.append(
                    f"{count} webhook event{'s' if count != 1 else ''} failed "
                    f"{trouble.alarm_after} or more attempts in a row"
                )
        else:
            parts.append(REASONS[code])
    sentence = "; ".join(parts) or "email is not getting through"
    said = []
    if answer := smtp_code(trouble.server_answer):
        said.append(f"the mail server said {answer}")
    if (status := HTTP_CODE.match(trouble.webhook_answer or "")) is not None:
        said.append(f"the receiver answered HTTP {status[1]}")
    return sentence[0].upper() + sentence[1:] + (f" ({'; '.join(said)})" if said else "")


def announce(
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
        what = "Webhook delivery" if trouble.webhooks_only else "Email delivery"
        text = f"{what} trouble at {practice}: {describe(trouble)}. See {outbox_url}"
    else:
        what = "Webhook delivery" if reason in WEBHOOK_REASONS else "Email delivery"
        minutes = max(0, int((now - since).total_seconds() // 60))
        text = (
            f"{what} is back to normal at {practice} "
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
