"""Routes for patients: home, the two forms, their confirmations and the practice's notices."""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from werkzeug.wrappers import Response
from wtforms import Field

from .. import promise, webhooks
from ..database import insert_rows, one_writer_at_a_time
from ..extensions import csrf, db, limiter
from ..i18n import offered_instead, own_words, page_language
from ..models import Submission, new_reference, utcnow
from ..notices import notice_body
from ..notifications import queue_submission_emails
from ..practice import Practice
from ..submissions import stored_fields
from . import bp
from .fields import EmailField, PhoneField
from .forms import AppointmentForm, ContactForm, PatientForm, new_form_token

log = logging.getLogger(__name__)


def accepted(response: Response) -> bool:
    """True for a submission the patient was told was received (the 303 to the confirmation)."""
    return response.status_code == 303


# Each limit is shared by both forms: a client cannot double its allowance by alternating.
# Only accepted submissions count against SUBMISSION_RATE_LIMIT, so a patient who sends the form
# back with a few mistakes is not turned away when it is finally right; Flask-Limiter checks the
# limit before the view and deducts after it, only when deduct_when says so.
submission_limit = limiter.shared_limit(
    lambda: current_app.config["SUBMISSION_RATE_LIMIT"],
    scope="patient-forms",
    methods=["POST"],
    deduct_when=accepted,
)
# Every POST, valid or not, counts against this looser limit, which still stops floods.
form_post_limit = limiter.shared_limit(
    lambda: current_app.config["FORM_POST_RATE_LIMIT"], scope="patient-form-posts", methods=["POST"]
)

# The endpoints whose own limits are the two above.
LIMITED_FORMS = ("public.request_appointment", "public.contact_us")
# Flask-Limiter's settings for limits on every route, which a deployment may set.
ROUTE_WIDE_LIMITS = ("RATELIMIT_DEFAULT", "RATELIMIT_APPLICATION", "RATELIMIT_META")


@limiter.request_filter
def reading_a_form() -> bool:
    """A GET of a form page while no limit covers every route: the limiter has nothing to count.

    Both of the forms' limits count POSTs only. Skipping the limiter spares a fifth of the GET's
    CPU (resolving, filtering and evaluating the limits).
    """
    return (
        request.method in ("GET", "HEAD")
        and request.endpoint in LIMITED_FORMS
        and not any(current_app.config.get(name) for name in ROUTE_WIDE_LIMITS)
    )


FORMS = {
    "appointment": (AppointmentForm, "public/request_appointment.html"),
    "contact": (ContactForm, "public/contact_us.html"),
}


class DatabaseUnavailable(Exception):
    """The submission could not be committed: the patient must not be told it was received."""


def practice() -> Practice:
    """The practice profile loaded by the factory."""
    return current_app.extensions["practice"]


@bp.after_request
def keep_answers_out_of_caches(response: Response) -> Response:
    """A form given back after a POST holds what the patient typed: no cache may keep it."""
    if request.method == "POST":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
def home() -> str:
    return render_template("public/home.html")


