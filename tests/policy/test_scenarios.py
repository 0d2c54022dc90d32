"""Every fhir_examples scenario evaluates as its expected.json says, on the record alone and with
the prescriber's answers."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from service.cql.engine import CqlEngine
from service.fhir.record import PatientRecord
from service.policy.engine import PolicyEngine
from service.policy.evaluation import Evaluation
from service.policy.folder import load_policies
from service.settings import PROJECT_ROOT
from tests.support.clock import EXAMPLES_DATE
from tests.support.policies import CQL_DIRS, as_written, limit_value

EXAMPLES = PROJECT_ROOT / "fhir_examples"
SCENARIOS = sorted(path for path in EXAMPLES.iterdir() if (path / "expected.json").exists())


def cases() -> list[Any]:
    found = []
    for folder in SCENARIOS:
        expected = json.loads((folder / "expected.json").read_text())
        found.append(pytest.param(folder, expected["record"], id=f"{folder.name}/record"))
        for index, with_answers in enumerate(expected["withAnswers"]):
            found.append(pytest.param(folder, with_answers, id=f"{folder.name}/answers-{index}"))
    return found


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    (policy,) = load_policies(PROJECT_ROOT / "policies")
    return PolicyEngine(policy, CqlEngine(CQL_DIRS))


def evaluate(engine: PolicyEngine, folder: Path, answers: dict[str, Any]) -> Evaluation:
    bundle = json.loads((folder / "bundle.json").read_text())
    record = PatientRecord((e["resource"], e.get("fullUrl")) for e in bundle["entry"])
    order = json.loads((folder / "order.json").read_text())
    return engine.evaluate(record, f"MedicationRequest/{order['id']}", EXAMPLES_DATE, answers)


def test_there_are_enough_scenarios() -> None:
    assert len(SCENARIOS) >= 20


def _same_value(actual: Any, expected: Any) -> bool:
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        return actual is not None and abs(Decimal(actual) - Decimal(str(expected))) <= Decimal(
            "0.0005"
        )
    return bool(actual == expected)


@pytest.mark.parametrize(("folder", "expected"), cases())
def test_scenario(engine: PolicyEngine, folder: Path, expected: dict[str, Any]) -> None:
    evaluation = evaluate(engine, folder, expected.get("answers", {}))
    problems = []
    for criterion, want in expected["criteria"].items():
        got = evaluation.criteria[criterion]
        if got.status.value != want["status"]:
            problems.append(f"{criterion} status {got.status.value} != {want['status']}")
        if not _same_value(got.value, want["value"]):
            problems.append(f"{criterion} value {got.value!r} != {want['value']!r}")
        evidence = as_written(got.evidence)
        if evidence != want["evidence"]:
            problems.append(f"{criterion} evidence {evidence} != {want['evidence']}")
    if evaluation.criteria["BSA"].discrepancy != expected["criteria"]["BSA"]["discrepancy"]:
        problems.append("BSA discrepancy flag")
    for path, want_status in expected["paths"].items():
        if evaluation.paths[path].status.value != want_status:
            problems.append(f"path {path} {evaluation.paths[path].status.value} != {want_status}")
    if evaluation.outcome.value != expected["outcome"]:
        problems.append(f"outcome {evaluation.outcome.value} != {expected['outcome']}")
    limit = expected["doseLimit"]
    for field, got_limit in (
        ("mcgPerDay", limit_value(evaluation, "daily-dose")),
        ("stepMcgPerDay", limit_value(evaluation, "step-dose")),
    ):
        if (
            limit[field] is None
            and got_limit is not None
            or limit[field] is not None
            and not _same_value(got_limit, limit[field])
        ):
            problems.append(f"dose limit {field} {got_limit} != {limit[field]}")
    assert problems == []


def test_unknown_criteria_are_what_the_form_must_ask(engine: PolicyEngine) -> None:
    evaluation = evaluate(engine, EXAMPLES / "01-consolidation-adult-record", {})
    assert evaluation.unknown_criteria() == ["PHASE", "REGIMEN", "BSA", "DOSE", "CYCLES", "SITE"]
