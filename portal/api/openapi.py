"""The OpenAPI 3.1 document of the API: every route, parameter, body and answer.

Built from the same constants the views validate with (statuses, kinds, patterns, limits), so
the document and the code cannot drift apart; schemathesis checks the running API against it.
"""

from __future__ import annotations

from typing import Any

from ..models import API_SCOPES, STATUSES

KINDS = ("appointment", "contact")
MAX_LIMIT = 100
NOTE_MAX_LENGTH = 2000
REFERENCE_PATTERN = r"^(APT|MSG)-[A-Z2-9]{6,12}$"
# Where a page starts: the receipt time (microseconds since 1970) and id of the last one seen;
# at most 9 digits of id, so any cursor of this pattern fits the database's integer column.
CURSOR_PATTERN = r"^([0-9]{1,16})-([0-9]{1,9})$"
# Plain text with at least one visible character: tab and line breaks are the only control
# characters allowed (the staff form's rule). The same pattern is checked by the view.
_TEXT = r"[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]"
_VISIBLE = r"[^\s\u0000-\u001f\u007f-\u009f]"
NOTE_PATTERN = f"^{_TEXT}*{_VISIBLE}{_TEXT}*$"

PROBLEM = "application/problem+json"
NULLABLE_STRING = {"type": ["string", "null"]}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _errors(*codes: int) -> dict[str, Any]:
    """The problem answers an operation can give."""
    described = {
        400: "The query parameters or the body cannot be read.",
        401: "No API token, or one that is unknown, revoked or expired.",
        403: "The token does not have the scope this operation needs.",
        404: "No submission has this reference.",
        409: "The status is not the one given in `if_status`: nothing was changed.",
        413: "The request body is too large.",
        415: "The body is not application/json.",
        422: "The body is JSON but its changes are not valid.",
        429: "Too many requests with this token: retry after `Retry-After` seconds.",
        503: "The database is unavailable: nothing was changed.",
    }
    return {str(code): _problem(described[code]) for code in codes}


REFERENCE_PARAMETER = {
    "name": "reference",
    "in": "path",
    "required": True,
    "description": "The submission's reference, e.g. APT-7K4M9QXR.",
    "schema": {"type": "string"},
}


