"""The front desk's pages: the inbox, a submission with its notes and notifications, its status."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from werkzeug.wrappers import Response

from ..exports import local_day_bounds
from ..extensions import db
from ..models import Note, OutboxMessage, Submission
from ..practice import Practice
from ..services import submissions as service
from ..services.actions import record_event
from ..submissions import STATUSES, answers
from ..validators import required_text
from . import bp
from .forms import InboxForm, NoteForm, ResendForm, StatusForm
from .staff import staff_actor

PER_PAGE = 25
REFERENCE = re.compile(r"^(APT|MSG)-[A-Z2-9]{6,12}$")
# A search made only of what people type in a phone number is a phone number search.
PHONE_LIKE = re.compile(r"^[\d\s().+-]+$")


def practice() -> Practice:
    """The practice profile loaded by the factory."""
    return current_app.extensions["practice"]


def inbox_filters(form: InboxForm) -> tuple[list[ColumnElement[bool]], dict[str, str]]:
    """SQL conditions for the inbox's valid filters, and those filters as query arguments.

    The arguments are the only ones that page links carry: anything else in the query string
    (``_external``, ``_method``...) never reaches url_for().
    """
    clauses: list[ColumnElement[bool]] = []
    used: dict[str, str] = {}

    def valid(field: Any) -> Any:
        return None if field.errors else field.data

    if valid(form.kind):
        clauses.append(Submission.kind == form.kind.data)
        used["form"] = form.kind.data
    if valid(form.status):
        clauses.append(Submission.status == form.status.data)
        used["status"] = form.status.data
    if valid(form.topic):
        topic = form.topic.data
        clauses.append(or_(Submission.specialty == topic, Submission.topic == topic))
        used["topic"] = topic
    if valid(form.language):
        clauses.append(Submission.preferred_language == form.language.data)
        used["language"] = form.language.data
    since, until = valid(form.since), None if form.until.errors else form.until.data
    start, end = local_day_bounds(since, until, practice().zone)
    if start is not None:
        clauses.append(Submission.created_at >= start)
        used["since"] = since.isoformat()
    if end is not None and until is not None:  # an end comes from an until, never alone
        clauses.append(Submission.created_at < end)
        used["until"] = until.isoformat()
    q = None if form.q.errors else form.q.data
    if q:
        clauses.append(search_clause(q))
        used["q"] = q
    return clauses, used


def audited_filters(used: dict[str, str]) -> dict[str, Any]:
    """The filters for the audit trail: that a search was made, never what was searched for.

    A search is a patient's name or phone number, which must not outlive the patient's data.
    """
    detail: dict[str, Any] = {key: value for key, value in used.items() if key != "q"}
    if "q" in used:
        detail["search"] = True
    return detail


# Higher page numbers are refused: far past any last page, and OFFSET must fit in 64 bits.
MAX_PAGE = 1_000_000
PAGE_NUMBER = re.compile(r"^[0-9]{1,7}$")


def requested_page() -> int | None:
    """The page asked for in ?page= (1 without it), or None when it is no page number."""
    raw = request.args.get("page")
    if raw is None:
        return 1
    if not PAGE_NUMBER.match(raw) or not 1 <= int(raw) <= MAX_PAGE:
        return None
    return int(raw)


@dataclass(frozen=True)
class EmptyPage:
    """What a list page shows for a request it refuses: nothing, on one page."""

    items: tuple[()] = ()
    total: int = 0
    page: int = 1
    pages: int = 0
    has_prev: bool = False
    has_next: bool = False


def search_clause(query: str) -> ColumnElement[bool]:
    """Match a reference, a name, an email address or a phone number, however it was typed."""
    digits = re.sub(r"\D", "", query)
    if PHONE_LIKE.match(query) and len(digits) >= 4:
        # Phones are stored in E.164 (+16172531000): "(617) 253-1000", "617.253.1000" and
        # "253-1000" all become digits that the stored number contains.
        return Submission.phone.contains(digits, autoescape=True)
    terms = []
    for term in query.split()[:6]:
        columns = [
            Submission.reference,
            Submission.first_name,
            Submission.last_name,
            Submission.name,
            Submission.email,
        ]
        matches = [column.icontains(term, autoescape=True) for column in columns]
        term_digits = re.sub(r"\D", "", term)
        if len(term_digits) >= 4 and PHONE_LIKE.match(term):
            matches.append(Submission.phone.contains(term_digits, autoescape=True))
        terms.append(or_(*matches))
    # Every word must match somewhere: "Siobhán O'Hara" finds her, not every Siobhán.
    return and_(*terms)


def newest_first(statement: Select[Any]) -> Select[Any]:
    return statement.order_by(Submission.created_at.desc(), Submission.id.desc())


# How a message's status is said, and which status sums up several (the worst one wins).
MESSAGE_STATUSES = {"failed": "Failed", "retrying": "Retrying", "queued": "Queued", "sent": "Sent"}


@dataclass(frozen=True)
class Notification:
    """One email queued for a submission, as the submission page shows it."""

    id: int
    label: str
    recipient: str
    status: str
    status_label: str
    attempts: int
    last_error: str | None


def notification_statuses(references: list[str]) -> dict[str, str]:
    """The state of each submission's emails in one word, by reference: the worst one wins."""
    if not references:
        return {}
    rows = db.session.execute(
        select(OutboxMessage.reference, OutboxMessage.status)
        .where(OutboxMessage.reference.in_(references))
        .distinct()
    ).all()
    found: dict[str, set[str]] = {}
    for reference, status in rows:
        if reference is not None:  # the column may be NULL, though in_() never matches it
            found.setdefault(reference, set()).add(status)
    return {
        reference: next(label for key, label in MESSAGE_STATUSES.items() if key in statuses)
        for reference, statuses in found.items()
        if statuses & MESSAGE_STATUSES.keys()
    }


