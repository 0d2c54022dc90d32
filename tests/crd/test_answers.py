"""order-sign over every example scenario: the coverage information follows the evaluation
(conditional with the section 1367.21 reason exactly when DX is not met)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.crd.coverage_information import EXTENSION_URL
from tests.policy.test_scenarios import SCENARIOS
from tests.support.cds_hooks_shape import response_problems

KEYS = {
    "Patient": "patient",
    "Coverage": "coverage",
    "Condition": "conditions",
    "Observation": "observations",
    "MedicationRequest": "medicationRequests",
    "Organization": "coverage",
}


def hook_request(folder: Path) -> dict[str, Any]:
    bundle = json.loads((folder / "bundle.json").read_text())
    order = json.loads((folder / "order.json").read_text())
    prefetch: dict[str, Any] = {
        key: {"resourceType": "Bundle", "type": "searchset", "entry": []}
        for key in set(KEYS.values()) | {"medicationAdministrations"}
    }
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["id"] == order["id"]:
            continue
        if resource["resourceType"] == "Patient":
            prefetch["patient"] = resource
        else:
            prefetch[KEYS[resource["resourceType"]]]["entry"].append(entry)
    return {
        "hook": "order-sign",
        "hookInstance": f"test-{folder.name}",
        "context": {
            "userId": "Practitioner/prescriber",
            "patientId": "pat",
            "draftOrders": {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": order}],
            },
        },
        "prefetch": prefetch,
    }


@pytest.mark.parametrize("folder", SCENARIOS, ids=[f.name for f in SCENARIOS])
def test_order_sign_answer_follows_the_evaluation(client: TestClient, folder: Path) -> None:
    response = client.post("/cds-services/crd-order-sign", json=hook_request(folder))
    assert response.status_code == 200, response.text
    body = response.json()
    assert response_problems(body) == []
    (action,) = body["systemActions"]
    (extension,) = [e for e in action["resource"]["extension"] if e["url"] == EXTENSION_URL]
    parts = {p["url"]: p for p in extension["extension"]}
    dx = json.loads((folder / "expected.json").read_text())["record"]["criteria"]["DX"]["status"]
    if dx == "not-met":
        assert parts["covered"]["valueCode"] == "conditional"
        assert parts["info-needed"]["valueCode"] == "OTH"
        assert "1367.21" in parts["reason"]["valueCodeableConcept"]["text"]
    else:
        assert parts["covered"]["valueCode"] == "covered"
        assert "info-needed" not in parts
    assert parts["pa-needed"]["valueCode"] == "auth-needed"
    assert parts["coverage"]["valueReference"]["reference"] == "Coverage/cov"
