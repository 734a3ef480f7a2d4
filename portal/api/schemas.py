"""The schemas of the OpenAPI document's components: problems, submissions, pages, notes."""

from __future__ import annotations

from typing import Any

from .. import submissions as vocabulary
from .contract import KINDS, NOTE_MAX_LENGTH, NOTE_PATTERN, REFERENCE_PATTERN

NULLABLE_STRING = {"type": ["string", "null"]}
PREFERRED_LANGUAGE = {
    **NULLABLE_STRING,
    "maxLength": 35,
    "description": 'A BCP 47 language tag ("es", "pt-BR"), or "other"; null: not asked.',
}


def _one_of(question: vocabulary.Field) -> dict[str, Any]:
    """A nullable answer that is one of the question's choices."""
    return {"type": ["string", "null"], "enum": [*(question.choices or {}), None]}


def schemas(statuses: list[str]) -> dict[str, Any]:
    """The component schemas, with the statuses a submission can have."""
    summary_properties = {
        "reference": {"type": "string", "pattern": REFERENCE_PATTERN},
        "kind": {"type": "string", "enum": list(KINDS)},
        "status": {"type": "string", "enum": statuses},
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
        "preferred_days": {"type": "array", "items": {"type": "string"}},
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
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details.",
            "required": ["type", "title", "status"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "parameter": {"type": "string"},
                            "pointer": {"type": "string"},
                            "detail": {"type": "string"},
                        },
                        "required": ["detail"],
                    },
                },
                "current_status": {"type": "string", "enum": statuses},
            },
        },
        "SubmissionSummary": {
            "type": "object",
            "required": list(summary_properties),
            "properties": summary_properties,
            "additionalProperties": False,
        },
        "SubmissionPage": {
            "type": "object",
            "required": ["data", "next"],
            "properties": {
                "data": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/SubmissionSummary"},
                },
                "next": {"type": ["string", "null"], "format": "uri"},
            },
            "additionalProperties": False,
        },
        "AppointmentFields": {
            "type": "object",
            "description": "An appointment request, keyed as on the patient's form.",
            "required": list(appointment),
            "properties": appointment,
            "additionalProperties": False,
        },
        "ContactFields": {
            "type": "object",
            "description": "A message to the practice, keyed as on the patient's form.",
            "required": list(contact),
            "properties": contact,
            "additionalProperties": False,
        },
        "Note": {
            "type": "object",
            "required": ["created_at", "author", "text"],
            "properties": {
                "created_at": {"type": "string", "format": "date-time"},
                "author": {"type": "string"},
                "text": {"type": "string"},
            },
            "additionalProperties": False,
        },
        "Submission": {
            "type": "object",
            "required": [*summary_properties, "fields", "notes", "fhir_url"],
            "properties": {
                **summary_properties,
                "fields": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/AppointmentFields"},
                        {"$ref": "#/components/schemas/ContactFields"},
                    ]
                },
                "notes": {"type": "array", "items": {"$ref": "#/components/schemas/Note"}},
                "fhir_url": {"type": "string", "format": "uri"},
            },
            "additionalProperties": False,
        },
        "SubmissionChanges": {
            "type": "object",
            "description": "A status, a note, or both; `if_status` makes the change conditional.",
            "properties": {
                "status": {"type": "string", "enum": statuses},
                "note": {
                    "type": "string",
                    "maxLength": NOTE_MAX_LENGTH,
                    "pattern": NOTE_PATTERN,
                    "description": "An internal note (staff only; the patient never sees it).",
                },
                "if_status": {"type": "string", "enum": statuses},
            },
            "anyOf": [{"required": ["status"]}, {"required": ["note"]}],
            "additionalProperties": False,
        },
        "UpdateResult": {
            "type": "object",
            "required": [*summary_properties, "changed"],
            "properties": {
                **summary_properties,
                "changed": {
                    "type": "array",
                    "items": {"type": "string", "enum": ["status", "note"]},
                    "description": "What changed: empty when the status already was the one given.",
                },
            },
            "additionalProperties": False,
        },
        "FhirBundle": {
            "type": "object",
            "description": "A FHIR R4 Bundle (http://hl7.org/fhir/R4/bundle.html).",
            "required": ["resourceType", "type", "entry"],
            "properties": {
                "resourceType": {"const": "Bundle"},
                "type": {"const": "collection"},
                "identifier": {"type": "object"},
                "timestamp": {"type": "string"},
                "entry": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["fullUrl", "resource"],
                        "properties": {
                            "fullUrl": {"type": "string"},
                            "resource": {
                                "type": "object",
                                "required": ["resourceType"],
                                "properties": {"resourceType": {"type": "string"}},
                            },
                        },
                    },
                },
            },
        },
    }
