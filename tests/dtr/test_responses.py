"""Responses completed by hand: evaluated by $evaluate to the expected outcome, validated against
the Questionnaire, stored durably and idempotently."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from service.dtr.responses import answered
from service.settings import Settings
from tests.dtr.test_package import _assertion_id, _package_for
from tests.policy.test_scenarios import SCENARIOS

CS = "https://payer.example.org/fhir/CodeSystem/blinatumomab-pa"
CODED = {"ph-status", "phase", "regimen", "administration-setting"}
TYPES = {
    "cycle-number": "valueInteger",
    "age-at-diagnosis-months": "valueInteger",
    "first-cycle-date": "valueDate",
    "b-precursor": "valueBoolean",
}


def prefilled(client: TestClient, folder: Path) -> dict[str, Any]:
    bundle = _package_for(client, _assertion_id(client, folder))
    response: dict[str, Any] = bundle["entry"][-1]["resource"]
    return response


BY_PRESCRIBER = {
    "url": "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/information-origin",
    "extension": [
        {"url": "source", "valueCode": "manual"},
        {
            "url": "author",
            "extension": [
                {"url": "practitioner", "valueReference": {"reference": "Practitioner/dr-1"}}
            ],
        },
    ],
}


def answer(response: dict[str, Any], link_id: str, value: Any) -> None:
    """Set (or override) one answer the way a prescriber's DTR app would: typed by a person, so
    `manual` with its author (DTR information-origin, dtrx-1)."""
    if link_id in CODED:
        typed = {"valueCoding": {"system": CS, "code": value}}
    elif link_id == "diagnosis-code":
        typed = {"valueCoding": {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": value}}
    else:
        typed = {TYPES.get(link_id, "valueDecimal"): value}
    set_answer(response, link_id, {**typed, "extension": [copy.deepcopy(BY_PRESCRIBER)]})


def set_answer(response: dict[str, Any], link_id: str, typed: dict[str, Any]) -> None:
    def walk(items: list[dict[str, Any]]) -> bool:
        for item in items:
            if item["linkId"] == link_id:
                item["answer"] = [typed]
                return True
            if walk(item.get("item", [])):
                return True
        return False

    assert walk(response["item"]), link_id


def evaluate(client: TestClient, response: dict[str, Any]) -> dict[str, Any]:
    result = client.post("/fhir/QuestionnaireResponse/$evaluate", json=response)
    assert result.status_code == 200, result.text
    parameters: dict[str, Any] = result.json()
    return parameters


def outcome(parameters: dict[str, Any]) -> str:
    return str(next(p["valueCode"] for p in parameters["parameter"] if p["name"] == "outcome"))


def _values(response: dict[str, Any]) -> dict[str, Any]:
    found = {}
    for link_id, given in answered(response):
        value = next(v for k, v in given.items() if k.startswith("value"))
        found[link_id] = value["code"] if isinstance(value, dict) else value
    return found


@pytest.mark.parametrize("folder", SCENARIOS, ids=[f.name for f in SCENARIOS])
def test_the_prefilled_response_evaluates_like_the_record(client: TestClient, folder: Path) -> None:
    """Submitted untouched, the pre-filled response confirms what the record suggests: it
    evaluates like the record, or like the answer set that is exactly those suggestions."""
    scenario = json.loads((folder / "expected.json").read_text())
    response = prefilled(client, folder)
    values = _values(response)
    confirmed = [
        e
        for e in scenario["withAnswers"]
        if all(values.get(k) == v for k, v in e["answers"].items())
    ]
    expected = confirmed[0]["outcome"] if confirmed else scenario["record"]["outcome"]
    assert outcome(evaluate(client, response)) == expected


CASES = [
    pytest.param(folder, index, id=f"{folder.name}/answers-{index}")
    for folder in SCENARIOS
    for index, _ in enumerate(json.loads((folder / "expected.json").read_text())["withAnswers"])
]


@pytest.mark.parametrize(("folder", "index"), CASES)
def test_a_response_completed_by_hand_evaluates_as_expected(
    client: TestClient, folder: Path, index: int
) -> None:
    expected = json.loads((folder / "expected.json").read_text())["withAnswers"][index]
    response = prefilled(client, folder)
    for link_id, value in expected["answers"].items():
        answer(response, link_id, value)
    parameters = evaluate(client, response)
    assert outcome(parameters) == expected["outcome"]
    paths = {
        p["part"][0]["valueString"]: p["part"][1]["valueCode"]
        for p in parameters["parameter"]
        if p["name"] == "path"
    }
    assert paths == expected["paths"]
    parts = [
        {
            part["name"]: next(v for k, v in part.items() if k.startswith("value"))
            for part in p["part"]
            if "part" not in part  # evidence: parts of its own
        }
        for p in parameters["parameter"]
        if p["name"] == "criterion"
    ]
    criteria = {p["id"]: p["status"] for p in parts}
    assert all(p["label"] and p["label"] != p["id"] for p in parts), "every criterion in words"
    assert criteria["DOSE"] == expected["criteria"]["DOSE"]["status"]
    assert criteria["CYCLES"] == expected["criteria"]["CYCLES"]["status"]
    assert criteria["SITE"] == expected["criteria"]["SITE"]["status"]


# What the prescriber adds to scenario 01's pre-filled form to complete it (path a).
CONSOLIDATION_ANSWERS = {
    "phase": "consolidation",
    "regimen": "single-agent",
    "cycle-number": 1,
    "first-cycle-date": "2026-11-01",
    "administration-setting": "infusion-center",
}


def _completed(client: TestClient) -> dict[str, Any]:
    response = prefilled(client, SCENARIOS[0])
    for link_id, value in CONSOLIDATION_ANSWERS.items():
        answer(response, link_id, value)
    response["status"] = "completed"
    response["identifier"] = {"system": "urn:ehr:qr", "value": "qr-0001"}
    return response


def test_submit_is_stored_before_it_is_acknowledged_and_idempotent(
    settings: Settings, client: TestClient
) -> None:
    response = _completed(client)
    first = client.post("/fhir/QuestionnaireResponse", json=response)
    assert first.status_code == 201, first.text
    stored = first.json()
    assert first.headers["location"].endswith(f"/fhir/QuestionnaireResponse/{stored['id']}")
    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        row = connection.execute(
            text("select status, assertion_id from questionnaire_response")
        ).one()
    engine.dispose()
    assert row.status == "completed" and row.assertion_id
    again = client.post("/fhir/QuestionnaireResponse", json=response)
    assert (again.status_code, again.json()["id"]) == (200, stored["id"])
    assert (
        client.get(f"/fhir/QuestionnaireResponse/{stored['id']}").json()["identifier"]["value"]
        == "qr-0001"
    )
    assert client.get("/fhir/QuestionnaireResponse/nope").status_code == 404


@pytest.mark.parametrize(
    ("change", "mentions"),
    [
        pytest.param(
            lambda r: answer(r, "phase", "remission"),
            "not one of the allowed answers",
            id="code-not-allowed",
        ),
        pytest.param(
            lambda r: r["item"].append({"linkId": "made-up", "answer": [{"valueString": "x"}]}),
            "made-up",
            id="unknown-link-id",
        ),
        pytest.param(
            lambda r: r["item"][1]["item"][1].pop("answer"),
            "regimen is required",
            id="required-missing",
        ),
    ],
)
def test_responses_that_do_not_fit_are_refused(
    client: TestClient, change: Any, mentions: str
) -> None:
    response = copy.deepcopy(_completed(client))
    change(response)
    refused = client.post("/fhir/QuestionnaireResponse", json=response)
    assert refused.status_code == 422, refused.text
    assert refused.json()["resourceType"] == "OperationOutcome"
    assert mentions in refused.text


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param({"resourceType": "Patient"}, 400, id="not-a-response"),
        pytest.param(
            {
                "resourceType": "QuestionnaireResponse",
                "status": "completed",
                "questionnaire": "https://x.example/Questionnaire/q",
            },
            400,
            id="unknown-questionnaire",
        ),
        pytest.param(
            {
                "resourceType": "QuestionnaireResponse",
                "status": "draft",
                "questionnaire": "https://payer.example.org/fhir/Questionnaire/blinatumomab-pa",
            },
            400,
            id="bad-status",
        ),
    ],
)
def test_bad_bodies(client: TestClient, body: dict[str, Any], status: int) -> None:
    assert client.post("/fhir/QuestionnaireResponse", json=body).status_code == status
    assert client.post("/fhir/QuestionnaireResponse/$evaluate", json=body).status_code == status


def test_under_45_kg_the_bsa_is_required_not_the_height(client: TestClient) -> None:
    response = _completed(client)
    answer(response, "weight-kg", 40)  # now the BSA is enabled and required
    refused = client.post("/fhir/QuestionnaireResponse", json=response)
    assert refused.status_code == 422 and "bsa-m2 is required" in refused.text
    assert "height-cm" not in refused.text


def test_a_child_with_a_recorded_bsa_and_no_height_completes_the_form(client: TestClient) -> None:
    """SPEC section 2, BSA: the form pre-fills the recorded BSA and asks no height."""
    (folder,) = [f for f in SCENARIOS if f.name.endswith("child-recorded-bsa-without-height")]
    response = prefilled(client, folder)
    assert "height-cm" not in _values(response) and _values(response)["bsa-m2"] == 1.0
    for link_id, value in {**CONSOLIDATION_ANSWERS, "ph-status": "negative"}.items():
        answer(response, link_id, value)
    response["status"] = "completed"
    response["identifier"] = {"system": "urn:ehr:qr", "value": "qr-recorded-bsa"}
    assert outcome(evaluate(client, response)) == "criteria-met"
    stored = client.post("/fhir/QuestionnaireResponse", json=response)
    assert stored.status_code == 201, stored.text


def test_a_response_that_is_not_valid_fhir_is_a_400(client: TestClient) -> None:
    """Not FHIR at all (400) comes before not fitting the Questionnaire (422)."""
    response = copy.deepcopy(_completed(client))
    answer(response, "cycle-number", "two")
    refused = client.post("/fhir/QuestionnaireResponse", json=response)
    assert refused.status_code == 400, refused.text
    assert "valueInteger" in refused.text and refused.json()["resourceType"] == "OperationOutcome"


def test_the_diagnosis_may_be_typed_off_the_list(client: TestClient) -> None:
    """diagnosis-code is an R4 open-choice: a listed coding, or the ICD-10-CM code typed as text."""
    response = _completed(client)
    met = outcome(evaluate(client, response))
    set_answer(response, "diagnosis-code", {"valueString": " C92.00 "})  # AML, typed
    assert outcome(evaluate(client, response)) == "criteria-not-met"
    set_answer(response, "diagnosis-code", {"valueString": "C91.00"})
    assert outcome(evaluate(client, response)) == met == "criteria-met"
    set_answer(response, "diagnosis-code", {"valueInteger": 9100})
    refused = client.post("/fhir/QuestionnaireResponse", json=response)
    assert refused.status_code == 422 and "diagnosis-code" in refused.text


def test_evaluate_flags_what_the_record_disagreed_on(client: TestClient) -> None:
    """SPEC section 2: a recorded BSA far from Mosteller is flagged by $evaluate too (the form shows
    it), although the answers alone cannot tell; a consistent record has no flag."""

    def flags(folder: Path) -> list[str]:
        body = evaluate(client, prefilled(client, folder))
        return [
            part["valueString"]
            for p in body["parameter"]
            if p["name"] == "criterion"
            for part in p["part"]
            if part["name"] == "flag"
        ]

    by_name = {f.name: f for f in SCENARIOS}
    (flag,) = flags(by_name["16-recorded-bsa-far-from-computed"])
    assert "more than 10% away" in flag
    assert flags(by_name["10-weight-44-9-kg-bsa-limit"]) == []
