"""Questionnaire/$log-questionnaire-errors against DTR 2.0.1's OperationDefinition and example
(read from the IG package), Questionnaire/$next-question's refusal, and the OperationDefinition
we publish for QuestionnaireResponse/$evaluate, checked against what $evaluate answers."""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.storage.tables import QuestionnaireErrorReport
from tests.dtr.test_responses import evaluate, prefilled
from tests.policy.test_scenarios import SCENARIOS
from tests.support.clients import EHR_A, bearer, system_token
from tests.support.ig_package import dtr_resource

LOG_ERRORS = "/fhir/Questionnaire/$log-questionnaire-errors"
QUESTIONNAIRE = "https://payer.example.org/fhir/Questionnaire/blinatumomab-pa"
DEFINITION = dtr_resource("OperationDefinition-log-questionnaire-errors.json")
REQUIRED = [p for p in DEFINITION["parameter"] if p["use"] == "in" and p["min"] >= 1]
# What a DTR client must not send, and we must never log: it stands in for PHI that slipped in.
SECRET = "Jane Roe, born 1961-04-02"


def _outcome(diagnostics: str = "CQL error: Could not resolve identifier Weight") -> Any:
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "error", "code": "processing", "diagnostics": diagnostics},
            {"severity": "warning", "code": "not-found", "expression": ["Questionnaire.item[3]"]},
        ],
    }


def _value(parameter: dict[str, Any]) -> dict[str, Any]:
    """A value of the type the OperationDefinition gives the parameter."""
    if parameter["type"] == "canonical":
        return {"valueCanonical": f"{QUESTIONNAIRE}|2023.2"}
    assert parameter["type"] == "OperationOutcome"
    return {"resource": _outcome()}


def _as_defined(leave_out: str | None = None) -> dict[str, Any]:
    """A body spelled as the OperationDefinition names its parameters."""
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": p["name"], **_value(p)} for p in REQUIRED if p["name"] != leave_out],
    }


def _the_example() -> dict[str, Any]:
    """The IG's own example, about our Questionnaire instead of theirs."""
    example = copy.deepcopy(
        dtr_resource("example/Parameters-LogQuestionnaireErrorsInputParamsExample.json")
    )
    (questionnaire,) = [p for p in example["parameter"] if "valueCanonical" in p]
    questionnaire["valueCanonical"] = QUESTIONNAIRE
    return dict(example)


def _reports(sessions: sessionmaker[Session]) -> list[QuestionnaireErrorReport]:
    with sessions() as session:
        return list(session.scalars(select(QuestionnaireErrorReport)))


def test_the_definition_requires_two_inputs() -> None:
    """Guards the tests below: they read the required inputs from the IG package."""
    assert [(p["name"], p["type"]) for p in REQUIRED] == [
        ("Questionnaire", "canonical"),
        ("OperationOutcome", "OperationOutcome"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(_as_defined(), id="names-of-the-operation-definition"),
        pytest.param(_the_example(), id="names-of-the-input-profile-and-example"),
    ],
)
def test_a_report_is_stored_and_acknowledged(
    client: TestClient, sessions: sessionmaker[Session], body: dict[str, Any]
) -> None:
    answer = client.post(LOG_ERRORS, json=body)
    assert answer.status_code == 200, answer.text
    (issue,) = answer.json()["issue"]
    assert answer.json()["resourceType"] == "OperationOutcome"
    assert issue["severity"] == "information" and QUESTIONNAIRE in issue["diagnostics"]
    (report,) = _reports(sessions)  # committed before the 200: no waiting
    sent = next(p["resource"] for p in body["parameter"] if "resource" in p)
    assert report.outcome == sent and report.questionnaire.startswith(QUESTIONNAIRE)


@pytest.mark.parametrize("missing", [p["name"] for p in REQUIRED])
def test_without_a_required_input_it_is_a_400(
    client: TestClient, sessions: sessionmaker[Session], missing: str
) -> None:
    answer = client.post(LOG_ERRORS, json=_as_defined(leave_out=missing))
    assert answer.status_code == 400
    assert missing in answer.json()["issue"][0]["diagnostics"]
    assert _reports(sessions) == []


