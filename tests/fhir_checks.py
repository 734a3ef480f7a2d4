"""Validation of the FHIR the portal produces: fhir.resources' R4B models (identical to R4 for the
resources used: Bundle, Patient, Appointment, ServiceRequest, Communication), then the codes
those models do not check, against the R4 (4.0.1) value sets."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class

# Required bindings, from hl7.org/fhir/R4 (valueset-*.html); the models take any code.
R4_VALUE_SETS: dict[str, frozenset[str]] = {
    # http://hl7.org/fhir/ValueSet/bundle-type
    "bundle-type": frozenset(
        {
            "document",
            "message",
            "transaction",
            "transaction-response",
            "batch",
            "batch-response",
            "history",
            "searchset",
            "collection",
        }
    ),
    # http://hl7.org/fhir/ValueSet/appointmentstatus
    "appointmentstatus": frozenset(
        {
            "proposed",
            "pending",
            "booked",
            "arrived",
            "fulfilled",
            "cancelled",
            "noshow",
            "entered-in-error",
            "checked-in",
            "waitlist",
        }
    ),
    # http://hl7.org/fhir/ValueSet/participationstatus
    "participationstatus": frozenset({"accepted", "declined", "tentative", "needs-action"}),
    # http://hl7.org/fhir/ValueSet/participantrequired
    "participantrequired": frozenset({"required", "optional", "information-only"}),
    # http://hl7.org/fhir/ValueSet/request-status
    "request-status": frozenset(
        {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}
    ),
    # http://hl7.org/fhir/ValueSet/request-intent
    "request-intent": frozenset(
        {
            "proposal",
            "plan",
            "directive",
            "order",
            "original-order",
            "reflex-order",
            "filler-order",
            "instance-order",
            "option",
        }
    ),
    # http://hl7.org/fhir/ValueSet/event-status
    "event-status": frozenset(
        {
            "preparation",
            "in-progress",
            "not-done",
            "on-hold",
            "stopped",
            "completed",
            "entered-in-error",
            "unknown",
        }
    ),
    # http://hl7.org/fhir/ValueSet/contact-point-system
    "contact-point-system": frozenset({"phone", "fax", "email", "pager", "url", "sms", "other"}),
}


def codes_of(resource: dict[str, Any]) -> list[tuple[str, str]]:
    """(value set, code) for every required-binding code the portal writes in this resource."""
    kind = resource["resourceType"]
    found: list[tuple[str, str]] = []
    if kind == "Bundle":
        found.append(("bundle-type", resource["type"]))
    elif kind == "Appointment":
        found.append(("appointmentstatus", resource["status"]))
        for participant in resource["participant"]:
            found.append(("participationstatus", participant["status"]))
            if "required" in participant:
                found.append(("participantrequired", participant["required"]))
    elif kind == "ServiceRequest":
        found += [("request-status", resource["status"]), ("request-intent", resource["intent"])]
    elif kind == "Communication":
        found.append(("event-status", resource["status"]))
    for point in resource.get("telecom", []):
        found.append(("contact-point-system", point["system"]))
    return found


def validate_bundle(bundle: dict[str, Any], base_url: str, reference: str) -> dict[str, dict]:
    """Validate the Bundle and each resource; return the resources by type."""
    get_fhir_model_class("Bundle").model_validate(bundle)
    identifier = {"system": f"{base_url.rstrip('/')}/submissions", "value": reference}
    assert bundle["identifier"] == identifier
    resources: dict[str, dict] = {}
    full_urls = set()
    for entry in bundle["entry"]:
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        assert resource["identifier"] == [identifier], resource["resourceType"]
        assert entry["fullUrl"].startswith("urn:uuid:")
        full_urls.add(entry["fullUrl"])
        resources[resource["resourceType"]] = resource
    assert len(full_urls) == len(bundle["entry"])  # bdl-7: fullUrl unique in a Bundle
    for value_set, code in [pair for r in [bundle, *resources.values()] for pair in codes_of(r)]:
        assert code in R4_VALUE_SETS[value_set], f"{code!r} is not in the R4 {value_set} value set"
    # Every reference inside the Bundle resolves to one of its entries.
    for resource in resources.values():
        for target in _references(resource):
            assert target in full_urls, target
    return resources


def _references(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return found + [r for v in value.values() for r in _references(v)]
    if isinstance(value, list):
        return [r for v in value for r in _references(v)]
    return []