def document(rate_limit: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document (paths relative to the server /api/v1)."""
    statuses = list(STATUSES)
    read = [{"bearer": ["submissions:read"]}]
    write = [{"bearer": ["submissions:write"]}]
    submission_link = {
        "operationId": "getSubmission",
        "parameters": {"reference": "$response.body#/reference"},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Practice portal API",
            "version": "1",
            "description": (
                "Read the submissions patients sent (appointment requests and contact "
                "messages), as plain JSON or as FHIR R4, and move them along the front desk's "
                "workflow. Every request carries `Authorization: Bearer <token>` (tokens are "
                "made by an admin at /admin/api-tokens); every read of a submission is recorded "
                "in the audit trail under the token's name. Errors are RFC 9457 problem "
                f"details. Rate limit: {rate_limit} per token."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": read,
        "paths": {
            "/submissions": {
                "get": {
                    "operationId": "listSubmissions",
                    "summary": "List submissions, newest first",
                    "description": (
                        "A page of submissions without patient data; `next` is the URL of the "
                        "following page (null on the last). Filters combine with AND."
                    ),
                    "security": read,
                    "parameters": [
                        {
                            "name": "since",
                            "in": "query",
                            "description": "Received at or after this instant (RFC 3339).",
                            "schema": {"type": "string", "format": "date-time"},
                        },
                        {
                            "name": "until",
                            "in": "query",
                            "description": "Received before this instant (RFC 3339).",
                            "schema": {"type": "string", "format": "date-time"},
                        },
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {"type": "string", "enum": statuses},
                        },
                        {
                            "name": "kind",
                            "in": "query",
                            "schema": {"type": "string", "enum": list(KINDS)},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "description": "Submissions per page.",
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                        },
                        {
                            "name": "cursor",
                            "in": "query",
                            "description": "Where the page starts: take it from `next`.",
                            "schema": {"type": "string", "pattern": CURSOR_PATTERN},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "A page of submissions.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/SubmissionPage"}
                                }
                            },
                            "links": {
                                f"{operation[0].upper()}{operation[1:]}": {
                                    "operationId": operation,
                                    "parameters": {"reference": "$response.body#/data/0/reference"},
                                }
                                for operation in (
                                    "getSubmission",
                                    "getSubmissionFhir",
                                    "updateSubmission",
                                )
                            },
                        },
                        **_errors(400, 401, 403, 429, 503),
                    },
                }
            },
            "/submissions/{reference}": {
                "parameters": [REFERENCE_PARAMETER],
                "get": {
                    "operationId": "getSubmission",
                    "summary": "Read one submission: every field and its notes",
                    "security": read,
                    "responses": {
                        "200": {
                            "description": "The submission.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Submission"}
                                }
                            },
                        },
                        **_errors(401, 403, 404, 429, 503),
                    },
                },
                "patch": {
                    "operationId": "updateSubmission",
                    "summary": "Change the status, add a note, or both",
                    "description": (
                        "With `if_status`, the change is made only while the status is still "
                        "that one (else 409). Setting the status it already has changes nothing."
                    ),
                    "security": write,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/SubmissionChanges"}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "The submission after the change.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/UpdateResult"}
                                }
                            },
                            "links": {"GetUpdatedSubmission": submission_link},
                        },
                        **_errors(400, 401, 403, 404, 409, 413, 415, 422, 429, 503),
                    },
                },
            },
            "/submissions/{reference}/fhir": {
                "parameters": [REFERENCE_PARAMETER],
                "get": {
                    "operationId": "getSubmissionFhir",
                    "summary": "Read one submission as a FHIR R4 Bundle",
                    "description": (
                        "A Bundle of type collection: Patient, ServiceRequest and Appointment "
                        "for an appointment request; Patient and Communication for a message. "
                        "Every resource's identifier is `<portal address>/submissions|<reference>`."
                    ),
                    "security": read,
                    "responses": {
                        "200": {
                            "description": "The FHIR Bundle.",
                            "content": {
                                "application/fhir+json": {
                                    "schema": {"$ref": "#/components/schemas/FhirBundle"}
                                }
                            },
                        },
                        **_errors(401, 403, 404, 429, 503),
                    },
                },
            },
            "/openapi.json": {
                "get": {
                    "operationId": "getOpenApiDocument",
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The OpenAPI 3.1 document.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **_errors(429),
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token; scopes: "
                    + "; ".join(f"`{k}`: {v}" for k, v in API_SCOPES.items()),
                }
            },
            "schemas": _schemas(statuses),
        },
    }


def _schemas(statuses: list[str]) -> dict[str, Any]:
    summary_properties = {
        "reference": {"type": "string", "pattern": REFERENCE_PATTERN},
        "kind": {"type": "string", "enum": list(KINDS)},
        "status": {"type": "string", "enum": statuses},
        "received_at": {"type": "string", "format": "date-time"},
        "url": {"type": "string", "format": "uri"},
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
            "required": [
                "first_name",
                "last_name",
                "date_of_birth",
                "phone",
                "email",
                "contact_method",
                "specialty",
                "physician",
                "patient_type",
                "preferred_days",
                "preferred_time",
                "insurance",
                "referring_physician",
                "reason",
            ],
            "properties": {
                "first_name": NULLABLE_STRING,
                "last_name": NULLABLE_STRING,
                "date_of_birth": {"type": ["string", "null"], "format": "date"},
                "phone": {**NULLABLE_STRING, "description": "E.164, e.g. +16172531000"},
                "email": NULLABLE_STRING,
                "contact_method": {
                    "type": ["string", "null"],
                    "enum": ["phone", "email", "text", None],
                },
                "specialty": NULLABLE_STRING,
                "physician": {**NULLABLE_STRING, "description": "null: no preference"},
                "patient_type": {"type": ["string", "null"], "enum": ["new", "returning", None]},
                "preferred_days": {"type": "array", "items": {"type": "string"}},
                "preferred_time": {
                    "type": ["string", "null"],
                    "enum": ["morning", "afternoon", "any", None],
                },
                "insurance": NULLABLE_STRING,
                "referring_physician": NULLABLE_STRING,
                "reason": NULLABLE_STRING,
            },
            "additionalProperties": False,
        },
        "ContactFields": {
            "type": "object",
            "description": "A message to the practice, keyed as on the patient's form.",
            "required": ["name", "email", "phone", "topic", "message"],
            "properties": {
                "name": NULLABLE_STRING,
                "email": NULLABLE_STRING,
                "phone": NULLABLE_STRING,
                "topic": NULLABLE_STRING,
                "message": NULLABLE_STRING,
            },
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
