"""The API's routes: list, read, read as FHIR and update submissions; the OpenAPI document."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Response, current_app, jsonify, request
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.exc import SQLAlchemyError

from .. import fhir
from ..extensions import db
from ..models import STATUSES, Note, Submission
from ..services.actions import record_event
from ..services.submissions import Actor, StatusConflict, update_submission
from . import bp, current_token
from .contract import (
    CURSOR_PATTERN,
    KINDS,
    MAX_LIMIT,
    NOTE_MAX_LENGTH,
    NOTE_PATTERN,
    REFERENCE_PATTERN,
)
from .openapi import document
from .problems import ApiProblem, problem

DEFAULT_LIMIT = 50
REFERENCE = re.compile(REFERENCE_PATTERN)
NOTE = re.compile(NOTE_PATTERN)
CURSOR = re.compile(CURSOR_PATTERN)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PATCH_KEYS = {"status", "note", "if_status"}


def base_url() -> str:
    """The portal's own address (never the request's Host header)."""
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/")


def api_url(path: str) -> str:
    """An absolute URL of the API."""
    return f"{base_url()}/api/v1{path}"


def actor() -> Actor:
    """The calling token, as the actor of audit events."""
    return Actor(api_token=current_token(), ip=request.remote_addr)


def viewed(submission: Submission, **detail: str) -> None:
    """Audit (and commit) that the calling token read this submission."""
    about = {"via": "api", **detail}
    record_event(
        db.session, actor(), "submission.viewed", target=submission.reference, detail=about
    )


@bp.errorhandler(SQLAlchemyError)
def database_unavailable(error: SQLAlchemyError) -> Response:
    """The database failed: nothing was done (503), never a false success."""
    db.session.rollback()
    current_app.logger.error("API request failed on the database: %s", type(error).__name__)
    return problem(503, "The database is unavailable; nothing was changed. Retry later.")


# --- Reading --------------------------------------------------------------------------------------


def summary(submission: Submission) -> dict[str, Any]:
    """What the list shows: no patient data, only where to read it."""
    return {
        "reference": submission.reference,
        "kind": submission.form,
        "status": submission.status,
        "received_at": _instant(submission.created_at),
        "url": api_url(f"/submissions/{submission.reference}"),
    }


def fields_of(s: Submission) -> dict[str, Any]:
    """Every field the patient sent, keyed as on the patient's form."""
    if s.form == "contact":
        return {
            "name": s.name,
            "email": s.email,
            "phone": s.phone,
            "preferred_language": s.preferred_language,
            "topic": s.topic,
            "message": s.message,
        }
    return {
        "first_name": s.first_name,
        "last_name": s.last_name,
        "date_of_birth": s.date_of_birth.isoformat() if s.date_of_birth else None,
        "phone": s.phone,
        "email": s.email,
        "contact_method": s.contact_method,
        "preferred_language": s.preferred_language,
        "interpreter": s.interpreter,
        "specialty": s.specialty,
        "physician": s.physician or None,
        "patient_type": s.patient_type,
        "preferred_days": [d.strip() for d in (s.preferred_days or "").split(",") if d.strip()],
        "preferred_time": s.preferred_time,
        "insurance": s.insurance,
        "referring_physician": s.referring_physician,
        "reason": s.message,
    }


def find_submission(reference: str) -> Submission:
    """The submission with this reference, or a 404 problem."""
    submission = None
    if REFERENCE.match(reference):
        submission = db.session.scalar(select(Submission).where(Submission.reference == reference))
    if submission is None:
        raise ApiProblem(404, f"No submission has the reference {reference[:40]!r}.")
    return submission


@bp.get("/submissions", provide_automatic_options=False)
def list_submissions() -> Response:
    """Submissions, newest first, a page at a time; `next` is the following page's URL."""
    errors: list[dict[str, str]] = []
    args = request.args
    since = _instant_arg("since", errors)
    until = _instant_arg("until", errors)
    status = args.get("status")
    if status is not None and status not in STATUSES:
        errors.append({"parameter": "status", "detail": f"one of {', '.join(STATUSES)}"})
    kind = args.get("kind")
    if kind is not None and kind not in KINDS:
        errors.append({"parameter": "kind", "detail": f"one of {', '.join(KINDS)}"})
    limit = DEFAULT_LIMIT
    if "limit" in args:
        raw = args["limit"]
        if raw.isascii() and raw.isdecimal() and 1 <= int(raw) <= MAX_LIMIT:
            limit = int(raw)
        else:
            errors.append({"parameter": "limit", "detail": f"a whole number, 1 to {MAX_LIMIT}"})
    after = _cursor_arg(errors)
    if errors:
        raise ApiProblem(400, "Some query parameters are not valid.", errors=errors)

    statement: Select[Any] = select(Submission)
    if since is not None:
        statement = statement.where(Submission.created_at >= since)
    if until is not None:
        statement = statement.where(Submission.created_at < until)
    if status is not None:
        statement = statement.where(Submission.status == status)
    if kind is not None:
        statement = statement.where(Submission.form == kind)
    if after is not None:
        moment, last_id = after
        statement = statement.where(
            or_(
                Submission.created_at < moment,
                and_(Submission.created_at == moment, Submission.id < last_id),
            )
        )
    rows = list(
        db.session.scalars(
            statement.order_by(Submission.created_at.desc(), Submission.id.desc()).limit(limit + 1)
        )
    )
    page, more = rows[:limit], len(rows) > limit
    next_url = None
    if more:
        last = page[-1]
        params = {k: args[k] for k in ("since", "until", "status", "kind") if k in args}
        params |= {"limit": str(limit), "cursor": _encode_cursor(last.created_at, last.id)}
        next_url = api_url(f"/submissions?{urlencode(params)}")
    filters = {k: args[k] for k in ("since", "until", "status", "kind") if k in args}
    detail = {**filters, "results": len(page), "references": [s.reference for s in page]}
    record_event(db.session, actor(), "submissions.listed", detail=detail)
    return jsonify({"data": [summary(s) for s in page], "next": next_url})


