"""The second policy is a folder: `tests/policies/exemplumab/`, a TEST policy for a fictional drug,
shaped unlike the first (a ServiceRequest trigger, a weight-based mg/kg dose capped in mg, a
lab-value threshold, no body surface area, no step dose, no cycles). Loaded beside the first with
no code change, it is evaluated on its own scenarios, the official CQL engine agrees with the
bridge define by define on each, and CRD, the DTR package, pre-fill and `$evaluate` all speak
of it in its own words and units. The browser test is in tests/browser/test_second_policy.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.cql.runtime import EvaluationContext
from service.crd.coverage_information import EXTENSION_URL
from service.fhir.record import PatientRecord
from service.policy.data import RecordDataSource
from service.policy.engine import PolicyEngine
from service.policy.folder import Policy, load_policies
from service.policy.registry import PolicyRegistry, compile_policies
from service.settings import PROJECT_ROOT
from tests.conftest import make_settings
from tests.cql.test_oracle import differences, run_oracle
from tests.crd.test_answers import hook_request
from tests.support.clock import EXAMPLES_DATE

FOLDER = PROJECT_ROOT / "tests" / "policies" / "exemplumab"
EXAMPLES = sorted(p for p in (FOLDER / "examples").iterdir() if (p / "expected.json").exists())
TODAY = EXAMPLES_DATE
PACKAGE = "/fhir/Questionnaire/$questionnaire-package"


def both_policies(parent: Path) -> Path:
    """A policy directory holding the first policy and this one, as a payer would deploy two."""
    parent.mkdir(parents=True, exist_ok=True)
    (parent / "blinatumomab").symlink_to(PROJECT_ROOT / "policies" / "blinatumomab")
    (parent / "exemplumab").symlink_to(FOLDER)
    return parent


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> PolicyRegistry:
    policies = load_policies(both_policies(tmp_path_factory.mktemp("policies")))
    return PolicyRegistry(policies, compile_policies(policies, PROJECT_ROOT / "cql"))


@pytest.fixture(scope="module")
def policy(registry: PolicyRegistry) -> Policy:
    found = registry.by_id("exemplumab")
    assert found is not None
    return found


@pytest.fixture(scope="module")
def engine(registry: PolicyRegistry, policy: Policy) -> PolicyEngine:
    return registry.engine(policy)


def _example(folder: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    return tuple(
        json.loads((folder / f"{n}.json").read_text()) for n in ("bundle", "order", "expected")
    )  # type: ignore[return-value]


def _record(bundle: dict[str, Any]) -> PatientRecord:
    return PatientRecord((e["resource"], e.get("fullUrl")) for e in bundle["entry"])


def _same(ours: object, written: object) -> bool:
    """Numbers as CQL Decimals (8 places); anything else exactly."""
    if isinstance(ours, (Decimal, int)) and isinstance(written, (int, float)):
        return abs(Decimal(ours) - Decimal(str(written))) <= Decimal("1e-8")
    return ours == written


def _all_same(ours: dict[str, object], written: dict[str, object]) -> bool:
    return ours.keys() == written.keys() and all(_same(ours[k], written[k]) for k in ours)


@pytest.mark.parametrize("folder", EXAMPLES, ids=[f.name for f in EXAMPLES])
def test_each_scenario_is_decided_as_written(engine: PolicyEngine, folder: Path) -> None:
    bundle, order, expected = _example(folder)
    evaluation = engine.evaluate(_record(bundle), expected["order"], TODAY)
    assert evaluation.order == f"ServiceRequest/{order['id']}"
    assert evaluation.outcome.value == expected["outcome"]
    assert {c: r.status.value for c, r in evaluation.criteria.items()} == expected["criteria"]
    limits = {x.id: x.value for x in evaluation.limits}
    assert _all_same(limits, expected["limits"]), (limits, expected["limits"])
    prefill = dict(evaluation.prefill)
    assert _all_same(prefill, expected["prefill"]), (prefill, expected["prefill"])


def test_the_registry_tells_the_two_policies_apart(registry: PolicyRegistry) -> None:
    bundle, order, _ = _example(EXAMPLES[0])
    found = registry.for_order(order, _record(bundle))
    assert found is not None and found.id == "exemplumab"
    first = json.loads(
        (
            PROJECT_ROOT / "fhir_examples" / "01-consolidation-adult-record" / "order.json"
        ).read_text()
    )
    other = registry.for_order(first, PatientRecord([(first, None)]))
    assert other is not None and other.id == "blinatumomab"


@pytest.fixture(scope="module")
def oracle(engine: PolicyEngine) -> list[dict[str, Any]]:
    library = engine.policy.library
    cql = engine._cql
    defines = cql.defines(library)  # every define, not only those read
    payload = []
    for folder in EXAMPLES:
        bundle, order, _ = _example(folder)
        payload.append(
            {
                "bundle": bundle,
                "library": library,
                "policyDir": str(FOLDER),
                "parameters": {"Order Id": order["id"], "Evaluation Date": TODAY.isoformat()},
                "defines": defines,
            }
        )
    return run_oracle(payload)


@pytest.mark.parametrize("index", range(len(EXAMPLES)), ids=[f.name for f in EXAMPLES])
def test_the_official_engine_agrees_define_by_define(
    engine: PolicyEngine, oracle: list[dict[str, Any]], index: int
) -> None:
    bundle, order, _ = _example(EXAMPLES[index])
    cql, library = engine._cql, engine.policy.library
    context = EvaluationContext(
        RecordDataSource(_record(bundle), engine.policy.terminology),
        engine.policy.terminology,
        {"Order Id": order["id"], "Evaluation Date": TODAY},
        TODAY,
    )
    theirs = oracle[index]
    ours = cql.evaluate(library, list(theirs), context)
    assert len(theirs) > 20
    assert differences(ours, theirs) == {}


# ---------------------------------------------------------------- through the service


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from service.storage.migrate import upgrade
    from tests.support.clock import examples_app

    work = tmp_path_factory.mktemp("service")
    database = f"sqlite:///{work / 'db'}"
    upgrade(database)
    settings = make_settings(database, policy_dir=both_policies(work / "policies"))
    with TestClient(examples_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def _sign(client: TestClient, name: str) -> dict[str, Any]:
    answer = client.post(
        "/cds-services/crd-order-sign", json=hook_request(FOLDER / "examples" / name)
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _coverage_information(body: dict[str, Any]) -> dict[str, Any]:
    (action,) = body["systemActions"]
    assert action["resource"]["resourceType"] == "ServiceRequest"
    (extension,) = [e for e in action["resource"]["extension"] if e["url"] == EXTENSION_URL]
    return extension  # type: ignore[no-any-return]


def _details(extension: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for detail in (e for e in extension["extension"] if e["url"] == "detail"):
        parts = {p["url"]: p for p in detail["extension"]}
        code = parts["code"]["valueCodeableConcept"]["coding"][0]["code"]
        found[code] = parts
    return found


def test_crd_answers_in_the_policys_words_and_units(client: TestClient) -> None:
    body = _sign(client, "02-dose-above-10-mg-per-kg")
    details = _details(_coverage_information(body))
    quantity = details["allowed-quantity"]["value"]["valueQuantity"]
    assert (quantity["value"], quantity["code"]) == (700.0, "mg")
    assert details["allowed-quantity"]["qualification"]["valueString"].startswith("10 mg/kg")
    (limit,) = [c for c in body["cards"] if "above the covered" in c["summary"]]
    assert limit["summary"] == "Infusion dose above the covered 700 mg for this patient"
    assert "Ordered infusion dose 800 mg" in limit["detail"]
    assert "weight 70 kg" in limit["detail"]
    assert "suggestions" not in limit  # a ServiceRequest has no dosage to rewrite
    (instructions,) = [c for c in body["cards"] if c["summary"].startswith("Prior authorization")]
    assert "Absolute neutrophil count" in instructions["detail"]


def test_an_order_within_the_limit_gets_no_limit_card(client: TestClient) -> None:
    body = _sign(client, "01-all-criteria-met")
    assert not [c for c in body["cards"] if "above the covered" in c["summary"]]
    assert "allowed-quantity" in _details(_coverage_information(body))


def test_the_dtr_package_prefills_and_evaluate_speaks_of_the_policy(client: TestClient) -> None:
    body = _sign(client, "02-dose-above-10-mg-per-kg")
    extension = _coverage_information(body)
    assertion = next(
        p["valueString"] for p in extension["extension"] if p["url"] == "coverage-assertion-id"
    )
    answer = client.post(
        PACKAGE,
        json={
            "resourceType": "Parameters",
            "parameter": [{"name": "context", "valueString": assertion}],
        },
    )
    assert answer.status_code == 200, answer.text
    (parameter,) = answer.json()["parameter"]
    resources = [e["resource"] for e in parameter["resource"]["entry"]]
    (questionnaire,) = [r for r in resources if r["resourceType"] == "Questionnaire"]
    assert questionnaire["url"] == "https://payer.example.org/fhir/Questionnaire/exemplumab-pa"
    libraries = {r["name"] for r in resources if r["resourceType"] == "Library"}
    assert libraries == {"ExemplumabPA", "FHIRHelpers"}
    (response,) = [r for r in resources if r["resourceType"] == "QuestionnaireResponse"]
    answers = {
        item["linkId"]: item["answer"][0] for item in _items(response["item"]) if "answer" in item
    }
    assert answers["weight-kg"]["valueDecimal"] == 70
    assert answers["dose-mg"]["valueDecimal"] == 800

    evaluated = client.post("/fhir/QuestionnaireResponse/$evaluate", json=response)
    assert evaluated.status_code == 200, evaluated.text
    parameters = evaluated.json()["parameter"]
    assert {p["name"] for p in parameters} == {
        "outcome",
        "criterion",
        "path",
        "limit",
        "evaluationDate",
    }
    (outcome,) = [p for p in parameters if p["name"] == "outcome"]
    assert outcome["valueCode"] == "criteria-not-met"
    (limit,) = [p for p in parameters if p["name"] == "limit"]
    parts = {p["name"]: p for p in limit["part"]}
    assert parts["id"]["valueString"] == "infusion-dose"
    assert parts["criterion"]["valueString"] == "DOSE"
    assert parts["value"]["valueQuantity"]["value"] == 700
    assert parts["ordered"]["valueQuantity"]["value"] == 800
    assert parts["unit"]["valueString"] == "mg"


def test_the_first_policy_still_answers_beside_it(client: TestClient) -> None:
    first = PROJECT_ROOT / "fhir_examples" / "01-consolidation-adult-record"
    answer = client.post("/cds-services/crd-order-sign", json=hook_request(first))
    assert answer.status_code == 200
    (action,) = answer.json()["systemActions"]
    assert action["resource"]["resourceType"] == "MedicationRequest"


def _items(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items:
        yield item
        yield from _items(item.get("item", []))


def test_the_package_for_the_order_alone_is_the_second_policys(client: TestClient) -> None:
    """No CRD context: the order (a ServiceRequest, the type this policy's trigger names) and its
    coverage pick the policy and pre-fill what they say."""
    bundle, order, _ = _example(EXAMPLES[0])
    (coverage,) = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Coverage"
    ]
    parameters = [{"name": "order", "resource": order}, {"name": "coverage", "resource": coverage}]
    answer = client.post(PACKAGE, json={"resourceType": "Parameters", "parameter": parameters})
    assert answer.status_code == 200, answer.text
    (parameter,) = answer.json()["parameter"]
    resources = [e["resource"] for e in parameter["resource"]["entry"]]
    (questionnaire,) = [r for r in resources if r["resourceType"] == "Questionnaire"]
    assert questionnaire["id"] == "exemplumab-pa"
    (response,) = [r for r in resources if r["resourceType"] == "QuestionnaireResponse"]
    answers = {i["linkId"]: i["answer"][0] for i in _items(response["item"]) if "answer" in i}
    assert answers["dose-mg"]["valueDecimal"] == 700
    assert "weight-kg" not in answers  # the order and coverage say nothing of the weight


def test_the_registry_knows_every_order_type_its_policies_name(registry: PolicyRegistry) -> None:
    assert registry.order_types() == ("MedicationRequest", "ServiceRequest")
