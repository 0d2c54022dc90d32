from __future__ import annotations

import re

from fastapi.testclient import TestClient

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


def test_services(client: TestClient) -> None:
    services = client.get("/cds-services").json()["services"]
    assert {(s["id"], s["hook"]) for s in services} == {
        ("crd-order-sign", "order-sign"),
        ("crd-order-select", "order-select"),
        ("crd-order-dispatch", "order-dispatch"),
    }
    for service in services:
        assert service["title"] and service["description"]


def test_prefetch_uses_only_cds_hooks_2_tokens(client: TestClient) -> None:
    for service in client.get("/cds-services").json()["services"]:
        allowed = {f"context.{f}" for f in PRIMITIVE_CONTEXT[service["hook"]]} | USER_TOKENS
        for key, template in service["prefetch"].items():
            tokens = TOKEN.findall(template)
            assert tokens, f"{key} has no token"
            assert set(tokens) <= allowed, f"{service['id']}.{key}: {tokens}"


def test_prefetch_reads_what_the_policy_needs(client: TestClient) -> None:
    sign = next(
        s for s in client.get("/cds-services").json()["services"] if s["hook"] == "order-sign"
    )
    prefetch = sign["prefetch"]
    assert prefetch["patient"] == "Patient/{{context.patientId}}"
    assert prefetch["coverage"] == "Coverage?patient={{context.patientId}}&status=active"
    assert prefetch["conditions"].startswith("Condition?patient=")
    for loinc in ("29463-7", "8302-2", "8277-6", "21821-4", "46434-7"):
        assert f"http://loinc.org|{loinc}" in prefetch["observations"]
    assert "_include=MedicationRequest:medication" in prefetch["medicationRequests"]
    assert prefetch["medicationAdministrations"].startswith("MedicationAdministration?patient=")


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
