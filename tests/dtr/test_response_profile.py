"""Intake holds responses to DTR's QuestionnaireResponse profile of their version
(service/dtr/response_profile.py): a response completed the way a DTR app completes the package's
pre-filled one is taken; one that breaks a rule gets a 422 naming the rule."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.dtr.prefill import INFORMATION_ORIGIN
from tests.dtr.test_package import PACKAGE, _assertion_id
from tests.dtr.test_responses import _completed
from tests.policy.test_scenarios import SCENARIOS
from tests.support.dtr_profiles import response_problems

SUBMIT = "/fhir/QuestionnaireResponse"
Change = Callable[[dict[str, Any]], None]


def _first_answer(response: dict[str, Any], link_id: str) -> dict[str, Any]:
    pending = list(response["item"])
    while pending:
        item = pending.pop()
        if item["linkId"] == link_id:
            answer: dict[str, Any] = item["answer"][0]
            return answer
        pending += item.get("item", [])
    raise AssertionError(link_id)


def _origin(response: dict[str, Any], link_id: str) -> dict[str, Any]:
    answer = _first_answer(response, link_id)
    origin: dict[str, Any] = next(e for e in answer["extension"] if e["url"] == INFORMATION_ORIGIN)
    return origin


def _drop_author(response: dict[str, Any]) -> None:
    origin = _origin(response, "phase")
    origin["extension"] = [p for p in origin["extension"] if p["url"] != "author"]


def _made_up_source(response: dict[str, Any]) -> None:
    _origin(response, "phase")["extension"][0]["valueCode"] = "copied"


def _author_on_auto(response: dict[str, Any]) -> None:
    origin = _origin(response, "diagnosis-code")
    origin["extension"].append(
        {"url": "author", "extension": [{"url": "role", "valueCodeableConcept": {"text": "x"}}]}
    )


def _another_patient(response: dict[str, Any]) -> None:
    response["subject"] = {"reference": "Patient/someone-else"}


def _no_order(response: dict[str, Any]) -> None:
    response["extension"] = [
        e for e in response["extension"] if "MedicationRequest" not in str(e.get("valueReference"))
    ]


def _another_order(response: dict[str, Any]) -> None:
    for extension in response["extension"]:
        reference = extension.get("valueReference", {})
        if reference.get("reference", "").startswith("MedicationRequest/"):
            reference["reference"] = "MedicationRequest/other"


def _no_intended_use(response: dict[str, Any]) -> None:
    response["extension"] = [e for e in response["extension"] if "intendedUse" not in e["url"]]


def _no_origin(response: dict[str, Any]) -> None:
    del _first_answer(response, "diagnosis-code")["extension"]


def _two_two_code_in_two_zero_one(response: dict[str, Any]) -> None:
    _origin(response, "diagnosis-code")["extension"][0]["valueCode"] = "auto-server"


def test_a_response_completed_from_the_package_is_taken(client: TestClient) -> None:
    response = _completed(client)
    assert response_problems(response) == []
    assert client.post(SUBMIT, json=response).status_code == 201


@pytest.mark.parametrize(
    ("change", "mentions"),
    [
        pytest.param(_drop_author, "names its author (dtrx-1)", id="manual-without-author"),
        pytest.param(_made_up_source, "is not one of", id="made-up-origin"),
        pytest.param(_author_on_auto, "automatic answer has no author", id="auto-with-author"),
        pytest.param(_no_origin, "information-origin", id="answer-without-origin"),
        pytest.param(_two_two_code_in_two_zero_one, "is not one of", id="2.2-code-in-2.0.1"),
        pytest.param(_another_patient, "not the patient of the coverage assertion", id="subject"),
        pytest.param(_no_order, "qr-context", id="no-order-context"),
        pytest.param(_another_order, "does not name MedicationRequest/", id="other-order"),
        pytest.param(_no_intended_use, "intendedUse", id="no-intended-use"),
    ],
)
def test_a_response_against_the_profile_is_a_422(
    client: TestClient, change: Change, mentions: str
) -> None:
    response = _completed(client)
    change(response)
    answer = client.post(SUBMIT, json=response)
    assert answer.status_code == 422, answer.text
    assert answer.json()["resourceType"] == "OperationOutcome"
    assert mentions in answer.text
    # the checker of the tests agrees wherever it looks at the same rule
    assert change in (_another_patient, _another_order) or response_problems(response)


def test_a_2_2_response_is_read_as_2_2(client: TestClient) -> None:
    """qr-coverage and 2.2's origin codes: the package a 2.2 client gets, completed, is taken."""
    assertion = _assertion_id(client, SCENARIOS[0])
    body = {
        "resourceType": "Parameters",
        "meta": {
            "profile": [
                "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/"
                "dtr-qpackage-input-parameters|2.2.0"
            ]
        },
        "parameter": [{"name": "context", "valueString": assertion}],
    }
    bundle = client.post(PACKAGE, json=body).json()["parameter"][0]["resource"]
    response = copy.deepcopy(bundle["entry"][-1]["resource"])
    response["status"] = "in-progress"
    assert client.post(SUBMIT, json=response).status_code == 201
    _origin(response, "diagnosis-code")["extension"][0]["valueCode"] = "auto"
    refused = client.post(SUBMIT, json=response)
    assert refused.status_code == 422 and "auto-server" in refused.text
