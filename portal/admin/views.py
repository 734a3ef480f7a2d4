"""The front desk's inbox: search, filters, order and pages (a submission: submission_page.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import current_app, render_template, request
from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import selectinload

from ..exports import local_day_bounds
from ..extensions import db
from ..models import OutboxMessage, Submission, utcnow
from ..practice import Practice
from ..response_time import ResponseClock, timings, waiting_clause
from ..services import submissions as service
from ..services.actions import record_event
from . import bp
from .filter_forms import InboxForm
from .staff import current_staff, staff_actor

PER_PAGE = 25
# A search made only of what people type in a phone number is a phone number search.
PHONE_LIKE = re.compile(r"^[\d\s().+-]+$")


def practice() -> Practice:
    """The practice profile loaded by the factory."""
    return current_app.extensions["practice"]


def response_clock() -> ResponseClock:
    """Response times as of now, under the practice's hours and RESPONSE_TARGET_HOURS."""
    target = float(current_app.config["RESPONSE_TARGET_HOURS"])
    return ResponseClock(practice(), target, utcnow())


def assignment_clause(value: str) -> ColumnElement[bool]:
    """SQL for the inbox's assignment filter: "me", "nobody" or an account's id."""
    if value == "me":
        return Submission.assigned_to_id == current_staff().id
    if value == "nobody":
        return Submission.assigned_to_id.is_(None)
    return Submission.assigned_to_id == int(value)


def inbox_filters(
    form: InboxForm, clock: ResponseClock
) -> tuple[list[ColumnElement[bool]], dict[str, str]]:
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
        status = form.status.data
        overdue = status == "overdue"
        clauses.append(clock.overdue_clause() if overdue else Submission.status == status)
        used["status"] = status
    if valid(form.assigned_to):
        clauses.append(assignment_clause(form.assigned_to.data))
        used["assigned_to"] = form.assigned_to.data
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


def longest_waiting_first(statement: Select[Any]) -> Select[Any]:
    """Waiting requests first, the oldest (so the longest waiting) first; then newest first.

    A request received earlier has always waited at least as long in business time, so the
    order of receipt is the order of waiting.
    """
    waiting = waiting_clause()
    return statement.order_by(
        case((waiting, 0), else_=1),
        case((waiting, Submission.created_at)).asc(),
        Submission.created_at.desc(),
        Submission.id.desc(),
    )


# How a message's status is said, and which status sums up several (the worst one wins).
MESSAGE_STATUSES = {"failed": "Failed", "retrying": "Retrying", "queued": "Queued", "sent": "Sent"}


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


def count(*clauses: ColumnElement[bool]) -> int:
    """How many submissions match."""
    return db.session.scalar(select(func.count()).select_from(Submission).where(*clauses)) or 0


@bp.get("/")
def inbox() -> tuple[str, int]:
    form = InboxForm(practice(), service.assignable_users(db.session), formdata=request.args)
    form.validate()
    clock = response_clock()
    new_count = count(Submission.status == "new")
    overdue_count = count(clock.overdue_clause())
    number = requested_page()
    if number is None or form.refused():
        # Nothing is looked up, so nothing was viewed: no audit record either.
        return render_template(
            "admin/inbox.html",
            form=form,
            page=EmptyPage(),
            submissions=[],
            new_count=new_count,
            overdue_count=overdue_count,
            notifications={},
            timings={},
            filtered=True,
            page_args={},
            waiting_order=False,
        ), 400
    clauses, used = inbox_filters(form, clock)
    waiting_order = not form.sort.errors and form.sort.data == "waiting"
    order = longest_waiting_first if waiting_order else newest_first
    page = db.paginate(
        order(select(Submission).where(*clauses).options(selectinload(Submission.assigned_to))),
        page=number,
        per_page=PER_PAGE,
        error_out=False,  # past the last page: an empty page, not an error
    )
    submissions = list(page.items)
    # Drawn before the audit record's commit, which expires every loaded row: rendered after
    # it, the page would read each of its submissions again, one query each.
    html = render_template(
        "admin/inbox.html",
        form=form,
        default_language=practice().languages[0],
        page=page,
        submissions=submissions,
        new_count=new_count,
        overdue_count=overdue_count,
        notifications=notification_statuses([s.reference for s in submissions]),
        timings=timings(clock, submissions),
        filtered=bool(used),
        # The order is no filter, but the page links keep it.
        page_args={**used, **({"sort": "waiting"} if waiting_order else {})},
        waiting_order=waiting_order,
    )
    detail = {**audited_filters(used), "page": page.page, "results": page.total}
    record_event(db.session, staff_actor(), "inbox.viewed", detail=detail)
    return html, 200
