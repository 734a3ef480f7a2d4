"""The outbox: email and webhooks written in the caller's transaction, delivered by a worker.

``queue`` is what request code uses (inside its own transaction); ``transport`` sends built
messages over SMTP or writes them as files, and ``webhook`` POSTs signed events; ``policy``
decides what a refusal means and when to try again; ``worker`` claims and ``batch`` delivers,
``ledger`` records, ``lease`` keeps claims alive and ``state`` holds the shared delivery state;
``trouble`` tells when delivery is in trouble and ``alert`` raises the alarm. This package knows
nothing about requests, pages or submissions (what an event says is the app's).
"""

from .policy import DeliveryError, RetryPolicy, Verdict, classify
from .queue import PENDING, STATUSES, new_message_id, oldest_pending, queue, resend, status_counts
from .transport import build, transport_for_app
from .worker import Claimed, Worker

__all__ = [
    "PENDING",
    "STATUSES",
    "Claimed",
    "DeliveryError",
    "RetryPolicy",
    "Verdict",
    "Worker",
    "build",
    "classify",
    "new_message_id",
    "oldest_pending",
    "queue",
    "resend",
    "status_counts",
    "transport_for_app",
]