def _with(**changes: Any) -> dict[str, Any]:
    parameters = {"questionnaire": {"valueCanonical": QUESTIONNAIRE}} | {
        "operationOutcome": {"resource": _outcome()}
    }
    parameters |= changes
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": name, **value} for name, value in parameters.items()],
    }


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param({"resourceType": "Bundle"}, 400, id="not-parameters"),
        pytest.param(
            _with(questionnaire={"valueString": QUESTIONNAIRE}), 400, id="questionnaire-a-string"
        ),
        pytest.param(
            _with(questionnaire={"valueCanonical": "x" * 513}), 400, id="canonical-too-long"
        ),
        pytest.param(
            _with(operationOutcome={"resource": {"resourceType": "Patient"}}),
            400,
            id="outcome-not-an-operation-outcome",
        ),
        pytest.param(
            _with(operationOutcome={"resource": {"resourceType": "OperationOutcome"}}),
            400,
            id="outcome-without-issue",
        ),
        pytest.param(
            _with(operationOutcome={"resource": {**_outcome(), "issue": [{"code": "x"}]}}),
            400,
            id="issue-without-severity",
        ),
        pytest.param(
            {
                "resourceType": "Parameters",
                "parameter": [
                    *_with()["parameter"],
                    {"name": "Questionnaire", "valueCanonical": QUESTIONNAIRE},
                ],
            },
            400,
            id="questionnaire-in-both-spellings",
        ),
        pytest.param(
            _with(questionnaire={"valueCanonical": "https://other.example/Questionnaire/q"}),
            404,
            id="not-our-questionnaire",
        ),
    ],
)
def test_bad_reports_are_refused(
    client: TestClient, sessions: sessionmaker[Session], body: dict[str, Any], status: int
) -> None:
    answer = client.post(LOG_ERRORS, json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["resourceType"] == "OperationOutcome"
    assert _reports(sessions) == []


def test_a_report_needs_a_token(secured: TestClient) -> None:
    answer = secured.post(LOG_ERRORS, json=_the_example())
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_a_report_needs_the_questionnaire_scope(secured: TestClient) -> None:
    token = system_token(secured, EHR_A, scope="system/QuestionnaireResponse.crs")
    answer = secured.post(LOG_ERRORS, json=_the_example(), headers=bearer(token))
    assert answer.status_code == 403


def test_the_log_line_names_the_client_and_never_the_text_or_token(
    secured: TestClient, sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    token = system_token(secured, EHR_A)
    body = _with(operationOutcome={"resource": _outcome(diagnostics=SECRET)})
    with caplog.at_level(logging.INFO):
        answer = secured.post(LOG_ERRORS, json=body, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    (line,) = [r for r in caplog.records if r.getMessage() == "questionnaire errors reported"]
    assert vars(line)["client"] == EHR_A.client_id
    assert vars(line)["questionnaire"] == QUESTIONNAIRE
    assert vars(line)["severities"] == {"error": 1, "warning": 1}
    logged = " ".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert SECRET not in logged and token not in logged
    (report,) = _reports(sessions)
    assert report.client_id == EHR_A.client_id


def test_next_question_is_refused_with_the_reason(client: TestClient) -> None:
    body = {"resourceType": "Parameters", "parameter": []}
    answer = client.post("/fhir/Questionnaire/$next-question", json=body)
    assert answer.status_code == 404
    (issue,) = answer.json()["issue"]
    assert issue["code"] == "not-supported" and "not adaptive" in issue["diagnostics"]


def test_our_evaluate_operation_definition_is_valid_fhir(client: TestClient) -> None:
    answer = client.get("/fhir/OperationDefinition/QuestionnaireResponse-evaluate")
    assert answer.status_code == 200
    definition = answer.json()
    get_fhir_model_class("OperationDefinition").model_validate(definition)
    assert definition["url"].endswith("/OperationDefinition/QuestionnaireResponse-evaluate")
    assert (definition["code"], definition["resource"]) == ("evaluate", ["QuestionnaireResponse"])
    assert (definition["type"], definition["instance"], definition["system"]) == (
        True,
        False,
        False,
    )


def _declared(parameters: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in parameters}


@pytest.mark.parametrize("folder", SCENARIOS[:3], ids=[f.name for f in SCENARIOS[:3]])
def test_what_evaluate_answers_is_what_its_definition_declares(
    client: TestClient, folder: Any
) -> None:
    definition = client.get("/fhir/OperationDefinition/QuestionnaireResponse-evaluate").json()
    outputs = _declared([p for p in definition["parameter"] if p["use"] == "out"])
    answered = evaluate(client, prefilled(client, folder))["parameter"]
    for name, parameter in outputs.items():
        count = sum(1 for p in answered if p["name"] == name)
        assert count >= parameter["min"], f"{name}: min {parameter['min']}"
        assert parameter["max"] == "*" or count <= int(parameter["max"]), name
    for given in answered:
        declared = outputs.get(given["name"])
        assert declared is not None, f"{given['name']} is not in the OperationDefinition"
        if "part" in given:
            parts = _declared(declared["part"])
            assert {p["name"] for p in given["part"]} <= set(parts), given["name"]
            for name, part in parts.items():
                assert sum(1 for p in given["part"] if p["name"] == name) >= part["min"], name
        else:
            value = next(k for k in given if k.startswith("value"))
            assert value == "value" + declared["type"][0].upper() + declared["type"][1:]


@pytest.mark.parametrize(
    ("definition_id", "mentions"),
    [
        pytest.param(
            "questionnaire-package",
            "http://hl7.org/fhir/us/davinci-dtr/OperationDefinition/questionnaire-package",
            id="dtr-defines-it",
        ),
        pytest.param(
            "log-questionnaire-errors",
            "http://hl7.org/fhir/us/davinci-dtr/OperationDefinition/log-questionnaire-errors",
            id="dtr-defines-it-too",
        ),
        pytest.param("no-such-operation", "not known", id="unknown"),
    ],
)
def test_other_operation_definitions_are_not_ours_to_serve(
    client: TestClient, definition_id: str, mentions: str
) -> None:
    answer = client.get(f"/fhir/OperationDefinition/{definition_id}")
    assert answer.status_code == 404
    assert mentions in answer.json()["issue"][0]["diagnostics"]
