"""The generated Python (service/cql/codegen.py) against the reference closures (compiler.py):
every define of each policy's library, on every example record with and without the prescriber's
answers, and on the benchmark's records, gives the same value."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.cql.engine import CqlEngine
from service.cql.runtime import EvaluationContext
from service.cql.values import CqlValue
from service.fhir.record import PatientRecord
from service.policy.engine import PolicyEngine
from service.policy.folder import Policy, load_policies
from service.settings import PROJECT_ROOT
from tests.cql.test_compiler import _define_x, _evaluate_x, _library
from tests.cql.test_paths import VALUE, odd_element
from tests.support.clock import EXAMPLES_DATE
from tests.support.policies import SHARED_CQL

sys.path.insert(0, str(PROJECT_ROOT / "bench"))
from records import record as bench_record  # noqa: E402

TODAY = EXAMPLES_DATE
POLICY_DIRS = (PROJECT_ROOT / "policies", PROJECT_ROOT / "tests" / "policies")


class EveryDefine:
    """A CqlEngine that evaluates every define of the library whatever the policy engine asks,
    and keeps the values."""

    def __init__(self, engine: CqlEngine) -> None:
        self.engine = engine
        self.values: dict[str, CqlValue] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    def evaluate(
        self, library: str, names: Sequence[str], context: EvaluationContext
    ) -> dict[str, CqlValue]:
        self.values = self.engine.evaluate(library, self.engine.defines(library), context)
        return {name: self.values[name] for name in names}


def _policies() -> list[Policy]:
    return [p for folder in POLICY_DIRS for p in load_policies(folder)]


def _cases(policy: Policy) -> Iterator[Any]:
    examples = PROJECT_ROOT / "fhir_examples"
    if policy.id != "blinatumomab":
        examples = policy.folder / "examples"
    for folder in sorted(p for p in examples.iterdir() if (p / "bundle.json").exists()):
        bundle = json.loads((folder / "bundle.json").read_text())
        order = json.loads((folder / "order.json").read_text())
        entries = [(e["resource"], e.get("fullUrl")) for e in bundle["entry"]]
        expected_file = folder / "expected.json"
        expected = json.loads(expected_file.read_text()) if expected_file.exists() else {}
        answers: list[Mapping[str, Any]] = [
            {},
            *(w["answers"] for w in expected.get("withAnswers", [])),
        ]
        for index, given_answers in enumerate(answers):
            reference = f"{order['resourceType']}/{order['id']}"
            yield pytest.param(
                policy, entries, reference, given_answers, id=f"{folder.name}/{index}"
            )


def _bench_cases(policy: Policy) -> Iterator[Any]:
    if policy.id != "blinatumomab":
        return
    for size in (20, 120, 1000):
        entries = [(resource, None) for resource in bench_record(size, TODAY)]
        order = next(r for r, _ in entries if r["resourceType"] == "MedicationRequest")
        yield pytest.param(
            policy, entries, f"MedicationRequest/{order['id']}", {}, id=f"bench-{size}"
        )


CASES = [case for policy in _policies() for case in [*_cases(policy), *_bench_cases(policy)]]


@pytest.fixture(scope="module")
def engines() -> dict[tuple[str, bool], tuple[PolicyEngine, EveryDefine]]:
    built = {}
    for policy in _policies():
        for reference in (False, True):
            cql = EveryDefine(CqlEngine([SHARED_CQL, policy.cql_dir], reference=reference))
            built[(policy.id, reference)] = (PolicyEngine(policy, cql), cql)  # type: ignore[arg-type]
    return built


def test_there_are_cases_for_each_policy() -> None:
    assert {c.values[0].id for c in CASES} == {p.id for p in _policies()}
    assert len(CASES) >= 60


@pytest.mark.parametrize(("policy", "entries", "order", "answers"), CASES)
def test_generated_code_gives_the_reference_value_of_every_define(
    engines: dict[tuple[str, bool], tuple[PolicyEngine, EveryDefine]],
    policy: Policy,
    entries: list[tuple[dict[str, Any], str | None]],
    order: str,
    answers: Mapping[str, Any],
) -> None:
    results = []
    for reference in (False, True):
        engine, cql = engines[(policy.id, reference)]
        evaluation = engine.evaluate(PatientRecord(entries), order, TODAY, answers)
        results.append((evaluation, cql.values))
    (generated, generated_values), (expected, expected_values) = results
    assert generated_values.keys() == expected_values.keys()
    differing = [n for n in expected_values if generated_values[n] != expected_values[n]]
    assert differing == []
    assert generated == expected


def test_expressions_nested_deeper_than_python_parses_still_compile(tmp_path: Path) -> None:
    """Python's parser stops at 200 nested parentheses; ELM has no such limit. (Both compilers
    recurse a few Python frames per ELM level, hence the higher recursion limit here.)"""
    expression = _one()
    for _ in range(300):
        expression = {"type": "Add", "operand": [expression, _one()]}
    folder = _library(tmp_path, [_define_x(expression)])
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(5000)
    try:
        for reference in (False, True):
            assert _evaluate_x(CqlEngine([folder], reference=reference)) == 301
    finally:
        sys.setrecursionlimit(limit)


INT = "{urn:hl7-org:elm-types:r1}Integer"


def _one() -> dict[str, Any]:
    return {"type": "Literal", "valueType": INT, "value": "1"}


FHIR = "{http://hl7.org/fhir}"
SYSTEM = "{urn:hl7-org:elm-types:r1}"
# (source type, path, result type): member reads on resources and elements, and a primitive's
# value read as each System type (the shapes codegen reads without the accessor).
READS = [
    (f"{FHIR}Observation", "status", f"{FHIR}ObservationStatus"),
    (f"{FHIR}Patient", "birthDate", f"{FHIR}date"),
    (f"{FHIR}Coding", "code", f"{FHIR}code"),
    (f"{FHIR}Quantity", "value", f"{FHIR}decimal"),
    (f"{FHIR}Condition", "code", f"{FHIR}CodeableConcept"),
    (f"{FHIR}ObservationStatus", "value", f"{SYSTEM}String"),  # a code type's value
    (f"{FHIR}Quantity", "value", f"{SYSTEM}Decimal"),
    *((f"{FHIR}string", "value", f"{SYSTEM}{kind}") for kind in ("String", "DateTime", "Date")),
    (f"{FHIR}integer", "value", f"{SYSTEM}Integer"),
    (f"{FHIR}boolean", "value", f"{SYSTEM}Boolean"),
]


def _reading(tmp_path: Path, source_type: str, path: str, result: str) -> list[CqlEngine]:
    """A library whose define X reads `path` of the parameter P, typed `source_type`."""
    source = {"type": "ParameterRef", "name": "P", "resultTypeName": source_type}
    define = _define_x(
        {"type": "Property", "path": path, "source": source, "resultTypeName": result}
    )
    elm = {
        "library": {
            "identifier": {"id": "Tiny", "version": "1"},
            "parameters": {"def": [{"name": "P", "parameterTypeSpecifier": {"name": source_type}}]},
            "statements": {"def": [define]},
        }
    }
    folder = tmp_path / "elm"
    folder.mkdir(exist_ok=True)
    (folder / "Tiny.json").write_text(json.dumps(elm))
    return [CqlEngine([tmp_path], reference=reference) for reference in (False, True)]


@settings(max_examples=200, derandomize=True, deadline=None)
@given(data=st.data(), which=st.sampled_from(READS))
def test_reads_the_generated_code_makes_itself_agree_with_the_accessor(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, which: tuple[str, str, str]
) -> None:
    source_type, path, result = which
    engines = _READERS.get(which)
    if engines is None:
        engines = _READERS[which] = _reading(tmp_path_factory.mktemp("reads"), *which)
    base = source_type.removeprefix(FHIR)
    element = data.draw(
        st.one_of(VALUE, st.just(odd_element(data, base, path)) if base[:1].isupper() else VALUE)
    )
    if isinstance(element, dict) and data.draw(st.booleans()):
        element = {**element, "resourceType": data.draw(st.sampled_from([base, "Other"]))}
    context = EvaluationContext(None, None, {"P": element}, TODAY)  # type: ignore[arg-type]
    generated, reference = (e.evaluate("Tiny", ["X"], context)["X"] for e in engines)
    assert type(generated) is type(reference) and generated == reference, element


_READERS: dict[tuple[str, str, str], list[CqlEngine]] = {}
