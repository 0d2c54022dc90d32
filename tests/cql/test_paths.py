"""Member steps resolved at load give exactly what the FHIRPath engine gives.

`service.cql.paths._member_step` answers property navigation with dictionary lookups taken from
the engine's R4 model; the engine stays the reference. Every element of every example record,
conformance example and FHIRPath test resource is navigated both ways, by every property its keys
name (choice types with and without `ofType`), and odd elements (primitive extensions, several
choice keys at once, floats, nulls inside lists) are drawn for the policy's own paths.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import fhirpathpy
import pytest
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.engine.util import get_data
from fhirpathpy.models import models
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.records import record
from service.cql.paths import _member_step, fhirpath_expression, property_accessor
from service.settings import PROJECT_ROOT
from tests.support.clock import EXAMPLES_DATE

MODEL = models["r4"]
SHARED = PROJECT_ROOT.parent / "shared" / "conformance"
SOURCES = [
    PROJECT_ROOT / "fhir_examples",
    SHARED / "crd" / "examples",
    SHARED / "fhirpath" / "resources" / "r4",
]

Engine = Callable[[Any], list[Any]]
_ENGINES: dict[tuple[str, str | None], Engine] = {}


def engine(path: str, of_type: str | None) -> Engine:
    key = (path, of_type)
    if key not in _ENGINES:
        compiled = fhirpathpy.compile(
            fhirpath_expression(path, of_type), MODEL, options={"returnRawData": True}
        )
        _ENGINES[key] = lambda node: [get_data(item) for item in compiled(node, {})]
    return _ENGINES[key]


def typed(values: list[Any]) -> list[tuple[type, Any]]:
    """Equal and of the same Python type: Decimal("1.5") == 1.5, but only one is right."""
    return [(type(value), value) for value in values]


def agree(base: str, path: str, of_type: str | None, element: dict[str, Any]) -> bool:
    """False when the member step does not cover this path (the engine answers it then)."""
    reference = engine(path, of_type)
    member = _member_step(base, path, of_type, reference)
    if member is None:
        return False
    expected = reference(ResourceNode.create_node(element, base))
    assert typed(member(element)) == typed(expected), (base, path, of_type, element)
    return True


def _child(base: str, key: str) -> tuple[str, list[str] | None]:
    child = f"{base}.{key}"
    child = MODEL["pathsDefinedElsewhere"].get(child, child)
    return child, MODEL["choiceTypePaths"].get(child)


def properties(base: str, key: str) -> Iterator[tuple[str, str | None, str]]:
    """(property, choice type or None, the child's type path) that JSON key `key` answers."""
    name = key.lstrip("_")
    try:
        fhirpath_expression(name, None)
    except ValueError:
        return  # not an element name the bridge navigates (expected answers, urls, `div`)
    child, choices = _child(base, name)
    if choices is None:
        yield name, None, MODEL["path2Type"].get(child, child)
    for end in range(1, len(name)):
        prefix, rest = name[:end], name[end:]
        child, choices = _child(base, prefix)
        if choices and rest in choices:
            yield prefix, rest, MODEL["path2Type"].get(child + rest, child + rest)


def elements(value: Any, base: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every JSON object in `value` with its FHIR type path, typed the way the engine types it."""
    if isinstance(value, list):
        for item in value:
            yield from elements(item, base)
        return
    if not isinstance(value, dict):
        return
    if isinstance(value.get("resourceType"), str):
        base = value["resourceType"]
    yield base, value
    for key, child in value.items():
        for _, _, child_type in properties(base, key):
            yield from elements(child, child_type)


def documents() -> Iterator[Any]:
    for source in SOURCES:
        for file in sorted(source.rglob("*.json")):
            yield json.loads(file.read_text())
    for size in (20, 120):
        yield record(size, EXAMPLES_DATE)


def test_every_element_of_the_examples_navigates_as_in_the_engine() -> None:
    compared = 0
    for document in documents():
        for base, element in elements(document, "Bundle"):
            for key in element:
                for name, choice, _ in properties(base, key):
                    for of_type in {None, choice}:
                        compared += agree(base, name, of_type, element)
    # Tens of thousands of comparisons; a walk that found nothing proves nothing.
    assert compared > 20_000, compared


# The policy's own paths (service/cql/codegen_nodes.py compiles these from the ELM).
POLICY_PATHS = [
    ("Observation", "value", "Quantity"),
    ("Observation", "value", "CodeableConcept"),
    ("Observation", "effective", "dateTime"),
    ("Observation", "status", None),
    ("Condition", "onset", "dateTime"),
    ("Condition", "code", None),
    ("MedicationRequest", "medication", "CodeableConcept"),
    ("MedicationRequest", "authoredOn", None),
    ("Dosage", "doseAndRate", None),
    ("Dosage.doseAndRate", "dose", "Quantity"),
    ("Dosage.doseAndRate", "rate", "Quantity"),
    ("Quantity", "value", None),
    ("Coding", "code", None),
    ("Patient", "birthDate", None),
]

LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["final", "2026-11-24", "2026-11-24T10:00:00Z", ""]),
    st.just({"extension": [{"url": "http://example.org/x", "valueString": "x"}]}),
    st.just({"value": 1.5, "unit": "kg", "code": "kg"}),
    st.just({}),
    st.just([]),
)
VALUE = st.one_of(LEAF, st.lists(LEAF, max_size=3))


def _keys(base: str, path: str) -> list[str]:
    _, choices = _child(base, path)
    names = [path] + [f"{path}{choice}" for choice in choices or ()]
    return names + [f"_{name}" for name in names]


def odd_element(data: st.DataObject, base: str, path: str) -> dict[str, Any]:
    """An element holding some of the path's JSON keys (choices, `_` extensions), odd values."""
    keys = data.draw(st.lists(st.sampled_from(_keys(base, path)), max_size=4, unique=True))
    return {key: data.draw(VALUE) for key in keys}


ODDLY = settings(max_examples=300, derandomize=True, deadline=None)


@ODDLY
@given(data=st.data(), which=st.sampled_from(POLICY_PATHS))
def test_odd_elements_navigate_as_in_the_engine(
    data: st.DataObject, which: tuple[str, str, str | None]
) -> None:
    base, path, of_type = which
    assert agree(base, path, of_type, odd_element(data, base, path))


@pytest.mark.parametrize(("base", "path", "of_type"), POLICY_PATHS)
def test_the_policy_paths_are_resolved_at_load(base: str, path: str, of_type: str | None) -> None:
    assert _member_step(base, path, of_type, engine(path, of_type)) is not None


def test_a_path_the_member_step_does_not_cover_stays_with_the_engine() -> None:
    # ofType on an element that is not a choice: the engine filters by the value's type.
    assert _member_step("Observation", "code", "CodeableConcept", engine("code", None)) is None


def _accessors(base: str, path: str, of_type: str | None, many: bool) -> tuple[Any, Any]:
    """The accessor with its shortcut and without, for elements typed `base` (an element
    path: `Dosage.doseAndRate`, model info's `Dosage.DoseAndRate`)."""
    head, *rest = base.split(".")
    source = ".".join([head, *(part[:1].upper() + part[1:] for part in rest)])
    result = "{urn:hl7-org:elm-types:r1}Decimal" if path == "value" else None
    return tuple(  # type: ignore[return-value]
        property_accessor(source, path, of_type, many, result, fast=fast) for fast in (True, False)
    )


def shortcut_agrees(base: str, path: str, of_type: str | None, element: Any) -> None:
    for many in (True, False):
        fast, general = _accessors(base, path, of_type, many)
        found, expected = fast(element, {}), general(element, {})
        assert type(found) is type(expected) and found == expected, (base, path, many, element)
        if many:
            assert typed(found) == typed(expected)


def test_the_shortcut_reads_every_example_element_as_the_general_step() -> None:
    bases = {base for base, _, _ in POLICY_PATHS}
    compared = 0
    for document in documents():
        for base, element in elements(document, "Bundle"):
            if base in bases:
                for policy_base, path, of_type in POLICY_PATHS:
                    if policy_base == base:
                        shortcut_agrees(base, path, of_type, element)
                        compared += 1
    assert compared > 2_000, compared


@ODDLY
@given(data=st.data(), which=st.sampled_from(POLICY_PATHS))
def test_the_shortcut_reads_odd_elements_as_the_general_step(
    data: st.DataObject, which: tuple[str, str, str | None]
) -> None:
    """Also a value where an element was expected (a list, a primitive, null), and an element
    of another resource type."""
    base, path, of_type = which
    element = data.draw(st.one_of(VALUE, st.just(odd_element(data, base, path))))
    if data.draw(st.booleans()) and isinstance(element, dict):
        element = {**element, "resourceType": data.draw(st.sampled_from([base, "Other"]))}
    shortcut_agrees(base, path, of_type, element)


def test_conformance_material_is_there() -> None:
    assert all(source.is_dir() for source in SOURCES), SOURCES
