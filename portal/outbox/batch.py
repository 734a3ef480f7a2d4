"""Deliver one claimed batch: webhooks first, then emails over one connection, each recorded.

A refusal that is about the mail server rather than one message ends the batch: the rest is
given back uncharged (``ledger.py`` records it and every worker backs off, ``state.py``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

from ..models import utcnow
from . import webhook
from .lease import LeaseKeeper
from .ledger import Ledger
from .policy import BUILD, HTTP, RetryPolicy, classify
from .transport import FileTransport, Transport, _fields, build

if TYPE_CHECKING:
    from .worker import Claimed

# The worker's logger: a delivery's lines are the worker's, under the name operators filter on.
log = logging.getLogger("portal.outbox.worker")


def deliver(
    rows: list[Claimed],
    transport: Transport,
    ledger: Ledger,
    keeper: LeaseKeeper,
    policy: RetryPolicy,
    stop: threading.Event,
) -> None:
    """Send each claimed row in turn and record its outcome; a stop gives the rest back."""
    # Webhooks first: a mail server that refuses the batch gives back only emails.
    rows = sorted(rows, key=lambda r: r.channel != webhook.WEBHOOK)
    for index, row in enumerate(rows):
        if stop.is_set():
            ledger.close(release=rows[index:])
            return
        if keeper.is_lost(row.id):
            continue  # another worker took it over while this one was busy
        if row.channel == webhook.WEBHOOK:
            deliver_webhook(row, ledger, keeper)
            continue
        try:
            message = build(row)
        except Exception as error:
            ledger.failed(row, classify(error, BUILD))
            continue
        try:
            transport.send(message, row)
        except Exception as error:
            verdict = classify(error)
            ledger.failed(row, verdict)
            if verdict.server_wide:
                # The rest would fail the same way: give them back now, uncharged (except
                # those past their give-up deadline), and every worker backs off.
                transport.close()
                rest, now = rows[index + 1 :], utcnow()
                for expired in (r for r in rest if policy.deadline(r.queued_at) <= now):
                    ledger.failed(expired, verdict)
                ledger.close(
                    release=[r for r in rest if policy.deadline(r.queued_at) > now],
                    server_wide=verdict,
                )
                return
            continue
        ledger.sent(row)
        keeper.finished(row.id)
        if not isinstance(transport, FileTransport):
            log.info(
                "sent outbox message %s (%s)", row.id, row.reference, extra=_fields(row, "sent")
            )
    ledger.close()


def deliver_webhook(row: Claimed, ledger: Ledger, keeper: LeaseKeeper) -> None:
    """One webhook: its failures are its endpoint's alone, so the batch always goes on."""
    try:
        webhook.send(row)
    except Exception as error:
        # Anything unforeseen is retried like a dropped connection, but never server-wide.
        verdict = classify(error, HTTP)
        if verdict.server_wide:
            verdict = replace(verdict, server_wide=False)
        ledger.failed(row, verdict)
        return
    ledger.sent(row)
    keeper.finished(row.id)
    log.info("sent webhook %s (%s)", row.id, row.reference, extra=_fields(row, "sent"))