@bp.get("/")
def inbox() -> tuple[str, int]:
    form = InboxForm(practice(), formdata=request.args)
    form.validate()
    new_count = db.session.scalar(
        select(func.count()).select_from(Submission).where(Submission.status == "new")
    )
    number = requested_page()
    if number is None or form.refused():
        # Nothing is looked up, so nothing was viewed: no audit record either.
        return render_template(
            "admin/inbox.html",
            form=form,
            page=EmptyPage(),
            submissions=[],
            new_count=new_count,
            notifications={},
            filtered=True,
            page_args={},
        ), 400
    clauses, used = inbox_filters(form)
    page = db.paginate(
        newest_first(select(Submission).where(*clauses)),
        page=number,
        per_page=PER_PAGE,
        error_out=False,  # past the last page: an empty page, not an error
    )
    detail = {**audited_filters(used), "page": page.page, "results": page.total}
    record_event(db.session, staff_actor(), "inbox.viewed", detail=detail)
    submissions = list(page.items)
    return render_template(
        "admin/inbox.html",
        form=form,
        default_language=practice().languages[0],
        page=page,
        submissions=submissions,
        new_count=new_count,
        notifications=notification_statuses([s.reference for s in submissions]),
        filtered=bool(used),
        page_args=used,
    ), 200


def find_submission(reference: str) -> Submission:
    """The submission with this reference, or 404."""
    if not REFERENCE.match(reference):
        abort(404)
    submission = db.session.scalar(select(Submission).where(Submission.reference == reference))
    if submission is None:
        abort(404)
    return submission


def notifications_of(submission: Submission) -> list[Notification]:
    """The emails queued for this submission, oldest first."""
    messages = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.reference == submission.reference)
        .order_by(OutboxMessage.id)
    )
    return [
        Notification(
            id=m.id,
            label=service.message_kind(m.template),
            recipient=m.recipient,
            status=m.status,
            status_label=MESSAGE_STATUSES.get(m.status, m.status),
            attempts=m.attempts,
            last_error=m.last_error,
        )
        for m in messages
    ]


def detail_page(
    submission: Submission,
    status_form: StatusForm | None = None,
    note_form: NoteForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """Show every field, notes and notifications, and record that they were seen."""
    record_event(db.session, staff_actor(), "submission.viewed", target=submission.reference)
    notes = db.session.scalars(
        select(Note).where(Note.submission_id == submission.id).order_by(Note.created_at, Note.id)
    ).all()
    return render_template(
        "admin/submission.html",
        submission=submission,
        fields=answers(submission),  # labelled and shown as submissions.py says
        notes=notes,
        notifications=notifications_of(submission),
        status_form=status_form or StatusForm(formdata=None, data={"status": submission.status}),
        note_form=note_form or NoteForm(formdata=None),
        resend_form=ResendForm(formdata=None),
    ), status


@bp.get("/submissions/<reference>")
def submission(reference: str) -> tuple[str, int]:
    return detail_page(find_submission(reference))


@bp.post("/submissions/<reference>/status")
def change_status(reference: str) -> Response | tuple[str, int]:
    submission, form = find_submission(reference), StatusForm()
    if not form.validate():
        return detail_page(submission, status_form=form, status=422)
    new = form.status.data
    if service.set_status(db.session, submission, staff_actor(), new):
        flash(f"Status changed to {STATUSES[new]}.", "success")
    return redirect(url_for(".submission", reference=reference), code=303)


@bp.post("/submissions/<reference>/notes")
def add_note(reference: str) -> Response | tuple[str, int]:
    submission, form = find_submission(reference), NoteForm()
    if not form.validate():
        return detail_page(submission, note_form=form, status=422)
    service.add_note(db.session, submission, staff_actor(), required_text(form.text))
    flash("Note added.", "success")
    return redirect(url_for(".submission", reference=reference, _anchor="notes"), code=303)


@bp.post("/submissions/<reference>/resend")
def resend(reference: str) -> Response:
    find_submission(reference)
    form = ResendForm()
    kind = None
    if form.validate():
        kind = service.resend(
            db.session, reference, int(required_text(form.message)), staff_actor()
        )
    if kind is None:
        abort(404)
    flash(f"The {kind.lower()} will be sent again in a moment.", "success")
    return redirect(url_for(".submission", reference=reference), code=303)
