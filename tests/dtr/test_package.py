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
from tests.support.dtr_profiles import bundle_problems, package_problems

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
        "BlinatumomabPA-2023.2.0",
        "FHIRHelpers-4.0.1",
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
    # A code that leaves DX unknown (C91.0, remission state unsaid) is asked, not pre-filled.
    dx = expected["DX"]
    assert ("diagnosis-code" in answers) == (dx["value"] is not None and dx["status"] != "unknown")
    assert ("bsa-m2" in answers) == (expected["BSA"]["status"] == "met")
    # The place of service, when the infusion the order is based on is coded with it (SITE).
    assert ("administration-setting" in answers) == (expected["SITE"]["status"] != "unknown")
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
        e["resource"] for e in bundle["entry"] if e["resource"].get("name") == "BlinatumomabPA"
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
        pytest.param([], 400, "context", id="neither-context-nor-order"),
        pytest.param(
            [{"name": "questionnaire", "valueCanonical": QUESTIONNAIRE}],
            400,
            "coverage",
            id="questionnaire-alone-names-no-patient",
        ),
        pytest.param(
            [{"name": "coverage", "resource": {"resourceType": "Patient"}}],
            400,
            "Coverage",
            id="coverage-not-a-coverage",
        ),
        pytest.param(
            [
                {"name": "context", "valueString": "x"},
                {"name": "changedsince", "valueInstant": "yesterday"},
            ],
            400,
            "changedsince",
            id="changedsince-not-an-instant",
        ),
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
    assert client.get("/fhir/Library/FHIRHelpers-4.0.1").json()["version"] == "4.0.1"
    found = client.get(
        "/fhir/ValueSet", params={"url": "https://payer.example.org/fhir/ValueSet/phase-answers"}
    ).json()
    assert found["total"] == 1 and found["entry"][0]["resource"]["expansion"]["total"] == 4
    assert client.get("/fhir/Questionnaire/nope").status_code == 404
    assert client.get("/fhir/Patient/1").status_code == 404


def _coverage(folder: Path) -> dict[str, Any]:
    bundle = json.loads((folder / "bundle.json").read_text())
    coverage: dict[str, Any] = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Coverage"
    )
    return coverage


@pytest.mark.parametrize("folder", SCENARIOS, ids=[f.name for f in SCENARIOS])
def test_every_package_meets_the_dtr_2_0_1_profiles(client: TestClient, folder: Path) -> None:
    """DTR 2.0.1 QuestionnaireResponse, package Bundle and output Parameters, as the IG package
    states them (tests/support/dtr_profiles.py), for every example scenario."""
    assertion = _assertion_id(client, folder)
    body = {
        "resourceType": "Parameters",
        "parameter": [{"name": "context", "valueString": assertion}],
    }
    parameters = client.post(PACKAGE, json=body).json()
    assert package_problems(parameters) == []
    response = parameters["parameter"][0]["resource"]["entry"][-1]["resource"]
    order = json.loads((folder / "order.json").read_text())
    assert response["subject"]["reference"] == order["subject"]["reference"]
    contexts = [
        e["valueReference"]["reference"] for e in response["extension"] if "qr-context" in e["url"]
    ]
    assert contexts == [f"Coverage/{_coverage(folder)['id']}", f"MedicationRequest/{order['id']}"]


def test_a_2_2_client_gets_2_2_names_and_codes(client: TestClient) -> None:
    assertion = _assertion_id(client, SCENARIOS[0])
    body = {
        "resourceType": "Parameters",
        "meta": {
            "profile": [
                "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-qpackage-input-parameters|2.2.0"
            ]
        },
        "parameter": [{"name": "context", "valueString": assertion}],
    }
    (parameter,) = client.post(PACKAGE, json=body).json()["parameter"]
    assert parameter["name"] == "packagebundle"
    response = parameter["resource"]["entry"][-1]["resource"]
    urls = [e["url"].rsplit("/", 1)[-1] for e in response["extension"]]
    assert urls == ["qr-coverage", "qr-context", "intendedUse"]
    sources = {
        p["valueCode"]
        for a in _answers(response).values()
        for e in a["extension"]
        for p in e["extension"]
    }
    assert sources == {"auto-server"}


def test_an_unknown_questionnaire_is_a_warning_not_an_error(client: TestClient) -> None:
    """DTR oper-9."""
    parameters = [
        {"name": "coverage", "resource": _coverage(SCENARIOS[0])},
        {"name": "questionnaire", "valueCanonical": "https://x.example/Questionnaire/q|1"},
    ]
    response = client.post(PACKAGE, json={"resourceType": "Parameters", "parameter": parameters})
    assert response.status_code == 200
    (outcome,) = response.json()["parameter"]
    assert outcome["name"] == "operationOutcome"
    assert outcome["resource"]["issue"][0]["severity"] == "warning"
    assert "x.example/Questionnaire/q" in outcome["resource"]["issue"][0]["diagnostics"]


