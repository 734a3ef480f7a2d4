"""A submission's page, and what the front desk does on it: status, assignment, notes, resending."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..extensions import db
from ..models import Note, OutboxMessage, Submission, User
from ..response_time import timings
from ..services import submissions as service
from ..services.actions import record_event
from ..submissions import STATUSES, answers
from ..validators import required_text
from . import bp
from .forms import AssignForm, NoteForm, ResendForm, StatusForm
from .staff import current_staff, staff_actor
from .views import MESSAGE_STATUSES, response_clock

REFERENCE = re.compile(r"^(APT|MSG)-[A-Z2-9]{6,12}$")


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


def assignable_to(submission: Submission) -> list[User]:
    """The accounts the select offers: the active ones, and a disabled one it is assigned to."""
    users = service.assignable_users(db.session)
    current = submission.assigned_to
    if current is not None and current not in users:
        users.append(current)
    return users


def detail_page(
    submission: Submission,
    status_form: StatusForm | None = None,
    note_form: NoteForm | None = None,
    assign_form: AssignForm | None = None,
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
        assign_form=assign_form
        or AssignForm(
            assignable_to(submission),
            formdata=None,
            data={"assigned_to": str(submission.assigned_to_id or "")},
        ),
        timing=timings(response_clock(), [submission])[submission.id],
        me=current_staff(),
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


@bp.post("/submissions/<reference>/assign")
def assign(reference: str) -> Response | tuple[str, int]:
    submission = find_submission(reference)
    form = AssignForm(assignable_to(submission))
    if not form.validate():
        return detail_page(submission, assign_form=form, status=422)
    me = current_staff()
    chosen = form.assigned_to.data
    user = me if form.to.data == "me" else db.session.get(User, int(chosen)) if chosen else None
    try:
        changed = service.assign(db.session, submission, staff_actor(), user)
    except ValueError:  # disabled since the page was drawn
        form.assigned_to.errors = ["Choose an active account, or Nobody"]
        return detail_page(submission, assign_form=form, status=422)
    if changed:
        who = "you" if user is me else user.email if user else "nobody"
        flash(f"Assigned to {who}.", "success")
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
