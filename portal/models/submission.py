"""Patient submissions and the staff's internal notes on them."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship, synonym

from ..extensions import Model
from .base import UTCDateTime, utcnow

if TYPE_CHECKING:  # resolved by name in the registry at mapping time; imported for type checks
    from .staff import ApiToken, User


class Submission(Model):
    """One patient submission: an appointment request or a contact message."""

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    form: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # The one-time token of the rendered form: a second POST of the same form finds this row.
    form_token: Mapped[str | None] = mapped_column(String(64), unique=True)

    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(100))
    date_of_birth: Mapped[date | None]
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    contact_method: Mapped[str | None] = mapped_column(String(16))
    # A BCP 47 tag ("es", "pt-BR") or "other", the same whatever language the form was in.
    preferred_language: Mapped[str | None] = mapped_column(String(35), index=True)
    interpreter: Mapped[str | None] = mapped_column(String(3))  # "yes", "no" or not answered
    specialty: Mapped[str | None] = mapped_column(String(100))
    physician: Mapped[str | None] = mapped_column(String(100))
    patient_type: Mapped[str | None] = mapped_column(String(16))
    preferred_days: Mapped[str | None] = mapped_column(String(64))
    preferred_time: Mapped[str | None] = mapped_column(String(16))
    insurance: Mapped[str | None] = mapped_column(String(100))
    referring_physician: Mapped[str | None] = mapped_column(String(100))
    topic: Mapped[str | None] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text)

    # The front desk's work on it: who is calling back (None: nobody yet), and the first time it
    # left New, by whom, and how long it had waited in business seconds (kept, so the dashboard
    # sums numbers rather than replaying opening hours over every row).
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), index=True)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    first_response_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    response_seconds: Mapped[int | None]
    assigned_to: Mapped[User | None] = relationship(foreign_keys=[assigned_to_id])
    first_response_by: Mapped[User | None] = relationship(foreign_keys=[first_response_by_id])

    # In code a submission's form is its kind (submissions.KINDS); the column keeps its name.
    kind: Mapped[str] = synonym("form")

    # For the dashboard and the digest over 100,000 rows (benchmarks/dashboard.py): the waiting
    # requests oldest first and the overdue ones are one index range; open requests per person
    # are counted from the index alone; the weeks' figures read only this covering index.
    __table_args__ = (
        Index("ix_submission_status_created_at", "status", "created_at"),
        Index("ix_submission_status_assigned_to_id", "status", "assigned_to_id"),
        Index(
            "ix_submission_dashboard",
            "created_at",
            "form",
            "response_seconds",
            "specialty",
            "topic",
        ),
    )

    @property
    def patient_name(self) -> str:
        """The name as the patient gave it, whichever form they used."""
        if self.kind == "appointment":
            return f"{self.first_name} {self.last_name}"
        return self.name or ""

    def __repr__(self) -> str:
        return f"<Submission {self.reference}>"


class Note(Model):
    """An internal note on a submission, written by a member of staff or through the API."""

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), index=True
    )
    # Exactly one of the two is set: the staff account, or the API token that wrote the note.
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    api_token_id: Mapped[int | None] = mapped_column(ForeignKey("api_token.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    text: Mapped[str] = mapped_column(Text)

    author: Mapped[User | None] = relationship(lazy="joined")
    api_token: Mapped[ApiToken | None] = relationship(lazy="joined")

    @property
    def author_label(self) -> str:
        """Who wrote the note, as the submission page shows it."""
        if self.author is not None:
            return self.author.email
        if self.api_token is not None:
            return f"{self.api_token.name} (API token)"
        return "Unknown"
