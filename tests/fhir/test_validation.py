"""Strict about what the policy reads, liberal about the rest (service/fhir/validation.py)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.cdshooks.test_router import SIGN, _coverage_information, _valid

# As the public CDS Hooks sandbox sends it: one object where R4 has a list.
CATEGORY_OBJECT = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
            "code": "outpatient",
        }
    ]
}


def _orders(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry["resource"] for entry in body["context"]["draftOrders"]["entry"]]


def test_an_element_never_read_does_not_refuse_the_call(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="service.fhir.validation")
    body = _valid()
    for order in _orders(body):
        order["category"] = CATEGORY_OBJECT
    del body["context"]["draftOrders"]["type"]
    response = client.post(SIGN, json=body)
    assert response.status_code == 200, response.text
    assert _coverage_information(response.json())["covered"]["valueCode"]
    assert "element category not read" in caplog.text


@pytest.mark.parametrize(
    ("element", "value"),
    [
        pytest.param("dosageInstruction", {"text": "28 mcg/day"}, id="dosage-not-a-list"),
        pytest.param("authoredOn", "yesterday", id="authoredOn-not-a-date"),
        pytest.param("doNotPerform", {"value": True}, id="modifier-not-a-boolean"),
    ],
)
def test_a_fault_in_an_element_read_is_still_a_400(
    client: TestClient, element: str, value: object
) -> None:
    body = _valid()
    for order in _orders(body):
        order[element] = value
    response = client.post(SIGN, json=body)
    assert response.status_code == 400, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert f"MedicationRequest.{element}" in outcome["issue"][0]["expression"][0]
