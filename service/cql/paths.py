"""Property navigation on FHIR data through the FHIRPath engine (fhirpathpy with the R4 model;
see docs/decisions/0001-fhirpath-engine.md).

Each ELM Property (and each `As` over a choice-typed Property) becomes one FHIRPath expression,
compiled once at load: `value`, `value.ofType(Quantity)`, `dosageInstruction`. It runs on one
resource or element at a time, typed by the element's FHIR path so choice types resolve
(`Dosage.doseAndRate` + `rate.ofType(Quantity)` finds `rateQuantity`). FHIRPath never runs over
the whole record: retrieves are index lookups. The member step of each expression is resolved
from the engine's model at load and answered by dictionary lookups; the engine stays the
reference and answers what that does not cover (docs/decisions/0003).

FHIR primitives reach CQL through FHIRHelpers as `x.value`; on the JSON form of a primitive that
is the value itself, converted to the System type the ELM declares.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import fhirpathpy
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.engine.util import get_data
from fhirpathpy.models import models

from service.cql.values import decimal_of, parse_date, parse_datetime

FHIR = "{http://hl7.org/fhir}"
SYSTEM = "{urn:hl7-org:elm-types:r1}"
# The only FHIRPath we generate: an element name, optionally filtered by type. Anything else is a
# bug in the bridge, caught at load (fhirpathpy accepts some malformed expressions silently).
_GENERATED = re.compile(r"^[a-z][A-Za-z0-9]*(\.ofType\([A-Za-z]+\))?$")
# FHIRPath keywords that are also FHIR element names (Narrative.div): the engine would parse them
# as operators. The bridge has no need of them; a policy that does fails at load.
_KEYWORDS = {
    "and",
    "as",
    "contains",
    "div",
    "false",
    "implies",
    "in",
    "is",
    "mod",
    "or",
    "true",
    "xor",
}
# FHIRPath types for the FHIR profiles of data types that ELM names. Age, Duration, Distance and
# Count are types of their own in FHIRPath (a choice element names them: `onsetAge` is
# `onset.ofType(Age)`, never `ofType(Quantity)`).
_FHIRPATH_TYPE = {
    "SimpleQuantity": "Quantity",
    "MoneyQuantity": "Quantity",
}
_MODEL = models["r4"]

# Per evaluation: (accessor, element id) -> (the element, what the accessor found on it). The
# element is kept so its id cannot be reused by another object while the entry lives.
Navigated = dict[tuple[int, int], tuple[Any, list[Any]]]
Accessor = Callable[[Any, Navigated], Any]


def fhir_type(type_name: str | None) -> str | None:
    if type_name and type_name.startswith(FHIR):
        return type_name[len(FHIR) :]
    return None


def element_path(fhir_type_name: str) -> str:
    """FHIR model info type name to the element path FHIRPath types by:
    `Dosage.DoseAndRate` -> `Dosage.doseAndRate`."""
    head, *rest = fhir_type_name.split(".")
    return ".".join([head, *(part[:1].lower() + part[1:] for part in rest)])


def fhirpath_expression(path: str, of_type: str | None) -> str:
    expression = (
        path if of_type is None else f"{path}.ofType({_FHIRPATH_TYPE.get(of_type, of_type)})"
    )
    if not _GENERATED.match(expression) or path in _KEYWORDS:
        raise ValueError(f"not a supported property path: {expression!r}")
    return expression


def property_accessor(
    source_type: str | None,
    path: str,
    of_type: str | None,
    many: bool,
    result_type: str | None,
    *,
    fast: bool = True,
) -> Accessor:
    """`fast`: with the shortcut for one element whose member is a single plain value (tests
    turn it off to compare)."""
    # Raw results: the engine's own nodes, unwrapped here by its get_data, instead of its default
    # deep copy of every element it returns (the record is never modified during an evaluation).
    evaluate = fhirpathpy.compile(
        fhirpath_expression(path, of_type), _MODEL, options={"returnRawData": True}
    )

    def compiled(node: Any) -> list[Any]:
        return [get_data(item) for item in evaluate(node, {})]  # type: ignore[no-untyped-call]

    base = element_path(source_type) if source_type else None
    primitive = _primitive_converter(result_type) if path == "value" else None
    candidates = _candidates(base, path, of_type, compiled) if base else None
    member = _member(candidates) if candidates is not None else None

    def by_engine(element: dict[str, Any], seen: Navigated) -> list[Any]:
        """Paths left to the engine run once per (path, element) per evaluation: the defines of
        one evaluation ask for the same elements again and again (effective, status, value)."""
        key = (id(by_engine), id(element))
        hit = seen.get(key)
        if hit is not None and hit[0] is element:
            return hit[1]
        if base is None or "resourceType" in element:
            found = compiled(element)
        else:
            found = compiled(ResourceNode.create_node(element, base))  # type: ignore[no-untyped-call]
        seen[key] = (element, found)
        return found

    def on_element(element: Any, seen: Navigated) -> list[Any]:
        if isinstance(element, dict):
            if member is not None and element.get("resourceType", base) == base:
                return member(element)
            return by_engine(element, seen)
        # A FHIR primitive's `value` is the JSON value itself.
        return [primitive(element)] if primitive is not None and element is not None else []

    def access(value: Any, seen: Navigated) -> Any:
        if value is None:
            return [] if many else None
        if isinstance(value, list):
            return [item for element in value for item in on_element(element, seen)]
        found = on_element(value, seen)
        if many:
            return list(found)
        return found[0] if found else None

    if not fast or base is None or candidates is None:
        return access
    return _shortcut(access, base, candidates, many, primitive)


def _shortcut(
    general: Accessor,
    base: str,
    candidates: Candidates,
    many: bool,
    primitive: Callable[[Any], Any] | None,
) -> Accessor:
    """What `general` gives, without its steps, for the shapes most reads meet: one element of
    the source type whose member is a string, a boolean, an integer or an object (not only an
    extension), with no `_` extension; and a FHIR primitive's `value`. Anything else goes to
    `general` (a list, a float, an extension, another resource type)."""

    def access(value: Any, seen: Navigated) -> Any:
        kind = value.__class__
        if kind is dict:
            if value.get("resourceType", base) != base:
                return general(value, seen)
            for key, extension_key, kept in candidates:
                found = value.get(key)
                if value.get(extension_key) is not None:
                    return general(value, seen)
                if found is None:
                    continue
                if not kept:
                    return [] if many else None
                kind = found.__class__
                if (
                    kind is str
                    or kind is bool
                    or kind is int
                    or (kind is dict and not (len(found) == 1 and "extension" in found))
                ):
                    return [found] if many else found
                return general(value, seen)
            return [] if many else None
        if kind is str and primitive is not None:
            converted = primitive(value)
            return [converted] if many else converted
        return general(value, seen)

    return access


@dataclass(frozen=True)
class PlainRead:
    """Reads the generated code makes itself before it calls the accessor (codegen_nodes). On a
    string, when `primitive` (the path is `value`: a FHIR primitive's value is the JSON value
    itself), `convert` of it (None: the string as it is). On an element of `base` whose `key`
    holds a string, a boolean or an integer, that value (a single read gives the member's first
    value; a `_key` extension comes after it). Exactly what the accessor gives on those shapes
    (tests/cql/test_codegen.py); anything else goes to it."""

    primitive: bool
    convert: Callable[[Any], Any] | None
    base: str | None
    key: str | None


def plain_read(
    source_type: str | None, path: str, of_type: str | None, many: bool, result_type: str | None
) -> PlainRead | None:
    if many or not source_type or of_type is not None:
        return None
    base = element_path(source_type)
    convert = None
    if path == "value":
        found = _primitive_converter(result_type)
        convert = None if found is _string or found is _identity else found
    child = f"{base}.{path}"
    choice = _MODEL["choiceTypePaths"].get(_MODEL["pathsDefinedElsewhere"].get(child, child))
    member = not choice and not base[:1].islower()  # FHIR primitive types hold no members
    if path != "value" and not member:
        return None
    return PlainRead(path == "value", convert, base if member else None, path if member else None)


# A member step's JSON keys, in the model's order: (key, its `_` extension key, kept by ofType).
Candidates = tuple[tuple[str, str, bool], ...]


def _member_step(
    base: str, path: str, of_type: str | None, engine: Callable[[Any], list[Any]]
) -> Callable[[dict[str, Any]], list[Any]] | None:
    candidates = _candidates(base, path, of_type, engine)
    return None if candidates is None else _member(candidates)


def _candidates(
    base: str, path: str, of_type: str | None, engine: Callable[[Any], list[Any]]
) -> Candidates | None:
    """The engine's member step for one generated path on elements of one type, resolved once
    at load (docs/decisions/0003-member-steps-resolved-at-load.md).

    Per element the engine looks up the JSON keys the R4 model gives for `base.path` (the choice
    types in the model's order, the first one present wins), returns the value and its `_`
    primitive extension, drops extension-only objects and reads floats as decimals; `ofType`
    then keeps the result or not by the choice type alone. The keys and that keep-or-drop are
    fixed per (type, path), so they are taken from the model and from the engine itself here,
    and each call is a few dictionary lookups instead of about 9 us in the engine. Paths this
    does not cover (ofType on a non-choice element, elements of another resource type) stay
    with the engine. tests/cql/test_paths.py checks both give the same answers."""
    child = f"{base}.{path}"
    child = _MODEL["pathsDefinedElsewhere"].get(child, child)
    choices = _MODEL["choiceTypePaths"].get(child)
    if choices is None:
        if of_type is not None:
            return None
        candidates: Candidates = ((path, f"_{path}", True),)
    else:
        candidates = tuple(
            (f"{path}{name}", f"_{path}{name}", of_type is None or _kept(engine, base, path, name))
            for name in choices
        )
    return candidates


def _member(candidates: Candidates) -> Callable[[dict[str, Any]], list[Any]]:
    def member(element: dict[str, Any]) -> list[Any]:
        for key, extension_key, kept in candidates:
            value = element.get(key)
            extension = element.get(extension_key)
            if value is None and extension is None:
                continue
            if not kept:
                return []
            found: list[Any] = []
            for part in (value, extension):
                if part is None:
                    continue
                for item in part if isinstance(part, list) else (part,):
                    if isinstance(item, dict) and len(item) == 1 and "extension" in item:
                        continue
                    found.append(Decimal(str(item)) if isinstance(item, float) else item)
            return found
        return []

    return member


def _kept(engine: Callable[[Any], list[Any]], base: str, path: str, choice: str) -> bool:
    """Whether the engine's `ofType` keeps the choice `path[choice]`: asked of the engine once,
    on an element holding only that choice (the type comes from the model's path, not the
    value; the probe is shaped like real data all the same)."""
    probe = {f"{path}{choice}": {"id": "probe"} if choice[:1].isupper() else "probe"}
    return bool(engine(ResourceNode.create_node(probe, base)))  # type: ignore[no-untyped-call]


def _primitive_converter(result_type: str | None) -> Callable[[Any], Any] | None:
    converters: dict[str, Callable[[Any], Any]] = {
        f"{SYSTEM}DateTime": lambda v: parse_datetime(v) if isinstance(v, str) else None,
        f"{SYSTEM}Date": lambda v: parse_date(v) if isinstance(v, str) else None,
        f"{SYSTEM}Decimal": decimal_of,
        f"{SYSTEM}Integer": lambda v: v if isinstance(v, int) and not isinstance(v, bool) else None,
        f"{SYSTEM}Boolean": lambda v: v if isinstance(v, bool) else None,
        f"{SYSTEM}String": _string,
        f"{SYSTEM}Time": _string,
    }
    converter: Callable[[Any], Any] = converters.get(result_type or "", _identity)
    return converter


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _identity(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    return value