@bp.route("/request-an-appointment", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own CSRF token so that a failure can keep the typed values
@submission_limit
@form_post_limit
def request_appointment() -> Response | tuple[str, int] | str:
    return _handle_form("appointment")


@bp.route("/contact-us", methods=["GET", "POST"])
@csrf.exempt
@submission_limit
@form_post_limit
def contact_us() -> Response | tuple[str, int] | str:
    return _handle_form("contact")


@bp.get("/request-an-appointment/received")
def appointment_received() -> Response | str:
    return _confirmation("appointment")


@bp.get("/contact-us/received")
def contact_received() -> Response | str:
    return _confirmation("contact")


@bp.get("/language-assistance")
def language_assistance() -> str:
    return render_template("public/language_assistance.html")


@bp.get("/notices/<slug>")
def notice(slug: str) -> Response | str:
    found = practice().notice(slug)
    if found is None:
        abort(404)
    language = page_language()
    body, body_lang = notice_body(found, None if language.is_default else language.tag)
    if body is None and found.url:
        return redirect(found.url)
    text, text_lang = own_words(practice(), found.text) if found.text else (None, None)
    return render_template(
        "public/notice.html",
        notice=found,
        body=body,
        body_lang=body_lang,
        text=text,
        text_lang=text_lang,
    )


def _handle_form(kind: str) -> Response | tuple[str, int] | str:
    """Show, validate and store one of the patient forms."""
    if request.method != "POST":  # GET, and HEAD (a link checker's or a monitor's)
        return _blank_form(kind)
    form_class, template = FORMS[kind]
    form: PatientForm = form_class(practice())
    if form.is_bot:
        # Look exactly like success, store nothing.
        log.info("honeypot filled on the %s form; nothing stored", kind)
        return _redirect_to_confirmation(kind, new_reference(kind))
    if not form.validate():
        if form.token_problem:
            if form.form_token.errors:
                form.form_token.data = new_form_token()
            return render_template(template, form=form, resend=True), 400
        return render_template(template, form=form), 422
    try:
        reference = _store(kind, form)
    except DatabaseUnavailable:
        return render_template(template, form=form, unavailable=True), 503
    return _redirect_to_confirmation(kind, reference)


# Stand-ins for the two per-visitor tokens in the cached empty form.
CSRF_SLOT = "__portal_csrf_token_slot__"
FORM_TOKEN_SLOT = "__portal_form_token_slot__"


def _blank_form(kind: str) -> str:
    """The empty form: drawn once per process, then served with this visitor's two tokens.

    Drawing the form with WTForms and Jinja costs about 2 ms, most of a GET; an empty form is the
    same page for everyone but for its CSRF and one-time tokens. When templates reload (debug),
    the form is drawn afresh every time.
    """
    cache: dict[tuple[str, str, str | None], str] = current_app.extensions.setdefault(
        "blank_forms", {}
    )
    # One page per language (the preferred language starts on it) and per line offering
    # another language (at most n x n pages).
    offer = offered_instead()
    key = (kind, page_language().tag, offer.tag if offer else None)
    page = cache.get(key)
    if page is None or current_app.jinja_env.auto_reload:
        form_class, template = FORMS[kind]
        form = form_class(practice())
        form.form_token.data = FORM_TOKEN_SLOT
        page = render_template(template, form=form).replace(
            form.csrf_token.current_token, CSRF_SLOT
        )
        cache[key] = page
    return page.replace(CSRF_SLOT, generate_csrf()).replace(FORM_TOKEN_SLOT, new_form_token())


def _store(kind: str, form: PatientForm) -> str:
    """Commit the submission and return its reference; a repeated form token returns the first."""
    for _ in range(3):  # a second try only on the (astronomically rare) reference collision
        submission = _submission_from(kind, form)
        reference = submission.reference
        # The emails are written in the same transaction: they exist exactly when it does.
        messages = queue_submission_emails(submission)
        try:
            # Its webhook events too; inside the try, because finding the endpoints reads the
            # database, which may be locked or gone like the commit's write.
            messages += webhooks.submission_created(db.session, submission)
            # Core INSERTs, one SQLite writer at a time (database.py), then the one commit.
            with one_writer_at_a_time(db.session):
                insert_rows(db.session, [submission, *messages])
                db.session.commit()
            return reference
        except IntegrityError:
            _rollback()
            earlier = db.session.scalar(
                select(Submission.reference).where(Submission.form_token == form.form_token.data)
            )
            if earlier is not None:
                log.info("repeated POST of one rendered form; answered with %s", earlier)
                return earlier
        except DBAPIError as error:
            _rollback()
            log.error("submission not stored, database unavailable: %s", type(error.orig).__name__)
            raise DatabaseUnavailable from error
    raise DatabaseUnavailable("could not allocate a unique reference")


def _rollback() -> None:
    try:
        db.session.rollback()
    except DBAPIError:
        db.session.close()


def _submission_from(kind: str, form: PatientForm) -> Submission:
    """A new submission holding every answer the form of this kind stores (submissions.py)."""
    submission = Submission(
        reference=new_reference(kind), kind=kind, form_token=form.form_token.data
    )
    for question in stored_fields(kind):
        setattr(submission, question.key, _answer(form.answer_field(question.key)))
    return submission


def _answer(field: Field) -> Any:
    """What a validated field stores: phones in E.164, emails normalised, empty as None."""
    if isinstance(field, PhoneField):
        return field.e164
    if isinstance(field, EmailField):
        return field.normalised
    if isinstance(field.data, list):  # several choices, stored as one text
        return ", ".join(field.data) or None
    return field.data or None


def _redirect_to_confirmation(kind: str, reference: str) -> Response:
    received = dict(session.get("received", {}))
    received[kind] = reference
    session["received"] = received
    endpoint = ".appointment_received" if kind == "appointment" else ".contact_received"
    return redirect(url_for(endpoint), code=303)


def _confirmation(kind: str) -> Response | str:
    reference = session.get("received", {}).get(kind)
    if reference is None:
        form_endpoint = ".request_appointment" if kind == "appointment" else ".contact_us"
        return redirect(url_for(form_endpoint))
    return render_template(
        f"public/{kind}_received.html",
        reference=reference,
        usual_answer=promise.usual_answer(),
        closed_now=promise.closed_now(practice(), utcnow()),
    )
