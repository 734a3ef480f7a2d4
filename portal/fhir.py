"""A submission as FHIR R4 (4.0.1) resources: pure functions, no Flask inside.

An appointment request becomes a Bundle (type ``collection``) of a Patient, a ServiceRequest
(``draft``/``proposal``, the specialty) and an Appointment (``proposed``) based on it; a contact
message becomes a Bundle of a Patient and a Communication (``completed``). Every resource carries
the identifier ``{PUBLIC_BASE_URL}/submissions|<reference>`` so a receiver can de-duplicate, and
entries are named by ``urn:uuid:`` URLs derived from the reference, so exporting the same
submission twice gives the same Bundle.

The functions read a submission's attributes only, so an ORM object and a plain row of the
submission table (as exports stream them) are both accepted.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from .languages import OTHER
from .practice import Practice
from .submissions import (
    INSURANCE,
    PATIENT_TYPE,
    PREFERRED_DAYS,
    PREFERRED_TIME,
    REFERRING_PHYSICIAN,
    answer_text,
)

FHIR_JSON = "application/fhir+json"
FHIR_NDJSON = "application/fhir+ndjson"
# IETF BCP 47 language tags: how Patient.communication.language is coded in FHIR R4.
BCP47 = "urn:ietf:bcp:47"
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
# FHIR R4's core extension for "an interpreter is needed to talk with this patient".
INTERPRETER_REQUIRED = "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired"

# Preferences that FHIR has no coded place for: written in the Appointment's comment.
COMMENT_FIELDS = (PREFERRED_DAYS, PREFERRED_TIME, PATIENT_TYPE, INSURANCE, REFERRING_PHYSICIAN)


def identifier_system(base_url: str) -> str:
    """The identifier system of every resource: the portal's own submissions."""
    return f"{base_url.rstrip('/')}/submissions"


def bundle(submission: Any, base_url: str, practice: Practice) -> dict[str, Any]:
    """The submission as a FHIR R4 Bundle of type collection (a JSON-ready dict)."""
    identifier = [{"system": identifier_system(base_url), "value": submission.reference}]
    patient_url = _entry_url(base_url, submission.reference, "Patient")
    resources: list[tuple[str, dict[str, Any]]] = [(patient_url, patient(submission, identifier))]
    if submission.kind == "appointment":
        request_url = _entry_url(base_url, submission.reference, "ServiceRequest")
        resources.append(
            (request_url, service_request(submission, identifier, patient_url, practice))
        )
        resources.append(
            (
                _entry_url(base_url, submission.reference, "Appointment"),
                appointment(submission, identifier, patient_url, request_url),
            )
        )
    else:
        resources.append(
            (
                _entry_url(base_url, submission.reference, "Communication"),
                communication(submission, identifier, patient_url, practice),
            )
        )
    return {
        "resourceType": "Bundle",
        "identifier": identifier[0],
        "type": "collection",
        "timestamp": _instant(submission.created_at),
        "entry": [{"fullUrl": url, "resource": resource} for url, resource in resources],
    }


def patient(submission: Any, identifier: list[dict[str, str]]) -> dict[str, Any]:
    """Who the patient said they are: name, date of birth, phone, email, language, and whether
    they need an interpreter."""
    resource: dict[str, Any] = {"resourceType": "Patient", "identifier": identifier}
    if submission.kind == "appointment":
        given, family = submission.first_name, submission.last_name
        name = {"text": f"{given} {family}".strip(), "family": family, "given": [given]}
        resource["name"] = [{k: v for k, v in name.items() if v}]
    elif submission.name:
        resource["name"] = [{"text": submission.name}]
    telecom = contact_points(submission)
    if telecom:
        resource["telecom"] = telecom
    if getattr(submission, "date_of_birth", None):
        resource["birthDate"] = submission.date_of_birth.isoformat()
    language = getattr(submission, "preferred_language", None)
    # The answer for a language not listed names no language: there is nothing to code.
    if language and language != OTHER:
        resource["communication"] = [{"language": language_concept(language), "preferred": True}]
    interpreter = getattr(submission, "interpreter", None)
    if interpreter in ("yes", "no"):
        resource["extension"] = [
            {"url": INTERPRETER_REQUIRED, "valueBoolean": interpreter == "yes"}
        ]
    return resource


