"""Builders for the FHIR resources tests need: small, explicit, one function per resource."""

from __future__ import annotations

from typing import Any

from service.types import Resource

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NDC = "http://hl7.org/fhir/sid/ndc"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"


def concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def patient(patient_id: str = "pat1", birth_date: str = "1980-05-01") -> Resource:
    return {
        "resourceType": "Patient",
        "id": patient_id,
        "birthDate": birth_date,
        "gender": "female",
    }


def coverage(
    coverage_id: str = "cov1",
    patient_id: str = "pat1",
    status: str = "active",
    payor: list[dict[str, Any]] | None = None,
    period: dict[str, str] | None = None,
) -> Resource:
    resource: Resource = {
        "resourceType": "Coverage",
        "id": coverage_id,
        "status": status,
        "beneficiary": {"reference": f"Patient/{patient_id}"},
        "payor": payor or [{"reference": "Organization/payer1"}],
    }
    if period:
        resource["period"] = period
    return resource


def organization(org_id: str = "payer1", system: str = "urn:payer", value: str = "P1") -> Resource:
    return {
        "resourceType": "Organization",
        "id": org_id,
        "identifier": [{"system": system, "value": value}],
        "name": "Example Health Plan",
    }


def blinatumomab_order(
    order_id: str = "mr1",
    system: str = RXNORM,
    code: str = "1597262",
    status: str = "draft",
    **extra: Any,
) -> Resource:
    resource: Resource = {
        "resourceType": "MedicationRequest",
        "id": order_id,
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": concept(system, code),
        "subject": {"reference": "Patient/pat1"},
        "authoredOn": "2026-11-20",
    }
    resource.update(extra)
    return resource


def other_order(order_id: str = "mr-other") -> Resource:
    return blinatumomab_order(order_id, RXNORM, "1049502")  # an oxycodone product


def searchset(*resources: Resource) -> Resource:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": resource} for resource in resources],
    }


def hook_request(
    orders: list[Resource],
    prefetch: dict[str, Any] | None = None,
    hook: str = "order-sign",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {
            "userId": "Practitioner/pr1",
            "patientId": "pat1",
            "draftOrders": {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": order} for order in orders],
            },
        },
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    body.update(extra)
    return body


def full_prefetch(*extra: Resource, coverages: list[Resource] | None = None) -> dict[str, Any]:
    return {
        "patient": patient(),
        "coverage": searchset(*(coverages if coverages is not None else [coverage()])),
        "conditions": searchset(),
        "observations": searchset(),
        "medicationRequests": searchset(*extra),
        "medicationAdministrations": searchset(),
    }


def fhir_authorization(
    token: str, scope: str = "patient/*.read", subject: str = "crd"
) -> dict[str, Any]:
    """A CDS Hooks 2.0 fhirAuthorization object carrying `token`."""
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": scope,
        "subject": subject,
    }
