"""The schemas of the OpenAPI document's components: problems, submissions, pages, notes."""

from __future__ import annotations

from typing import Any, Literal

from .. import submissions as vocabulary
from .contract import KINDS, NOTE_MAX_LENGTH, NOTE_PATTERN, REFERENCE_PATTERN

STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}
PREFERRED_LANGUAGE = {
    **NULLABLE_STRING,
    "maxLength": 35,
    "description": 'A BCP 47 language tag ("es", "pt-BR"), or "other"; null: not asked.',
}


def _one_of(question: vocabulary.Field) -> dict[str, Any]:
    """A nullable answer that is one of the question's choices."""
    return {"type": ["string", "null"], "enum": [*(question.choices or {}), None]}


def _object(
    properties: dict[str, Any],
    *,
    description: str | None = None,
    required: list[str] | None | Literal["all"] = "all",
    closed: bool = True,
) -> dict[str, Any]:
    """An object schema: every property required unless said, no others allowed unless open."""
    schema: dict[str, Any] = {"type": "object"}
    if description is not None:
        schema["description"] = description
    if required is not None:
        schema["required"] = list(properties) if required == "all" else required
    schema["properties"] = properties
    if closed:
        schema["additionalProperties"] = False
    return schema


def _array(items: dict[str, Any], *, description: str | None = None) -> dict[str, Any]:
    """An array schema whose items all follow one schema."""
    schema = {"type": "array", "items": items}
    return schema if description is None else schema | {"description": description}


def schemas(statuses: list[str]) -> dict[str, Any]:
    """The component schemas, with the statuses a submission can have."""
    status = {"type": "string", "enum": statuses}
    summary_properties = {
        "reference": {"type": "string", "pattern": REFERENCE_PATTERN},
        "kind": {"type": "string", "enum": list(KINDS)},
        "status": status,
        "received_at": {"type": "string", "format": "date-time"},
        "url": {"type": "string", "format": "uri"},
    }
    # Every field is always present (null when not given); the choices are the vocabulary's.
    appointment = {
        "first_name": NULLABLE_STRING,
        "last_name": NULLABLE_STRING,
        "date_of_birth": {"type": ["string", "null"], "format": "date"},
        "phone": {**NULLABLE_STRING, "description": "E.164, e.g. +16172531000"},
        "email": NULLABLE_STRING,
        "contact_method": _one_of(vocabulary.CONTACT_METHOD),
        "preferred_language": PREFERRED_LANGUAGE,
        "interpreter": _one_of(vocabulary.INTERPRETER_NEEDED),
        "specialty": NULLABLE_STRING,
        "physician": {**NULLABLE_STRING, "description": "null: no preference"},
        "patient_type": _one_of(vocabulary.PATIENT_TYPE),
        "preferred_days": _array(STRING),
        "preferred_time": _one_of(vocabulary.PREFERRED_TIME),
        "insurance": NULLABLE_STRING,
        "referring_physician": NULLABLE_STRING,
        "reason": NULLABLE_STRING,
    }
    contact = {
        **dict.fromkeys(("name", "email", "phone"), NULLABLE_STRING),
        "preferred_language": PREFERRED_LANGUAGE,
        **dict.fromkeys(("topic", "message"), NULLABLE_STRING),
    }
    return {
        "Problem": _object(
            {
                "type": STRING,
                "title": STRING,
                "status": {"type": "integer"},
                "detail": STRING,
                "instance": STRING,
                "errors": _array(
                    _object(
                        {"parameter": STRING, "pointer": STRING, "detail": STRING},
                        required=["detail"],
                        closed=False,
                    )
                ),
                "current_status": status,
            },
            description="RFC 9457 problem details.",
            required=["type", "title", "status"],
            closed=False,
        ),
        "SubmissionSummary": _object(summary_properties),
        "SubmissionPage": _object(
            {
                "data": _array({"$ref": "#/components/schemas/SubmissionSummary"}),
                "next": {"type": ["string", "null"], "format": "uri"},
            }
        ),
        "AppointmentFields": _object(
            appointment, description="An appointment request, keyed as on the patient's form."
        ),
        "ContactFields": _object(
            contact, description="A message to the practice, keyed as on the patient's form."
        ),
        "Note": _object(
            {
                "created_at": {"type": "string", "format": "date-time"},
                "author": STRING,
                "text": STRING,
            }
        ),
        "Submission": _object(
            {
                **summary_properties,
                "fields": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/AppointmentFields"},
                        {"$ref": "#/components/schemas/ContactFields"},
                    ]
                },
                "notes": _array({"$ref": "#/components/schemas/Note"}),
                "fhir_url": {"type": "string", "format": "uri"},
            }
        ),
        "SubmissionChanges": _object(
            {
                "status": status,
                "note": {
                    "type": "string",
                    "maxLength": NOTE_MAX_LENGTH,
                    "pattern": NOTE_PATTERN,
                    "description": "An internal note (staff only; the patient never sees it).",
                },
                "if_status": status,
            },
            description="A status, a note, or both; `if_status` makes the change conditional.",
            required=None,
        )
        | {"anyOf": [{"required": ["status"]}, {"required": ["note"]}]},
        "UpdateResult": _object(
            {
                **summary_properties,
                "changed": _array(
                    {"type": "string", "enum": ["status", "note"]},
                    description="What changed: empty when the status already was the one given.",
                ),
            }
        ),
        "FhirBundle": _object(
            {
                "resourceType": {"const": "Bundle"},
                "type": {"const": "collection"},
                "identifier": {"type": "object"},
                "timestamp": STRING,
                "entry": _array(
                    _object(
                        {
                            "fullUrl": STRING,
                            "resource": _object(
                                {"resourceType": STRING}, required=["resourceType"], closed=False
                            ),
                        },
                        closed=False,
                    )
                ),
            },
            description="A FHIR R4 Bundle (http://hl7.org/fhir/R4/bundle.html).",
            required=["resourceType", "type", "entry"],
            closed=False,
        ),
    }
