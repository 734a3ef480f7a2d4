"""The outbox: email written in the caller's transaction and delivered later by a worker.

``queue`` is what request code uses (inside its own transaction); ``transport`` sends built
messages over SMTP or writes them as files; ``worker`` claims, delivers and records. This package
knows nothing about requests, pages or submissions.
"""

from .queue import PENDING, STATUSES, new_message_id, oldest_pending, queue, resend, status_counts
from .transport import build, transport_for_app
from .worker import Claimed, Outcome, Worker, classify

__all__ = [
    "PENDING",
    "STATUSES",
    "Claimed",
    "Outcome",
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
