"""The OpenAPI 3.1 document of the API: every route, parameter, body and answer.

Built from the same constants the views validate with (statuses, kinds, patterns, limits), so
the document and the code cannot drift apart; schemathesis checks the running API against it.
"""

from __future__ import annotations

from typing import Any

from ..models import API_SCOPES, STATUSES
from . import contract
from .schemas import schemas

PROBLEM = "application/problem+json"


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
                            "schema": {"type": "string", "enum": list(contract.KINDS)},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "description": "Submissions per page.",
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": contract.MAX_LIMIT,
                            },
                        },
                        {
                            "name": "cursor",
                            "in": "query",
                            "description": "Where the page starts: take it from `next`.",
                            "schema": {"type": "string", "pattern": contract.CURSOR_PATTERN},
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
            "schemas": schemas(statuses),
        },
    }
