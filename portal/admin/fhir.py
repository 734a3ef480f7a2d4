"""A submission as a FHIR R4 Bundle, downloaded by staff (audited like a view)."""

from __future__ import annotations

import json

from flask import Response, current_app

from .. import fhir
from ..extensions import db
from ..services.actions import record_event
from . import bp
from .staff import staff_actor
from .submission_page import find_submission
from .views import practice


@bp.get("/submissions/<reference>.fhir.json")
def submission_fhir(reference: str) -> Response:
    """The Bundle as a download; recorded in the audit trail as a view of the submission."""
    submission = find_submission(reference)
    bundle = fhir.bundle(submission, current_app.config["PUBLIC_BASE_URL"], practice())
    detail = {"format": "fhir"}
    record_event(db.session, staff_actor(), "submission.viewed", target=reference, detail=detail)
    return Response(
        json.dumps(bundle, ensure_ascii=False, indent=2),
        content_type=fhir.FHIR_JSON,
        headers={"Content-Disposition": f'attachment; filename="{reference}.fhir.json"'},
    )
