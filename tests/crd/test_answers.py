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
    # What `_include=MedicationRequest:medication` brings along with the orders.
    "Medication": "medicationRequests",
    "MedicationAdministration": "medicationAdministrations",
    "Organization": "coverage",
}


def hook_request(folder: Path) -> dict[str, Any]:
    bundle = json.loads((folder / "bundle.json").read_text())
    order = json.loads((folder / "order.json").read_text())
    prefetch: dict[str, Any] = {
        key: {"resourceType": "Bundle", "type": "searchset", "entry": []}
        for key in set(KEYS.values()) | {"medicationAdministrations"}
    }
    orders = [order]
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["id"] == order["id"]:
            continue
        if resource["resourceType"] == "ServiceRequest":
            # The infusion the order is based on is signed with it, as one order set.
            orders.append(resource)
        elif resource["resourceType"] == "Patient":
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
                "entry": [{"resource": o} for o in orders],
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


@pytest.mark.parametrize("folder", SCENARIOS, ids=[f.name for f in SCENARIOS])
def test_order_sign_cards_follow_the_evaluation(client: TestClient, folder: Path) -> None:
    expected = json.loads((folder / "expected.json").read_text())["record"]
    body = client.post("/cds-services/crd-order-sign", json=hook_request(folder)).json()
    topics = [card["source"]["topic"]["code"] for card in body["cards"]]
    wanted = ["coverage-info", "guideline"]
    if expected["criteria"]["DX"]["status"] == "not-met":
        wanted.insert(0, "off-guideline")
    if expected["criteria"]["DOSE"]["status"] == "not-met":
        wanted.insert(0, "limits")
    assert sorted(topics) == sorted(wanted)
    assert topics[0] == wanted[0], "the most important card comes first"


def test_order_dispatch_answers_like_order_sign(client: TestClient) -> None:
    folder = SCENARIOS[0]
    sign = hook_request(folder)
    order = sign["context"]["draftOrders"]["entry"][0]["resource"]
    dispatch = {
        "hook": "order-dispatch",
        "hookInstance": "dispatch-1",
        "context": {
            "patientId": "pat",
            "performer": "Organization/infusion-center",
            "dispatchedOrders": ["MedicationRequest/blin"],
        },
        "prefetch": {
            **sign["prefetch"],
            "medicationRequests": {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [*sign["prefetch"]["medicationRequests"]["entry"], {"resource": order}],
            },
        },
    }
    response = client.post("/cds-services/crd-order-dispatch", json=dispatch)
    assert response.status_code == 200, response.text
    (action,) = response.json()["systemActions"]
    assert action["resource"]["id"] == "blin"
    assert "doc-needed" in json.dumps(action)


def test_record_data_the_policy_cannot_read_makes_the_answer_technical(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A malformed element deep in a prefetched resource: 200 with `technical`, never a 500, and
    the log names the failure without quoting the record."""
    request = hook_request(SCENARIOS[0])
    weight = request["prefetch"]["observations"]["entry"][0]["resource"]
    weight["valueQuantity"]["code"] = [["kg-from-a-list"]]
    request["extension"] = {"davinci-crd.requestedVersion": "2.2"}  # 2.2 codes the reason
    answer = client.post("/cds-services/crd-order-sign", json=request)
    assert answer.status_code == 200, answer.text
    (action,) = answer.json()["systemActions"]
    (info,) = [e for e in action["resource"]["extension"] if e["url"] == EXTENSION_URL]
    parts = {p["url"]: p for p in info["extension"]}
    assert parts["reason"]["valueCodeableConcept"]["coding"][0]["code"] == "technical"
    assert "policy evaluation failed" in caplog.text
    assert "kg-from-a-list" not in caplog.text


def _assertion_ids(body: dict[str, Any]) -> list[str]:
    return [
        part["valueString"]
        for action in body["systemActions"]
        for extension in action["resource"]["extension"]
        if extension["url"] == EXTENSION_URL
        for part in extension["extension"]
        if part["url"] == "coverage-assertion-id"
    ]


def _malformed_weight(request: dict[str, Any]) -> None:
    weight = request["prefetch"]["observations"]["entry"][0]["resource"]
    weight["valueQuantity"]["code"] = [["kg-from-a-list"]]


def _inactive_coverage(request: dict[str, Any]) -> None:
    for entry in request["prefetch"]["coverage"]["entry"]:
        if entry["resource"]["resourceType"] == "Coverage":
            entry["resource"]["status"] = "cancelled"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(_malformed_weight, id="evaluation-failed"),
        pytest.param(_inactive_coverage, id="no-active-coverage"),
    ],
)
def test_every_assertion_id_given_is_known_to_dtr(client: TestClient, change: Any) -> None:
    """An answer resting on no evaluation still hands out an id: DTR opens its form, asking
    everything (nothing was known), instead of answering 404."""
    request = hook_request(SCENARIOS[0])
    change(request)
    answer = client.post("/cds-services/crd-order-sign", json=request)
    assert answer.status_code == 200, answer.text
    (assertion_id,) = _assertion_ids(answer.json())
    package = client.post(
        "/fhir/Questionnaire/$questionnaire-package",
        json={
            "resourceType": "Parameters",
            "parameter": [{"name": "context", "valueString": assertion_id}],
        },
    )
    assert package.status_code == 200, package.text
    (parameter,) = package.json()["parameter"]
    form = parameter["resource"]["entry"][-1]["resource"]
    assert form["meta"]["tag"][0]["code"] == assertion_id
