"""The ELM compiler (service/cql/codegen.py, codegen_nodes.py): load-time failures name the CQL
file and line and nothing unsupported reaches a request; functions compiled in place and called
agree; what is fixed for an evaluation runs once; expressions deeper than Python parses compile;
the property reads it writes in place give what the path accessor gives. What each define means
is held to the official engine in test_oracle.py."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.records import record
from service.cql import codegen_nodes
from service.cql.conversions import concept_in
from service.cql.elm_nodes import inlinable as _inlinable
from service.cql.elm_nodes import is_list, result_type
from service.cql.engine import CqlEngine
from service.cql.paths import fhir_type, property_accessor
from service.cql.runtime import EvaluationContext
from service.errors import CqlLoadError
from service.fhir.record import PatientRecord
from service.policy.engine import PolicyEngine
from service.policy.folder import load_policies
from service.settings import PROJECT_ROOT
from tests.cql.test_paths import VALUE, odd_element
from tests.support.clock import EXAMPLES_DATE
from tests.support.policies import CQL_DIRS


def _library(tmp_path: Path, statements: list[dict[str, Any]]) -> Path:
    """A one-file ELM library `Tiny` in its own CQL folder (the ELM in its `elm/`)."""
    elm = {
        "library": {"identifier": {"id": "Tiny", "version": "1"}, "statements": {"def": statements}}
    }
    folder = tmp_path / "elm"
    folder.mkdir()
    (folder / "Tiny.json").write_text(json.dumps(elm))
    return tmp_path


def _define_x(expression: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "ExpressionDef",
        "name": "X",
        "context": "Patient",
        "locator": "7:1-7:30",
        "expression": expression,
    }


def _evaluate_x(engine: CqlEngine, data: object = None) -> Any:
    context = EvaluationContext(data=data, terminology=None, parameters={}, today=date(2026, 1, 1))  # type: ignore[arg-type]
    return engine.evaluate("Tiny", ["X"], context)["X"]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        pytest.param(
            {"type": "Message", "locator": "7:5-7:20"},
            "Tiny.cql:7: ELM node 'Message'",
            id="unsupported-node",
        ),
        pytest.param(
            {"type": "ExpressionRef", "name": "Nope", "locator": "8:2-8:6"},
            "Tiny.cql:8: no define",
            id="unknown-define",
        ),
        pytest.param(
            {
                "type": "Literal",
                "valueType": "{urn:hl7-org:elm-types:r1}Ratio",
                "value": "1:2",
                "locator": "9:1-9:3",
            },
            "Tiny.cql:9: literal",
            id="unsupported-literal",
        ),
        pytest.param(
            {
                "type": "Query",
                "locator": "10:1-10:9",
                "source": [
                    {"alias": "A", "expression": {"type": "List", "element": []}},
                    {"alias": "B", "expression": {"type": "List", "element": []}},
                ],
            },
            "Tiny.cql:10: only single-source",
            id="multi-source-query",
        ),
        pytest.param(
            {
                "type": "In",
                "precision": "Day",
                "locator": "11:1-11:20",
                "operand": [
                    {"type": "Null"},
                    {"type": "List", "element": []},
                ],
            },
            "Tiny.cql:11: In with a precision",
            id="comparison-with-precision",
        ),
    ],
)
def test_unsupported_elm_fails_at_load_with_file_and_line(
    tmp_path: Path, expression: dict[str, Any], message: str
) -> None:
    with pytest.raises(CqlLoadError, match=message):
        CqlEngine([_library(tmp_path, [_define_x(expression)])])


def test_missing_define_in_the_contract_fails_at_load() -> None:
    engine = CqlEngine(CQL_DIRS)
    with pytest.raises(CqlLoadError, match="missing defines"):
        engine.require("BlinatumomabPA", ["DX", "No Such Define"])


def test_the_policy_libraries_load_and_compile() -> None:
    engine = CqlEngine(CQL_DIRS)
    engine.require("BlinatumomabPA", ["DX", "Outcome", "Dose Limit Mcg Per Day"])
    assert "Evaluation Date" in engine.parameters("BlinatumomabPA")


INT = "{urn:hl7-org:elm-types:r1}Integer"


def _int(value: int) -> dict[str, Any]:
    return {"type": "Literal", "valueType": INT, "value": str(value)}


def _operand(name: str) -> dict[str, Any]:
    return {"type": "OperandRef", "name": name, "resultTypeName": INT}


def _function(name: str, operands: list[str], body: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "FunctionDef",
        "name": name,
        "context": "Patient",
        "locator": "1:1-1:9",
        "operand": [{"name": o, "operandTypeSpecifier": {"name": INT}} for o in operands],
        "expression": body,
    }


def _call(name: str, *arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FunctionRef", "name": name, "operand": list(arguments)}


def test_functions_compiled_in_place_and_called_agree(tmp_path: Path) -> None:
    """`Double(A)` uses its operand once and is compiled in place; `Square(A)` uses it twice and
    is called. Inside a query whose alias is also `A`, both must see the argument, not the alias,
    and nested in-place functions must each see their own argument."""
    double = _function("Double", ["A"], {"type": "Multiply", "operand": [_operand("A"), _int(2)]})
    square = _function(
        "Square", ["A"], {"type": "Multiply", "operand": [_operand("A"), _operand("A")]}
    )
    alias = {"type": "AliasRef", "name": "A", "resultTypeName": INT}
    plus_one = {"type": "Add", "operand": [alias, _int(1)]}
    query = {
        "type": "Query",
        "source": [{"alias": "A", "expression": {"type": "List", "element": [_int(1), _int(2)]}}],
        "return": {
            "distinct": False,
            "expression": {
                "type": "List",
                "element": [
                    _call("Double", plus_one),
                    _call("Square", plus_one),
                    _call("Double", _call("Double", alias)),
                    _call("Square", _call("Double", alias)),
                ],
            },
        },
    }
    engine = CqlEngine([_library(tmp_path, [double, square, _define_x(query)])])
    assert _evaluate_x(engine) == [[4, 4, 4, 4], [6, 9, 8, 16]]


def test_what_is_compiled_in_place() -> None:
    once = _function("F", ["A", "B"], {"type": "Add", "operand": [_operand("A"), _operand("B")]})
    twice = _function("G", ["A"], {"type": "Add", "operand": [_operand("A"), _operand("A")]})
    query = _function(
        "H",
        ["A"],
        {"type": "Query", "source": [{"alias": "Q", "expression": _operand("A")}]},
    )
    assert [_inlinable(f) for f in (once, twice, query)] == [True, False, False]


class _CountingData:
    def __init__(self) -> None:
        self.retrieves = 0

    def retrieve(self, resource_type: str, value_set: str | None) -> list[dict[str, Any]]:
        self.retrieves += 1
        return [{"resourceType": "Observation", "id": "o1"}]


def test_what_is_the_same_for_the_whole_evaluation_runs_once_per_evaluation(
    tmp_path: Path,
) -> None:
    """`Count([Observation]) + A` inside a query: the Count part does not depend on the alias,
    so its retrieve runs once per evaluation, not once per element; the answers are the same."""
    retrieve = {"type": "Retrieve", "dataType": "{http://hl7.org/fhir}Observation"}
    count = {"type": "Count", "source": retrieve}
    alias = {"type": "AliasRef", "name": "A", "resultTypeName": INT}
    query = {
        "type": "Query",
        "source": [
            {"alias": "A", "expression": {"type": "List", "element": [_int(1), _int(2), _int(3)]}}
        ],
        "return": {"distinct": False, "expression": {"type": "Add", "operand": [count, alias]}},
    }
    engine = CqlEngine([_library(tmp_path, [_define_x(query)])])
    for _ in range(2):
        data = _CountingData()
        assert _evaluate_x(engine, data) == [2, 3, 4]
        assert data.retrieves == 1


def _odd_concepts(original: dict[str, Any]) -> list[Any]:
    """CodeableConcepts as EHR data may send them, shaped around one member coding."""
    member = dict(original["coding"][0])
    system, code = member["system"], member["code"]
    return [
        None,
        "not an object",
        [],
        {},
        {"coding": []},
        {"coding": [None]},
        {"coding": member},
        {"coding": [{"system": system}]},
        {"coding": [{"code": code}]},
        {"coding": [{"system": system, "code": 5}]},
        {"coding": [{"system": 5, "code": code}]},
        {"coding": [{"system": system, "code": code, "_code": {"id": "c"}}]},
        {
            "coding": [
                {"system": system, "_code": {"extension": [{"url": "u", "valueString": "x"}]}}
            ]
        },
        {"_coding": [member]},
        {"coding": [{"system": "urn:other", "code": "x"}, member]},
        {"coding": [{"system": f" {system} ", "code": f" {code} "}]},
        {"coding": [{"system": system, "code": code.lower()}]},
        {"text": "only text"},
        original,
    ]


def test_concepts_read_on_json_give_what_toconcept_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """`ToConcept(x) in "VS"` answered on the JSON agrees with building the Concept, for every
    odd CodeableConcept in every place the policy reads one (diagnoses, medications, Ph tests,
    observation values), across the whole evaluation."""

    (policy,) = load_policies(PROJECT_ROOT / "policies")

    def engine() -> PolicyEngine:
        return PolicyEngine(policy, CqlEngine(CQL_DIRS))

    read_on_json: list[object] = []

    def counted_concept_in(*arguments: Any) -> Any:
        read_on_json.append(arguments[0])
        return concept_in(*arguments)

    # The generated-code engine reads both where it writes ValueSet membership.
    monkeypatch.setattr(codegen_nodes, "concept_in", counted_concept_in)
    on_json = engine()
    monkeypatch.setattr(codegen_nodes, "READ_CONCEPTS_ON_JSON", False)
    built = engine()
    # Two different readings are compared, not one with itself.
    built.evaluate(
        PatientRecord([(r, None) for r in record(120, EXAMPLES_DATE)]),
        "MedicationRequest/blin",
        EXAMPLES_DATE,
    )
    assert not read_on_json
    today = EXAMPLES_DATE
    compared = 0
    without_codings: object = None
    for path in ("code", "medicationCodeableConcept", "valueCodeableConcept"):
        resources = record(120, today)
        holders = [r for r in resources if isinstance(r.get(path), dict) and r[path].get("coding")]
        assert holders, path
        for variant in _odd_concepts(holders[0][path]):
            for holder in holders:
                if variant is None:
                    holder.pop(path, None)
                else:
                    holder[path] = json.loads(json.dumps(variant))
            index = PatientRecord([(r, None) for r in resources])
            outcomes = []
            for evaluator in (on_json, built):
                try:
                    outcomes.append(
                        evaluator.evaluate(index, "MedicationRequest/blin", today).as_json()
                    )
                except Exception as error:  # noqa: BLE001 - the comparison is the point
                    outcomes.append(type(error).__name__)
            if variant == {}:
                without_codings = outcomes[0]
            if isinstance(variant, dict) and (
                isinstance(variant.get("coding"), dict) or "_coding" in variant
            ):
                # Invalid FHIR: the JSON read sees no codings, as the record's code index does
                # (building the Concept failed on the first and was not consistent on the other).
                assert outcomes[0] == without_codings, (path, variant)
            else:
                assert outcomes[0] == outcomes[1], (path, variant)
            compared += 1
    assert compared == 3 * len(_odd_concepts({"coding": [{"system": "s", "code": "c"}]}))
    assert read_on_json


def test_expressions_nested_deeper_than_python_parses_still_compile(tmp_path: Path) -> None:
    """Python's parser stops at 200 nested parentheses; ELM has no such limit. (The compiler
    recurses a few Python frames per ELM level, hence the higher recursion limit here.)"""
    expression = _int(1)
    for _ in range(300):
        expression = {"type": "Add", "operand": [expression, _int(1)]}
    folder = _library(tmp_path, [_define_x(expression)])
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(5000)
    try:
        engine = CqlEngine([folder])
    finally:
        sys.setrecursionlimit(limit)
    assert "def part_" in engine.source  # split into local functions
    assert _evaluate_x(engine) == 301


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


def _property_of_p(source_type: str, path: str, result: str) -> dict[str, Any]:
    source = {"type": "ParameterRef", "name": "P", "resultTypeName": source_type}
    return {"type": "Property", "path": path, "source": source, "resultTypeName": result}


def _reading(tmp_path: Path, source_type: str, path: str, result: str) -> CqlEngine:
    """A library whose define X reads `path` of the parameter P, typed `source_type`."""
    define = _define_x(_property_of_p(source_type, path, result))
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
    return CqlEngine([tmp_path])


@settings(max_examples=200, derandomize=True, deadline=None)
@given(data=st.data(), which=st.sampled_from(READS))
def test_reads_the_generated_code_makes_itself_agree_with_the_accessor(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, which: tuple[str, str, str]
) -> None:
    """The generated code reads a plain member or a primitive's value in place and leaves every
    other shape to paths.property_accessor (FHIRPath underneath, tests/cql/test_paths.py): on
    any element, the two readings agree."""
    source_type, path, result = which
    engine = _READERS.get(which)
    if engine is None:
        engine = _READERS[which] = _reading(tmp_path_factory.mktemp("reads"), *which)
    base = source_type.removeprefix(FHIR)
    element = data.draw(
        st.one_of(VALUE, st.just(odd_element(data, base, path)) if base[:1].isupper() else VALUE)
    )
    if isinstance(element, dict) and data.draw(st.booleans()):
        element = {**element, "resourceType": data.draw(st.sampled_from([base, "Other"]))}
    context = EvaluationContext(None, None, {"P": element}, EXAMPLES_DATE)  # type: ignore[arg-type]
    generated = engine.evaluate("Tiny", ["X"], context)["X"]
    node = _property_of_p(*which)
    shape = fhir_type(source_type), path, None, is_list(node), result_type(node)
    expected = property_accessor(*shape)(element, {})
    assert type(generated) is type(expected) and generated == expected, element


_READERS: dict[tuple[str, str, str], CqlEngine] = {}
