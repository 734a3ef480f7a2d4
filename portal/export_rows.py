"""How a submission becomes an export row: the columns of each export and their plain text.

The labels are the vocabulary's (``submissions.py``); this module only orders them into columns
and turns stored values into the text a spreadsheet or a JSON reader gets. An empty answer is an
empty cell (a spreadsheet's filter on blanks finds it), a date ISO 8601, a time ISO 8601 in the
practice's zone with its offset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from .response_time import hours_text
from .submissions import (
    APPOINTMENT,
    CONTACT,
    FORMS,
    KINDS,
    LABELS,
    MESSAGE_OF_EITHER_KIND,
    STATUSES,
    display_phone,
    form_field,
    language_text,
    stored_fields,
)


@dataclass(frozen=True)
class Column:
    """One exported field: its key in JSON, its header in CSV and XLSX, the forms that have it."""

    key: str
    header: str
    forms: tuple[str, ...] = (APPOINTMENT, CONTACT)


# The export's order: what every submission has, then the answers, the long text last.
EXPORT_ORDER = (
    "first_name",
    "last_name",
    "name",
    "date_of_birth",
    "phone",
    "email",
    "contact_method",
    "preferred_language",
    "interpreter",
    "specialty",
    "physician",
    "patient_type",
    "preferred_days",
    "preferred_time",
    "insurance",
    "referring_physician",
    "topic",
    "message",
)


# The front desk's work on a submission, after its status (staff emails: staff data).
FRONT_DESK = ("assigned_to", "first_response_at", "first_response_by", "response_hours")


def kinds_with(key: str) -> tuple[str, ...]:
    """The kinds of submission whose form stores ``key``."""
    return tuple(k for k in FORMS if any(f.key == key for f in stored_fields(k)))


def export_columns(kind: str | None) -> list[Column]:
    """The columns of an export of one kind (its own fields and labels) or of both kinds."""
    # The kind's column only when both kinds are exported.
    meta = ["reference", "received", *([] if kind else ["kind"]), "status", *FRONT_DESK]
    # The kind's column keeps the key "form" in JSON exports, as before.
    columns = [Column("form" if key == "kind" else key, str(LABELS[key])) for key in meta]
    for key in EXPORT_ORDER:
        having = tuple(k for k in kinds_with(key) if kind in (None, k))
        if not having:
            continue
        labels = {str(form_field(k, key).label) for k in having}
        # One label when the kinds agree; the message column is called by both its names.
        header = labels.pop() if len(labels) == 1 else str(MESSAGE_OF_EITHER_KIND)
        columns.append(Column(key, header, having))
    return columns


def export_formatter(zone: ZoneInfo) -> Callable[[Any], dict[str, str]]:
    """A function from a stored row to plain text per column key, for any number of rows.

    Labels are looked up once per export, not once per row: an export may hold 100,000 rows.
    Times are ISO 8601 in the practice's zone with its offset, dates ISO 8601.
    """
    kinds = {key: str(kind.label) for key, kind in KINDS.items()}
    statuses = {key: str(label) for key, label in STATUSES.items()}
    questions = {f.key: f for fields in FORMS.values() for f in fields if f.stored}
    choices = {
        key: {value: str(label) for value, label in (q.choices or {}).items()}
        for key, q in questions.items()
        if q.choices
    }
    empty_answers = {
        key: str(q.empty_answer) for key, q in questions.items() if q.empty_answer is not None
    }
    having = {key: kinds_with(key) for key in EXPORT_ORDER}

    def chosen(key: str, value: str) -> str:
        labels = choices[key]
        if questions[key].several:
            return ", ".join(labels.get(v.strip(), v.strip()) for v in value.split(","))
        return labels.get(value, value)

    def record(row: Any) -> dict[str, str]:
        values: dict[str, Any] = {
            "reference": row.reference,
            "received": row.created_at.astimezone(zone).isoformat(timespec="seconds"),
            "form": kinds.get(row.form, row.form),
            "status": statuses.get(row.status, row.status),
            # The two accounts' emails, which exports.fetch_rows joins to each row.
            "assigned_to": row.assigned_to_email,
            "first_response_at": row.first_response_at
            and row.first_response_at.astimezone(zone).isoformat(timespec="seconds"),
            "first_response_by": row.first_response_by_email,
            "response_hours": hours_text(row.response_seconds),
        }
        for key in EXPORT_ORDER:
            value = getattr(row, key)
            if not value:
                # The empty answer (No preference) only where the row's form asked the question.
                value = empty_answers.get(key, "") if row.form in having[key] else ""
            elif isinstance(value, date):
                value = value.isoformat()
            elif key == "phone":
                value = display_phone(value)
            elif key in choices:
                value = chosen(key, value)
            elif key == "preferred_language":
                value = language_text(value)
            values[key] = value
        return {key: value or "" for key, value in values.items()}

    return record