def test_coverage_and_questionnaire_alone_get_the_empty_form(client: TestClient) -> None:
    """dtr-1: the questionnaire is enough to ask for; the Coverage names the patient. Without an
    order the response names only the Coverage: 2.0.1's two contexts wait for the client, which
    knows its order."""
    coverage = _coverage(SCENARIOS[0])
    bundle = _package(
        client,
        [
            {"name": "coverage", "resource": coverage},
            {"name": "questionnaire", "valueCanonical": QUESTIONNAIRE},
        ],
    )
    response = bundle["entry"][-1]["resource"]
    assert _answers(response) == {}
    assert response["subject"] == coverage["beneficiary"]
    assert bundle_problems(bundle) == ["extension:context 1 < 2"]


def test_a_service_request_order_gets_its_package(client: TestClient) -> None:
    """CRD answers a J9039 ServiceRequest with a questionnaire; DTR must serve it."""
    order = {
        "resourceType": "ServiceRequest",
        "id": "sr1",
        "status": "draft",
        "intent": "order",
        "code": {
            "coding": [
                {
                    "system": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
                    "code": "J9039",
                }
            ]
        },
        "subject": {"reference": "Patient/p1"},
    }
    bundle = _package(client, [{"name": "order", "resource": order}])
    response = bundle["entry"][-1]["resource"]
    assert response["subject"] == {"reference": "Patient/p1"}
    assert [
        e["valueReference"]["reference"] for e in response["extension"] if "qr-context" in e["url"]
    ] == ["ServiceRequest/sr1"]


def test_changedsince_after_the_last_change_returns_no_bundle(client: TestClient) -> None:
    assertion = _assertion_id(client, SCENARIOS[0])

    def ask(since: str) -> list[dict[str, Any]]:
        parameters = [
            {"name": "context", "valueString": assertion},
            {"name": "changedsince", "valueInstant": since},
        ]
        body = {"resourceType": "Parameters", "parameter": parameters}
        found: list[dict[str, Any]] = client.post(PACKAGE, json=body).json()["parameter"]
        return found

    assert [p["name"] for p in ask("2000-01-01T00:00:00Z")] == ["PackageBundle"]
    (unchanged,) = ask("2999-01-01T00:00:00+00:00")
    assert unchanged["name"] == "operationOutcome"
    assert unchanged["resource"]["issue"][0]["severity"] == "information"


def test_the_library_says_what_it_reads_and_what_it_uses(client: TestClient) -> None:
    library = client.get("/fhir/Library/BlinatumomabPA-2023.2.0").json()
    kinds = {r["type"] for r in library["dataRequirement"]}
    assert {"Condition", "Observation", "MedicationRequest"} <= kinds
    filtered = [r for r in library["dataRequirement"] if r.get("codeFilter")]
    assert all("|" in f["valueSet"] for r in filtered for f in r["codeFilter"])
    names = {p["name"] for p in library["parameter"]}
    assert {"Order Id", "Evaluation Date"} <= names
    value_sets = [
        a["resource"] for a in library["relatedArtifact"] if "/ValueSet/" in a["resource"]
    ]
    assert len(value_sets) >= 10 and all("|" in v for v in value_sets)


def test_the_cqf_library_is_the_library_url_and_names_its_version(client: TestClient) -> None:
    """Decision 0009: the Questionnaire's cqf-library is the Library's url as written (DTR clients
    and the DTR test kit compare the strings) and that url names one version (oper-16). A search
    by it finds that Library; `url|version` finds it too, and another version finds nothing."""
    questionnaire = client.get("/fhir/Questionnaire/blinatumomab-pa").json()
    (reference,) = [
        e["valueCanonical"] for e in questionnaire["extension"] if e["url"].endswith("cqf-library")
    ]
    found = client.get("/fhir/Library", params={"url": reference}).json()
    (library,) = [e["resource"] for e in found["entry"]]
    assert library["url"] == reference and reference.endswith(f"-{library['version']}")
    versioned = client.get("/fhir/Library", params={"url": f"{reference}|{library['version']}"})
    assert [e["resource"]["id"] for e in versioned.json()["entry"]] == [library["id"]]
    other = f"{reference}|0.0.1"
    assert client.get("/fhir/Library", params={"url": other}).json()["total"] == 0


def test_changedsince_twice_is_a_400(client: TestClient) -> None:
    since = {"name": "changedsince", "valueInstant": "2000-01-01T00:00:00Z"}
    body = {"resourceType": "Parameters", "parameter": [since, since]}
    response = client.post(PACKAGE, json=body)
    assert response.status_code == 400 and "more than once" in response.text


def test_an_order_no_policy_is_about_needs_the_questionnaire_named(client: TestClient) -> None:
    order = json.loads((SCENARIOS[0] / "order.json").read_text())
    order["medicationCodeableConcept"] = {
        "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "197361"}]
    }
    refused = client.post(
        PACKAGE,
        json={"resourceType": "Parameters", "parameter": [{"name": "order", "resource": order}]},
    )
    assert refused.status_code == 400 and "name the questionnaire" in refused.text
    bundle = _package(
        client,
        [
            {"name": "order", "resource": order},
            {"name": "questionnaire", "valueCanonical": QUESTIONNAIRE},
        ],
    )
    assert _answers(bundle["entry"][-1]["resource"]) == {}
