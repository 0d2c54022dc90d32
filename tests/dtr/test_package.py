"""$questionnaire-package after order-sign: the Questionnaire, its Libraries (CQL and ELM) and
ValueSets, and a response pre-filled from the stored evaluation that leaves unanswered exactly what
the record could not answer; plus the FHIR reads and searches DTR clients use."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B import get_fhir_model_class

from service.crd.coverage_information import EXTENSION_URL
from service.dtr.prefill import INFORMATION_ORIGIN
from tests.crd.test_answers import hook_request
from tests.policy.test_scenarios import SCENARIOS

PACKAGE = "/fhir/Questionnaire/$questionnaire-package"
QUESTIONNAIRE = "https://payer.example.org/fhir/Questionnaire/blinatumomab-pa"


def _assertion_id(client: TestClient, folder: Path) -> str:
    body = client.post("/cds-services/crd-order-sign", json=hook_request(folder)).json()
    (action,) = body["systemActions"]
    (extension,) = [e for e in action["resource"]["extension"] if e["url"] == EXTENSION_URL]
    return next(
        p["valueString"] for p in extension["extension"] if p["url"] == "coverage-assertion-id"
    )


def _package_for(client: TestClient, context: str) -> dict[str, Any]:
    """The assertion is committed before the CRD answer leaves: no waiting, no retry."""
    return _package(client, [{"name": "context", "valueString": context}])


def _package(client: TestClient, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    response = client.post(PACKAGE, json={"resourceType": "Parameters", "parameter": parameters})
    assert response.status_code == 200, response.text
    (parameter,) = response.json()["parameter"]
    assert parameter["name"] == "PackageBundle"
    bundle: dict[str, Any] = parameter["resource"]
    return bundle


def _answers(response: dict[str, Any]) -> dict[str, Any]:
    found = {}

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            if "answer" in item:
                found[item["linkId"]] = item["answer"][0]
            walk(item.get("item", []))

    walk(response["item"])
    return found


@pytest.mark.parametrize("folder", SCENARIOS, ids=[f.name for f in SCENARIOS])
def test_package_prefills_what_the_record_answers(client: TestClient, folder: Path) -> None:
    bundle = _package_for(client, _assertion_id(client, folder))
    resources = [e["resource"] for e in bundle["entry"]]
    assert resources[0]["resourceType"] == "Questionnaire", "DTR oper-12: the Questionnaire first"
    assert {r["id"] for r in resources if r["resourceType"] == "Library"} == {
        "BlinatumomabPA",
        "FHIRHelpers",
    }
    for library in (r for r in resources if r["resourceType"] == "Library"):
        assert {c["contentType"] for c in library["content"]} == {
            "text/cql",
            "application/elm+json",
        }
    response = resources[-1]
    assert (
        response["resourceType"] == "QuestionnaireResponse" and response["status"] == "in-progress"
    )
    answers = _answers(response)
    expected = json.loads((folder / "expected.json").read_text())["record"]["criteria"]
    # Criteria the record answers are pre-filled; the ones it leaves unknown are not.
    assert ("weight-kg" in answers) == (expected["WEIGHT"]["status"] != "unknown")
    assert ("ph-status" in answers) == (expected["PH"]["status"] == "met")
    assert ("phase" in answers) == (expected["PHASE"]["status"] == "met")
    assert ("b-precursor" in answers) == (expected["LINEAGE"]["status"] == "met")
    assert ("diagnosis-code" in answers) == (expected["DX"]["value"] is not None)
    assert ("bsa-m2" in answers) == (expected["BSA"]["status"] == "met")
    # Regimen and cycle are never settled by the record, but what it suggests is pre-filled for
    # the prescriber to confirm.
    assert expected["REGIMEN"]["status"] == "unknown" and expected["CYCLES"]["status"] == "unknown"
    assert ("regimen" in answers) == (expected["REGIMEN"]["value"] is not None)
    assert ("cycle-number" in answers) == (expected["CYCLES"]["value"] is not None)
    assert ("first-cycle-date" in answers) == (expected["CYCLES"]["value"] is not None)
    for answer in answers.values():
        (origin,) = answer["extension"]
        assert origin["url"] == INFORMATION_ORIGIN
        assert origin["extension"] == [{"url": "source", "valueCode": "auto"}]


def test_the_package_parses_as_fhir_r4(client: TestClient) -> None:
    bundle = _package_for(client, _assertion_id(client, SCENARIOS[0]))
    get_fhir_model_class("Bundle").model_validate(bundle)
    for entry in bundle["entry"]:
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    library = next(
        e["resource"] for e in bundle["entry"] if e["resource"].get("id") == "BlinatumomabPA"
    )
    cql = base64.b64decode(library["content"][0]["data"]).decode()
    assert cql.startswith("/*") and "library BlinatumomabPA" in cql
    answers = _answers(bundle["entry"][-1]["resource"])
    assert answers["ph-status"]["valueCoding"] == {
        "system": "https://payer.example.org/fhir/CodeSystem/blinatumomab-pa",
        "code": "negative",
        "display": "Philadelphia chromosome negative (Ph-)",
    }
    assert answers["diagnosis-code"]["valueCoding"]["code"] == "C91.01"


def test_without_context_the_order_alone_prefills_the_dose(client: TestClient) -> None:
    order = json.loads((SCENARIOS[0] / "order.json").read_text())
    bundle = _package(
        client,
        [
            {"name": "order", "resource": order},
            {"name": "questionnaire", "valueCanonical": QUESTIONNAIRE},
        ],
    )
    answers = _answers(bundle["entry"][-1]["resource"])
    assert set(answers) == {"daily-dose-mcg"}
    assert answers["daily-dose-mcg"]["valueDecimal"] == 28


@pytest.mark.parametrize(
    ("parameters", "status", "mentions"),
    [
        pytest.param(
            [{"name": "context", "valueString": "no-such-assertion"}],
            404,
            "no coverage assertion",
            id="unknown-context",
        ),
        pytest.param(
            [{"name": "questionnaire", "valueCanonical": "https://x.example/Questionnaire/q"}],
            404,
            "no Questionnaire",
            id="unknown-questionnaire",
        ),
        pytest.param([], 400, "context", id="neither-context-nor-order"),
        pytest.param(
            [{"name": "context", "valueString": "a"}, {"name": "context", "valueString": "b"}],
            400,
            "more than once",
            id="two-contexts",
        ),
    ],
)
def test_package_errors(
    client: TestClient, parameters: list[dict[str, Any]], status: int, mentions: str
) -> None:
    response = client.post(PACKAGE, json={"resourceType": "Parameters", "parameter": parameters})
    assert response.status_code == status
    assert response.json()["resourceType"] == "OperationOutcome"
    assert mentions in response.text


def test_not_parameters_is_a_400(client: TestClient) -> None:
    assert client.post(PACKAGE, json={"resourceType": "Patient"}).status_code == 400
    assert (
        client.post(PACKAGE, content=b"{", headers={"content-type": "application/json"}).status_code
        == 400
    )


def test_reads_searches_and_metadata(client: TestClient) -> None:
    metadata = client.get("/fhir/metadata").json()
    assert metadata["fhirVersion"] == "4.0.1"
    questionnaire = next(r for r in metadata["rest"][0]["resource"] if r["type"] == "Questionnaire")
    assert questionnaire["operation"][0]["name"] == "questionnaire-package"
    assert client.get("/fhir/Questionnaire/blinatumomab-pa").json()["url"] == QUESTIONNAIRE
    assert client.get("/fhir/CodeSystem/blinatumomab-pa").status_code == 200
    assert client.get("/fhir/Library/FHIRHelpers").json()["version"] == "4.0.1"
    found = client.get(
        "/fhir/ValueSet", params={"url": "https://payer.example.org/fhir/ValueSet/phase-answers"}
    ).json()
    assert found["total"] == 1 and found["entry"][0]["resource"]["expansion"]["total"] == 4
    assert client.get("/fhir/Questionnaire/nope").status_code == 404
    assert client.get("/fhir/Patient/1").status_code == 404
