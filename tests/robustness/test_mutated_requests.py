"""Property-based: the conformance kit's and the examples' requests, mutated (types swapped,
fields dropped or added, huge strings, deep nesting, wrong resource types, invalid dates and
quantities, duplicated entries), never get a 5xx. A refusal is a 4xx with an OperationOutcome, and
the service still answers a good request afterwards.

Examples per endpoint are set below (thousands in all); HYPOTHESIS_EXAMPLES scales them.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.settings import PROJECT_ROOT
from service.storage.migrate import upgrade
from tests.cdshooks.test_conformance_replay import REQUESTS
from tests.conftest import make_settings
from tests.crd.test_answers import hook_request
from tests.dtr.test_responses import BY_PRESCRIBER
from tests.policy.test_scenarios import SCENARIOS
from tests.support.clock import examples_app

SCALE = float(os.environ.get("HYPOTHESIS_EXAMPLES", "1"))
PACKAGE = "/fhir/Questionnaire/$questionnaire-package"
FAILURES = PROJECT_ROOT / "test-artifacts" / "robustness"
CS = "https://payer.example.org/fhir/CodeSystem/blinatumomab-pa"
QUESTIONNAIRE = PROJECT_ROOT / "policies" / "blinatumomab" / "Questionnaire-blinatumomab-pa.json"

LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(
        [
            "2026-13-45",
            "2026-02-30T25:61:00Z",
            "not-a-date",
            "-1",
            "1e309",
            "Patient/../../etc",
            "urn:uuid:",
            "",
            " ",
            "\u0000",
            "MedicationRequest/",
        ]
    ),
    st.just("x" * 300_000),
    st.sampled_from(
        [
            {"value": "seventy", "unit": "kg"},
            {"value": -5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
            {"value": 1e308, "code": "[lb_av]", "system": "http://unitsofmeasure.org"},
            {"resourceType": "Patient"},
            {"resourceType": "Bundle", "entry": "no"},
            {"resourceType": 7},
            {"reference": 12},
        ]
    ),
)
VALUES = st.recursive(
    LEAVES,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


# Deep nesting is spliced into the request text after encoding (DEEP draws a placeholder): built
# as Python objects, 3000 levels would exhaust the test's own recursion (copy, json.dumps).
DEEP_MARK = re.compile(r'"\\u0000deep(\d+)\\u0000"')
DEEP = st.integers(min_value=50, max_value=3000).map(lambda depth: f"\x00deep{depth}\x00")


def _encoded(document: Any) -> str:
    def nested(match: re.Match[str]) -> str:
        depth = int(match.group(1))
        return '{"item": [' * depth + '{"resourceType": "Observation"}' + "]}" * depth

    return DEEP_MARK.sub(nested, json.dumps(document))


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*path, index))


def _parent(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        document = document[step]
    return document


@st.composite
def mutated(draw: st.DrawFn, bases: list[Any]) -> Any:
    document = copy.deepcopy(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = [p for p in _paths(document) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _parent(document, path), path[-1]
        action = draw(
            st.sampled_from(["replace", "delete", "deep", "duplicate", "add", "resource-type"])
        )
        if action == "replace":
            parent[key] = copy.deepcopy(draw(VALUES))  # sampled constants stay pristine
        elif action == "deep":
            parent[key] = draw(DEEP)
        elif action == "delete":
            del parent[key]
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        elif action == "add" and isinstance(parent[key], dict):
            parent[key][draw(st.text(min_size=1, max_size=12))] = copy.deepcopy(draw(VALUES))
        elif isinstance(parent[key], dict) and "resourceType" in parent[key]:
            parent[key]["resourceType"] = draw(
                st.sampled_from(["Patient", "Bundle", "Observation", "Nonsense", ""])
            )
    return document


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'service.db'}"
    upgrade(url)
    with TestClient(examples_app(make_settings(url)), raise_server_exceptions=False) as test_client:
        yield test_client


def _post(client: TestClient, path: str, document: Any) -> None:
    # json.dumps, not the client's encoder: integers beyond 64 bits and odd floats go through.
    body = _encoded(document)
    response = client.post(path, content=body, headers={"Content-Type": "application/json"})
    if response.status_code >= 500:  # kept for whoever reproduces it
        FAILURES.mkdir(parents=True, exist_ok=True)
        (FAILURES / f"{path.strip('/').replace('/', '_')}.json").write_text(body)
    assert response.status_code < 500, (path, response.status_code, response.text[:500])
    if response.status_code >= 400:
        assert response.json()["resourceType"] == "OperationOutcome", response.text[:500]


HOOK_BASES = [p.values[0] for p in REQUESTS] + [hook_request(f) for f in SCENARIOS[:8]]


def _settings(examples: int) -> settings:
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        derandomize=True,  # the same cases on every run: a failure in CI reproduces locally
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )


@_settings(1500)
@given(document=mutated(HOOK_BASES))
def test_hook_calls(client: TestClient, document: Any) -> None:
    service = {"order-select": "crd-order-select", "order-dispatch": "crd-order-dispatch"}
    hook = document.get("hook") if isinstance(document, dict) else None
    _post(client, f"/cds-services/{service.get(str(hook), 'crd-order-sign')}", document)


def _package_bases() -> list[Any]:
    bundle = json.loads((SCENARIOS[0] / "bundle.json").read_text())
    resources = {e["resource"]["resourceType"]: e["resource"] for e in bundle["entry"]}
    return [
        {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "order", "resource": resources["MedicationRequest"]},
                {"name": "coverage", "resource": resources["Coverage"]},
            ],
        }
    ]


@_settings(500)
@given(document=mutated(_package_bases()))
def test_questionnaire_package(client: TestClient, document: Any) -> None:
    _post(client, PACKAGE, document)


ANSWERS: dict[str, dict[str, Any]] = {
    "diagnosis-code": {
        "valueCoding": {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C91.00"}
    },
    "b-precursor": {"valueBoolean": True},
    "ph-status": {"valueCoding": {"system": CS, "code": "negative"}},
    "phase": {"valueCoding": {"system": CS, "code": "consolidation"}},
    "regimen": {"valueCoding": {"system": CS, "code": "single-agent"}},
    "cycle-number": {"valueInteger": 1},
    "first-cycle-date": {"valueDate": "2026-11-01"},
    "weight-kg": {"valueDecimal": 70},
    "daily-dose-mcg": {"valueDecimal": 28},
    "administration-setting": {"valueCoding": {"system": CS, "code": "infusion-center"}},
}


DTR = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/"


def _response_bases() -> list[Any]:
    """A completed response to the policy's Questionnaire, built from its items."""
    questionnaire = json.loads(QUESTIONNAIRE.read_text())

    def items(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        built = []
        for item in found:
            if item["type"] == "group":
                built.append({"linkId": item["linkId"], "item": items(item["item"])})
            elif item["linkId"] in ANSWERS:
                typed = {**ANSWERS[item["linkId"]], "extension": [copy.deepcopy(BY_PRESCRIBER)]}
                built.append({"linkId": item["linkId"], "answer": [typed]})
        return built

    about = [("qr-context", "Coverage/cov"), ("qr-context", "MedicationRequest/ord")]
    return [
        {
            "resourceType": "QuestionnaireResponse",
            "extension": [
                *({"url": DTR + name, "valueReference": {"reference": ref}} for name, ref in about),
                {
                    "url": DTR + "intendedUse",
                    "valueCodeableConcept": {
                        "coding": [
                            {
                                "system": "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp",
                                "code": "withpa",
                            }
                        ]
                    },
                },
            ],
            "questionnaire": f"{questionnaire['url']}|{questionnaire['version']}",
            "status": "completed",
            "subject": {"reference": "Patient/pat"},
            "authored": "2026-11-24T10:00:00Z",
            "identifier": {"system": "urn:ehr:qr", "value": "fuzz"},
            "item": items(questionnaire["item"]),
        }
    ]


@_settings(700)
@given(document=mutated(_response_bases()), evaluate=st.booleans())
def test_questionnaire_responses(client: TestClient, document: Any, evaluate: bool) -> None:
    _post(client, "/fhir/QuestionnaireResponse" + ("/$evaluate" if evaluate else ""), document)


def test_the_service_still_answers_afterwards(client: TestClient) -> None:
    answer = client.post("/cds-services/crd-order-sign", json=hook_request(SCENARIOS[0]))
    assert answer.status_code == 200 and answer.json()["systemActions"]


def test_a_weight_beyond_decimal_precision_is_answered(client: TestClient) -> None:
    """Found by test_hook_calls: a weight of 1e26 kg reached a card's text, whose rounding to
    two places needs more digits than Python's decimal context has (a 500)."""
    document = hook_request(SCENARIOS[0])
    for entry in document["prefetch"]["observations"]["entry"]:
        quantity = entry["resource"].get("valueQuantity")
        if quantity is not None:
            quantity["value"] = 1e26
    _post(client, "/cds-services/crd-order-sign", document)
