"""Property navigation on FHIR data through the FHIRPath engine (fhirpathpy with the R4 model;
see docs/decisions/0001-fhirpath-engine.md).

Each ELM Property (and each `As` over a choice-typed Property) becomes one FHIRPath expression,
compiled once at load: `value`, `value.ofType(Quantity)`, `dosageInstruction`. It runs on one
resource or element at a time, typed by the element's FHIR path so choice types resolve
(`Dosage.doseAndRate` + `rate.ofType(Quantity)` finds `rateQuantity`). FHIRPath never runs over
the whole record: retrieves are index lookups.

FHIR primitives reach CQL through FHIRHelpers as `x.value`; on the JSON form of a primitive that
is the value itself, converted to the System type the ELM declares.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
# FHIRPath types for the FHIR profiles of data types that ELM names.
_FHIRPATH_TYPE = {
    "SimpleQuantity": "Quantity",
    "MoneyQuantity": "Quantity",
    "Age": "Quantity",
    "Duration": "Quantity",
    "Distance": "Quantity",
    "Count": "Quantity",
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
    if not _GENERATED.match(expression):
        raise ValueError(f"not a supported property path: {expression!r}")
    return expression


def property_accessor(
    source_type: str | None, path: str, of_type: str | None, many: bool, result_type: str | None
) -> Accessor:
    # Raw results: the engine's own nodes, unwrapped here by its get_data, instead of its default
    # deep copy of every element it returns (the record is never modified during an evaluation).
    evaluate = fhirpathpy.compile(
        fhirpath_expression(path, of_type), _MODEL, options={"returnRawData": True}
    )

    def compiled(node: Any) -> list[Any]:
        return [get_data(item) for item in evaluate(node, {})]  # type: ignore[no-untyped-call]

    base = element_path(source_type) if source_type else None
    primitive = _primitive_converter(result_type) if path == "value" else None

    def navigate(element: Any) -> list[Any]:
        if not isinstance(element, dict):
            # A FHIR primitive's `value` is the JSON value itself.
            return [primitive(element)] if primitive is not None and element is not None else []
        if base is None or "resourceType" in element:
            return compiled(element)
        return compiled(ResourceNode.create_node(element, base))  # type: ignore[no-untyped-call]

    def on_element(element: Any, seen: Navigated) -> list[Any]:
        """Each (path, element) runs through FHIRPath once per evaluation: the defines of one
        evaluation ask for the same elements again and again (effective, status, value)."""
        if not isinstance(element, dict):
            return navigate(element)
        key = (id(navigate), id(element))
        hit = seen.get(key)
        if hit is not None and hit[0] is element:
            return hit[1]
        found = navigate(element)
        seen[key] = (element, found)
        return found

    def access(value: Any, seen: Navigated) -> Any:
        if value is None:
            return [] if many else None
        if isinstance(value, list):
            return [item for element in value for item in on_element(element, seen)]
        found = on_element(value, seen)
        if many:
            return list(found)
        return found[0] if found else None

    return access


def _primitive_converter(result_type: str | None) -> Callable[[Any], Any] | None:
    converters: dict[str, Callable[[Any], Any]] = {
        f"{SYSTEM}DateTime": lambda v: parse_datetime(v) if isinstance(v, str) else None,
        f"{SYSTEM}Date": lambda v: parse_date(v) if isinstance(v, str) else None,
        f"{SYSTEM}Decimal": decimal_of,
        f"{SYSTEM}Integer": lambda v: v if isinstance(v, int) and not isinstance(v, bool) else None,
        f"{SYSTEM}Boolean": lambda v: v if isinstance(v, bool) else None,
        f"{SYSTEM}String": lambda v: v if isinstance(v, str) else None,
        f"{SYSTEM}Time": lambda v: v if isinstance(v, str) else None,
    }
    converter: Callable[[Any], Any] = converters.get(result_type or "", _identity)
    return converter


def _identity(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    return value
