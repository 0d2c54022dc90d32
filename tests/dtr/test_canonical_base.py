"""What the service publishes hangs on its own BASE_URL (SPEC section 6: `{base}/fhir/...`): the
Questionnaire, its Library (the CQL and ELM inside too), ValueSets and CodeSystem, the
questionnaire CRD names, and the codes the form is pre-filled with; a response written with them is
taken and evaluated. The policy folder's own URLs stay inside the engine."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_settings
from tests.dtr.test_package import PACKAGE, _answers, _assertion_id
from tests.dtr.test_responses import CONSOLIDATION_ANSWERS, answer
from tests.policy.test_scenarios import SCENARIOS
from tests.support.clock import examples_app

BASE = "https://plan.example.com"
AUTHORED = "https://payer.example.org/fhir"


@pytest.fixture
def elsewhere(database_url: str) -> Iterator[TestClient]:
    with TestClient(examples_app(make_settings(database_url, base_url=BASE))) as client:
        yield client


def _package(client: TestClient) -> list[dict[str, Any]]:
    assertion = _assertion_id(client, SCENARIOS[0])
    body = {
        "resourceType": "Parameters",
        "parameter": [{"name": "context", "valueString": assertion}],
    }
    bundle = client.post(PACKAGE, json=body).json()["parameter"][0]["resource"]
    return [e["resource"] for e in bundle["entry"]]


def test_everything_published_is_under_base_url(elsewhere: TestClient) -> None:
    resources = _package(elsewhere)
    questionnaire = resources[0]
    assert questionnaire["url"] == f"{BASE}/fhir/Questionnaire/blinatumomab-pa"
    library = next(
        r for r in resources if r["resourceType"] == "Library" and r["name"] == "BlinatumomabPA"
    )
    assert library["url"] == f"{BASE}/fhir/Library/BlinatumomabPA-2023.2.0"
    for resource in resources:
        assert AUTHORED not in str(resource), resource["resourceType"]
    for content in library["content"]:
        text = base64.b64decode(content["data"]).decode()
        assert AUTHORED not in text and f"{BASE}/fhir/ValueSet/" in text
    read = elsewhere.get("/fhir/Questionnaire/blinatumomab-pa").json()
    assert read["url"] == questionnaire["url"]
    found = elsewhere.get("/fhir/ValueSet", params={"url": f"{BASE}/fhir/ValueSet/phase-answers"})
    assert found.json()["total"] == 1


def test_a_response_in_published_codes_is_taken_and_evaluated(elsewhere: TestClient) -> None:
    resources = _package(elsewhere)
    response = resources[-1]
    coded = _answers(response)["ph-status"]["valueCoding"]
    assert coded["system"] == f"{BASE}/fhir/CodeSystem/blinatumomab-pa"
    for link_id, value in CONSOLIDATION_ANSWERS.items():
        answer(response, link_id, value)
    for item in response["item"]:
        for child in [item, *item.get("item", [])]:
            for given in child.get("answer", []):
                coding = given.get("valueCoding", {})
                if coding.get("system", "").startswith(AUTHORED):
                    coding["system"] = coding["system"].replace(AUTHORED, f"{BASE}/fhir")
    response["status"] = "completed"
    evaluated = elsewhere.post("/fhir/QuestionnaireResponse/$evaluate", json=response)
    assert evaluated.status_code == 200, evaluated.text
    outcome = next(p for p in evaluated.json()["parameter"] if p["name"] == "outcome")
    assert outcome["valueCode"] == "criteria-met"
    assert elsewhere.post("/fhir/QuestionnaireResponse", json=response).status_code == 201
