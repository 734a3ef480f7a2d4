"""Typed SQLAlchemy models: what the portal stores.

One module per concern; every model is imported here so that relationships named by string
resolve and the metadata (which Alembic and the tests compare) holds every table.
"""

# Defined with the rest of a submission's vocabulary; importable from here as before.
from ..submissions import STATUSES as STATUSES
from .base import REFERENCE_ALPHABET, REFERENCE_LENGTH, UTCDateTime, new_reference, utcnow
from .delivery import (
    WEBHOOK_EVENTS,
    DeliveryState,
    DigestRun,
    OutboxMessage,
    WebhookAttempt,
    WebhookEndpoint,
)
from .staff import (
    API_SCOPES,
    API_TOKEN_PREFIX,
    ROLES,
    ApiToken,
    AuditEvent,
    LoginThrottle,
    User,
    new_session_token,
)
from .submission import Note, Submission

__all__ = [
    "API_SCOPES",
    "API_TOKEN_PREFIX",
    "REFERENCE_ALPHABET",
    "REFERENCE_LENGTH",
    "ROLES",
    "STATUSES",
    "WEBHOOK_EVENTS",
    "ApiToken",
    "AuditEvent",
    "DeliveryState",
    "DigestRun",
    "LoginThrottle",
    "Note",
    "OutboxMessage",
    "Submission",
    "User",
    "UTCDateTime",
    "WebhookAttempt",
    "WebhookEndpoint",
    "new_reference",
    "new_session_token",
    "utcnow",
]
