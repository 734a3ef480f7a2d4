"""The Outbox page: what email is waiting or failed and why; admins retry, resolve and test.

Staff may read the page (every staff page links to it while delivery is in trouble); only admins
act, and only admins see recipients' addresses: the page gathers many patients' emails in one
place, and the recipient's kind (front desk, patient, test) is enough to judge what is wrong.
"""

from __future__ import annotations

from collections import Counter

from flask import abort, flash, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from .. import outbox
from ..extensions import db
from ..models import OutboxMessage
from ..outbox import trouble
from ..services import delivery
from ..validators import required_text
from . import bp
from .forms import ConfirmForm, MessageActionForm, TestEmailForm
from .staff import staff_actor

# Rows per table: the oldest problems first, enough to see a pattern.
LISTED = 50


def outbox_page(test_form: TestEmailForm | None = None, status: int = 200) -> tuple[str, int]:
    failed = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status == "failed")
        # Unhandled first: those are the delivery trouble.
        .order_by(OutboxMessage.handled_at.is_not(None), OutboxMessage.queued_at)
        .limit(LISTED)
    ).all()
    waiting = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status.in_(outbox.PENDING))
        .order_by(OutboxMessage.queued_at, OutboxMessage.id)
        .limit(LISTED)
    ).all()
    return render_template(
        "admin/outbox.html",
        counts=outbox.status_counts(db.session),
        state=trouble.evaluate(db.session),
        failed=failed,
        waiting=waiting,
        tests=delivery.recent_tests(db.session),
        to_retry=len(delivery.failed_to_retry(db.session)),
        kind_of=delivery.kind_of,
        server_answer=trouble.server_answer,
        action_form=MessageActionForm(formdata=None),
        test_form=test_form or TestEmailForm(formdata=None),
    ), status


@bp.get("/outbox", endpoint="outbox")
def outbox_view() -> tuple[str, int]:
    return outbox_page()


@bp.get("/outbox/retry-failed")
def confirm_retry_failed() -> str:
    """The confirmation step of "Retry all failed" (a page: it works without JavaScript)."""
    messages = delivery.failed_to_retry(db.session)
    kinds = Counter(delivery.kind_of(message.template) for message in messages)
    return render_template(
        "admin/outbox_retry.html", count=len(messages), kinds=kinds, form=ConfirmForm(formdata=None)
    )


@bp.post("/outbox/retry-failed")
def retry_failed() -> Response:
    if not ConfirmForm().validate():
        abort(400)
    count = delivery.retry_failed(db.session, staff_actor())
    flash(
        f"{count} failed email{'s' if count != 1 else ''} will be sent again in a moment."
        if count
        else "There were no failed emails to retry.",
        "success",
    )
    return redirect(url_for(".outbox"), code=303)


def _message_id() -> int:
    form = MessageActionForm()
    if not form.validate():
        abort(400)
    return int(required_text(form.message))


@bp.post("/outbox/retry")
def retry_message() -> Response:
    message = delivery.retry_one(db.session, _message_id(), staff_actor())
    if message is None:
        abort(404)
    flash(f"The email for {message.reference or 'this message'} will be sent again.", "success")
    return redirect(url_for(".outbox"), code=303)


@bp.post("/outbox/handled")
def mark_handled() -> Response:
    message = delivery.mark_handled(db.session, _message_id(), staff_actor())
    if message is None:
        abort(404)
    what = message.reference or "this message"
    flash(f"The failed email for {what} is marked as handled.", "success")
    return redirect(url_for(".outbox"), code=303)


@bp.post("/outbox/test")
def send_test_email() -> Response | tuple[str, int]:
    form = TestEmailForm()
    if not form.validate():
        return outbox_page(form, 422)
    message = delivery.send_test(db.session, required_text(form.email), staff_actor())
    flash(
        f"Test email {message.reference} queued. Its outcome shows under Test emails below "
        "(reload the page in a moment).",
        "success",
    )
    return redirect(url_for(".outbox", _anchor="tests"), code=303)