@bp.get("/submissions/<reference>", provide_automatic_options=False)
def get_submission(reference: str) -> Response:
    """One submission with every field and its notes (audited as a view)."""
    submission = find_submission(reference)
    notes = db.session.scalars(
        select(Note).where(Note.submission_id == submission.id).order_by(Note.created_at, Note.id)
    ).all()
    body = {
        **summary(submission),
        "fields": fields_of(submission),
        "notes": [
            {"created_at": _instant(n.created_at), "author": n.author_label, "text": n.text}
            for n in notes
        ],
        "fhir_url": api_url(f"/submissions/{submission.reference}/fhir"),
    }
    viewed(submission)
    return jsonify(body)


@bp.get("/submissions/<reference>/fhir", provide_automatic_options=False)
def get_submission_fhir(reference: str) -> Response:
    """The submission as a FHIR R4 Bundle (audited as a view)."""
    submission = find_submission(reference)
    bundle = fhir.bundle(submission, base_url(), current_app.extensions["practice"])
    viewed(submission, format="fhir")
    return Response(json.dumps(bundle, ensure_ascii=False), content_type=fhir.FHIR_JSON)


# --- Changing -------------------------------------------------------------------------------------


@bp.patch("/submissions/<reference>", provide_automatic_options=False)
def update(reference: str) -> Response:
    """Set the status and/or add a note (submissions:write; audited)."""
    if not request.is_json:
        raise ApiProblem(415, "Send the changes as application/json.")
    try:
        changes = json.loads(request.get_data(cache=False) or b"")
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: JSON nested thousands deep, which the decoder refuses to follow.
        raise ApiProblem(400, "The body is not valid JSON.") from None
    status, note, if_status = _validate_changes(changes)
    submission = find_submission(reference)
    try:
        result = update_submission(
            db.session, submission, actor(), status=status, note=note, if_status=if_status
        )
    except StatusConflict as conflict:
        db.session.rollback()
        raise ApiProblem(
            409,
            f"The status is {conflict.current!r}, not {if_status!r}: nothing was changed.",
            current_status=conflict.current,
        ) from None
    db.session.commit()
    return jsonify({**summary(submission), "changed": result.changes})


def _validate_changes(changes: Any) -> tuple[str | None, str | None, str | None]:
    """The body's status, note and if_status, or a 422 problem listing what is wrong."""
    if not isinstance(changes, dict):
        raise ApiProblem(422, "The body must be a JSON object.")
    errors: list[dict[str, str]] = []
    for key in sorted(set(changes) - PATCH_KEYS):
        errors.append({"pointer": f"/{key}", "detail": "not a field that can be changed"})
    if not {"status", "note"} & set(changes):
        errors.append({"pointer": "", "detail": "give a status, a note, or both"})
    status, note, if_status = changes.get("status"), changes.get("note"), changes.get("if_status")
    for key, value in (("status", status), ("if_status", if_status)):
        if key in changes and not (isinstance(value, str) and value in STATUSES):
            errors.append({"pointer": f"/{key}", "detail": f"one of {', '.join(STATUSES)}"})
    if "note" in changes:
        if not isinstance(note, str) or not NOTE.match(note):
            errors.append(
                {
                    "pointer": "/note",
                    "detail": "text with at least one visible character and no control "
                    "characters other than tab and line breaks",
                }
            )
        elif len(note) > NOTE_MAX_LENGTH:
            errors.append({"pointer": "/note", "detail": f"at most {NOTE_MAX_LENGTH} characters"})
    if errors:
        raise ApiProblem(422, "The changes are not valid.", errors=errors)
    return status, note.strip() if isinstance(note, str) else None, if_status


# --- The description ------------------------------------------------------------------------------


@bp.get("/openapi.json", provide_automatic_options=False)
def openapi() -> Response:
    """The OpenAPI 3.1 document of this API."""
    return jsonify(document(current_app.config["API_RATE_LIMIT"]))


# --- Parameters -----------------------------------------------------------------------------------


def _instant_arg(name: str, errors: list[dict[str, str]]) -> datetime | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        # RFC 3339 allows a lower-case t and z.
        moment = datetime.fromisoformat(raw.upper().replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError("no offset")
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        errors.append(
            {"parameter": name, "detail": "an RFC 3339 date-time, e.g. 2026-03-09T14:30:00Z"}
        )
        return None


def _encode_cursor(moment: datetime, last_id: int) -> str:
    # "<microseconds since 1970>-<id>": every string of the documented pattern is a position.
    micros = (moment.astimezone(UTC) - EPOCH) // timedelta(microseconds=1)
    return f"{micros}-{last_id}"


def _cursor_arg(errors: list[dict[str, str]]) -> tuple[datetime, int] | None:
    raw = request.args.get("cursor")
    if raw is None:
        return None
    match = CURSOR.match(raw)
    if not match:
        errors.append({"parameter": "cursor", "detail": "use the `next` URL of the previous page"})
        return None
    return EPOCH + timedelta(microseconds=int(match[1])), int(match[2])


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
