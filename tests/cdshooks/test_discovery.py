from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.support.prefetch_tokens import fill, is_simple_fhirpath

# CDS Hooks 2.0: prefetch tokens are root-level primitive context fields of the hook (per the
# hook definitions in the CDS Hooks library) or the four user identifiers.
PRIMITIVE_CONTEXT = {
    "order-sign": {"userId", "patientId", "encounterId"},
    "order-select": {"userId", "patientId", "encounterId"},
    # CDS Hooks 2.0 order-dispatch: `order` is not one of its context fields (issue 15).
    "order-dispatch": {"patientId", "performer"},
}
USER_TOKENS = {
    "userPractitionerId",
    "userPractitionerRoleId",
    "userPatientId",
    "userRelatedPersonId",
}
TOKEN = re.compile(r"\{\{([^}]*)\}\}")
SIGN = "crd-order-sign"


def test_services(client: TestClient) -> None:
    services = client.get("/cds-services").json()["services"]
    assert {(s["id"], s["hook"]) for s in services} == {
        ("crd-order-sign", "order-sign"),
        ("crd-order-select", "order-select"),
        ("crd-order-dispatch", "order-dispatch"),
    }
    for service in services:
        assert service["title"] and service["description"]


def test_prefetch_tokens_are_cds_hooks_2_or_simple_fhirpath(client: TestClient) -> None:
    """Primitive tokens as CDS Hooks 2.0 defines them; the rest are the simple-FHIRPath tokens of
    CRD 2.2's standard prefetch, which a test client fills in (tests/support/prefetch_tokens)."""
    for service in client.get("/cds-services").json()["services"]:
        allowed = {f"context.{f}" for f in PRIMITIVE_CONTEXT[service["hook"]]} | USER_TOKENS
        for key, template in service["prefetch"].items():
            tokens = TOKEN.findall(template)
            assert tokens, f"{key} has no token"
            for token in tokens:
                assert token in allowed or is_simple_fhirpath(token), f"{service['id']}.{key}"


def test_prefetch_is_minimum_necessary(client: TestClient) -> None:
    """CRD found-27/28: only what every call needs to find its orders and whose rules apply;
    clinical data is queried when an order is in scope (tests/cdshooks/test_router.py)."""
    services = {s["hook"]: s["prefetch"] for s in client.get("/cds-services").json()["services"]}
    for hook in ("order-sign", "order-select"):
        assert services[hook] == {
            "patient": "Patient/{{context.patientId}}",
            "coverage": "Coverage?patient={{context.patientId}}&status=active",
            "medications": "Medication?_id={{context.draftOrders.entry.resource"
            ".ofType(MedicationRequest).medication.resolve().id}}",
        }
    assert set(services["order-dispatch"]) == {
        "patient",
        "coverage",
        "dispatchedMedicationRequests",
        "dispatchedServiceRequests",
    }
    for prefetch in services.values():
        assert not any("_include" in query for query in prefetch.values())


def test_a_client_fills_the_medications_key_from_the_draft_orders(client: TestClient) -> None:
    prefetch = next(
        s["prefetch"] for s in client.get("/cds-services").json()["services"] if s["id"] == SIGN
    )
    orders = [
        {
            "resourceType": "MedicationRequest",
            "id": "a",
            "medicationReference": {"reference": "Medication/m1"},
        },
        {
            "resourceType": "MedicationRequest",
            "id": "b",
            "medicationCodeableConcept": {"text": "x"},
        },
        {
            "resourceType": "MedicationRequest",
            "id": "c",
            "medicationReference": {"reference": "Medication/m2"},
        },
        {"resourceType": "ServiceRequest", "id": "d"},
    ]
    context = {
        "patientId": "p1",
        "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": o} for o in orders]},
    }
    assert fill(prefetch["medications"], context) == "Medication?_id=m1,m2"
    assert (
        fill(prefetch["medications"], dict(context, draftOrders={"resourceType": "Bundle"})) is None
    )
    assert fill(prefetch["coverage"], context) == "Coverage?patient=p1&status=active"


def test_a_client_fills_the_dispatched_order_keys(client: TestClient) -> None:
    prefetch = next(
        s["prefetch"]
        for s in client.get("/cds-services").json()["services"]
        if s["hook"] == "order-dispatch"
    )
    context = {
        "patientId": "p1",
        "performer": "Organization/o",
        "dispatchedOrders": ["MedicationRequest/a", "ServiceRequest/s", "MedicationRequest/b"],
    }
    assert fill(prefetch["dispatchedMedicationRequests"], context) == "MedicationRequest?_id=a,b"
    assert fill(prefetch["dispatchedServiceRequests"], context) == "ServiceRequest?_id=s"


def test_crd_extensions(client: TestClient) -> None:
    for service in client.get("/cds-services").json()["services"]:
        extension = service["extension"]
        assert extension["davinci-crd.version"] == ["2.0", "2.2"]
        options = extension["davinci-crd.configuration-options"]
        for option in options:  # CRD dev-4: four mandatory elements and a default
            assert set(option) == {"code", "type", "name", "description", "default"}
            assert option["type"] in {"boolean", "integer"}
        for field in ("code", "name", "description"):  # CRD dev-8: unique within a service
            assert len({o[field] for o in options}) == len(options)
        assert {"coverage-info", "max-cards"} <= {o["code"] for o in options}
