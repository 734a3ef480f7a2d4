"""The staff area's filters, read from the query string: the inbox, exports and the audit trail."""

from __future__ import annotations

import re
from datetime import date

from flask_wtf import FlaskForm
from wtforms import (  # type: ignore[attr-defined]  # SelectChoice: WTForms 3.3, stubs 3.2
    DateField,
    Field,
    RadioField,
    SearchField,
    SelectChoice,
    SelectField,
)
from wtforms.validators import Length, Optional, ValidationError

from ..audit import ACTIONS
from ..languages import OTHER
from ..models import User
from ..practice import Practice
from ..submissions import KINDS, LABELS, OVERDUE, language_text
from ..validators import single_line
from .forms import STATUS_CHOICES, assignee_choices, typed_text

FORM_CHOICES = [
    SelectChoice("", "All forms"),
    *(SelectChoice(key, kind.plural) for key, kind in KINDS.items()),
]
ANY_STATUS = SelectChoice("", "Any status")
FORMAT_CHOICES = [
    SelectChoice("csv", "CSV"),
    SelectChoice("xlsx", "Excel (XLSX)"),
    SelectChoice("json", "JSON"),
    SelectChoice("ndjson", "FHIR R4 (NDJSON)"),
]


# Filters take dates in this range: the date picker offers no others, and a date far outside it
# (9999-12-31) is no search a person makes, while its next day overflows.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2100, 12, 31)
# C0 and C1 control characters: no filter or search holds one (and PostgreSQL refuses NUL).
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def within_calendar(form: FlaskForm, field: Field) -> None:
    """A date between 1900 and 2100."""
    if field.data and not EARLIEST_DATE <= field.data <= LATEST_DATE:
        raise ValidationError(f"{field.label.text} must be a date between 1900 and 2100")


class DateRangeForm(FlaskForm):
    """Filters read from the query string: no CSRF token, since they change nothing."""

    class Meta:
        csrf = False

    since = DateField(
        "Received from",
        validators=[Optional(), within_calendar],
        render_kw={"min": EARLIEST_DATE.isoformat(), "max": LATEST_DATE.isoformat()},
    )
    until = DateField(
        "Received until",
        validators=[Optional(), within_calendar],
        render_kw={"min": EARLIEST_DATE.isoformat(), "max": LATEST_DATE.isoformat()},
    )

    def validate_until(self, field: Field) -> None:
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("Received until must be the same as or after received from")

    def refused(self) -> bool:
        """Values the portal's own pages never send: control characters, far-off dates.

        A typo in a filter is explained and the filter left out; these are answered with 400.
        """
        for field in self:
            if any(CONTROL_CHARACTER.search(v) for v in field.raw_data or [] if isinstance(v, str)):
                return True
        dates = (self.since.data, self.until.data)
        return any(d and not EARLIEST_DATE <= d <= LATEST_DATE for d in dates)


class FilterForm(DateRangeForm):
    """Which submissions: one form or both, one status or all, practice-local dates."""

    # The kind of submission; ?form= in the address, as before.
    kind = SelectField(LABELS["kind"], name="form", choices=FORM_CHOICES, validators=[Optional()])
    status = SelectField(
        LABELS["status"],
        choices=[ANY_STATUS, *STATUS_CHOICES],
        validators=[Optional()],
    )


SEARCH_LENGTH = Length(max=100, message="Search must be 100 characters or fewer")


# The inbox's orders: ?sort= in the address.
SORT_CHOICES = [
    SelectChoice("", "Newest first"),
    SelectChoice("waiting", "Longest waiting first"),
]


class InboxForm(FilterForm):
    """Search and filters of the inbox."""

    q = typed_text(SearchField, "Search", None, SEARCH_LENGTH, single_line)
    topic = SelectField(LABELS["category"], validators=[Optional()])
    assigned_to = SelectField(LABELS["assigned_to"], validators=[Optional()])
    language = SelectField(LABELS["language"], validators=[Optional()])
    sort = SelectField("Order", choices=SORT_CHOICES, validators=[Optional()])

    def __init__(self, practice: Practice, users: list[User], *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.topic.choices = [
            SelectChoice("", "Any specialty or topic"),
            *(SelectChoice(s) for s in practice.specialties),
            *(SelectChoice(t) for t in practice.contact_topics),
        ]
        self.assigned_to.choices = assignee_choices(users, anyone="Anyone")
        # Overdue: the New requests waiting past the response target, after New.
        self.status.choices = [
            ANY_STATUS,
            STATUS_CHOICES[0],
            SelectChoice("overdue", OVERDUE),
            *STATUS_CHOICES[1:],
        ]
        self.language.choices = [
            SelectChoice("", "Any language"),
            *(SelectChoice(t, language_text(t)) for t in [*practice.preferred_languages, OTHER]),
        ]


class ExportForm(FilterForm):
    """What to export, and as which format."""

    format = RadioField("Format", choices=FORMAT_CHOICES, default="csv", validators=[Optional()])


WHO_LENGTH = Length(max=254, message="Enter 254 characters or fewer")


class AuditForm(DateRangeForm):
    """The audit trail's filters."""

    action = SelectField(
        "Action",
        choices=[SelectChoice("", "Any action"), *(SelectChoice(k, v) for k, v in ACTIONS.items())],
        validators=[Optional()],
    )
    who = typed_text(SearchField, "Who or what", None, WHO_LENGTH, single_line)