def contact_points(submission: Any) -> list[dict[str, Any]]:
    """Phone (E.164) and email, the way the patient asked to be contacted ranked first."""
    method = getattr(submission, "contact_method", None)
    points: list[dict[str, Any]] = []
    if submission.phone:
        points.append({"system": "phone", "value": submission.phone})
        if method == "text":
            points.append({"system": "sms", "value": submission.phone})
    if submission.email:
        points.append({"system": "email", "value": submission.email})
    preferred = {"phone": "phone", "text": "sms", "email": "email"}.get(method or "")
    for point in points:
        if point["system"] == preferred:
            point["rank"] = 1
    return points


def language_concept(language: str) -> dict[str, Any]:
    """A preferred language: coded in BCP 47 when it is a language tag, else as text."""
    if LANGUAGE_TAG.match(language):
        return {"coding": [{"system": BCP47, "code": language}], "text": language}
    return {"text": language}


def service_request(
    submission: Any, identifier: list[dict[str, str]], patient_url: str, practice: Practice
) -> dict[str, Any]:
    """The request for care in the chosen specialty, proposed by the patient."""
    resource = _resource("ServiceRequest", identifier, "draft") | {
        "intent": "proposal",
        "subject": {"reference": patient_url},
        "authoredOn": _instant(submission.created_at),
        "requester": {"reference": patient_url},
        "performer": [{"display": practice.name}],
    }
    if submission.specialty:
        resource["code"] = {"text": submission.specialty}
    return resource


def appointment(
    submission: Any, identifier: list[dict[str, str]], patient_url: str, request_url: str
) -> dict[str, Any]:
    """The proposed appointment: no time yet, the patient (and physician) still to confirm."""
    participants: list[dict[str, Any]] = [
        {
            "actor": {"reference": patient_url},
            "required": "required",
            "status": "needs-action",
        }
    ]
    if submission.physician:
        participants.append({"actor": {"display": submission.physician}, "status": "needs-action"})
    resource = _resource("Appointment", identifier, "proposed") | {
        "basedOn": [{"reference": request_url}],
        "created": _instant(submission.created_at),
        "participant": participants,
    }
    if submission.specialty:
        resource["serviceType"] = [{"text": submission.specialty}]
        resource["specialty"] = [{"text": submission.specialty}]
    if submission.message:
        resource["reasonCode"] = [{"text": submission.message}]
    comment = appointment_comment(submission)
    if comment:
        resource["comment"] = comment
    return resource


def appointment_comment(submission: Any) -> str:
    """Preferences that FHIR has no coded place for, one per line, labelled as on the form."""
    lines = [(f.label, answer_text(f, getattr(submission, f.key))) for f in COMMENT_FIELDS]
    return "\n".join(f"{label}: {value}" for label, value in lines if value)


def communication(
    submission: Any, identifier: list[dict[str, str]], patient_url: str, practice: Practice
) -> dict[str, Any]:
    """The message the patient sent to the practice."""
    resource = _resource("Communication", identifier, "completed") | {
        "subject": {"reference": patient_url},
        "sender": {"reference": patient_url},
        "recipient": [{"display": practice.name}],
        "sent": _instant(submission.created_at),
        "payload": [{"contentString": submission.message}],
    }
    if submission.topic:
        resource["topic"] = {"text": submission.topic}
    return resource


def _resource(resource_type: str, identifier: list[dict[str, str]], status: str) -> dict[str, Any]:
    """How the submission's request, appointment and message begin: type, identifier, status."""
    return {"resourceType": resource_type, "identifier": identifier, "status": status}


def _entry_url(base_url: str, reference: str, resource_type: str) -> str:
    # Stable per submission and resource type: the same Bundle whenever it is produced.
    name = f"{identifier_system(base_url)}/{reference}/{resource_type}"
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
