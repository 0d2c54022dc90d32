"""Values the bridge builds from ELM and FHIR data: System instances (Code, Quantity, Concept),
System properties, type checks for `as`, sort keys, and ValueSet membership of FHIR
CodeableConcepts read on their JSON."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from service.cql.library import ElmLibrary, Node
from service.cql.operators import codes_of
from service.cql.paths import SYSTEM
from service.cql.values import Code, Concept, Quantity, decimal_of
from service.fhir.record import codings


def sortable(value: Any) -> Any:
    if isinstance(value, Quantity):
        return value.value
    return value


def system_property(value: Any, path: str) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [system_property(item, path) for item in value]
    if isinstance(value, dict):
        return value.get(path)
    if isinstance(value, Concept) and path == "codes":
        return list(value.codes)
    return getattr(value, path, None)


def checked(value: Any, kinds: tuple[type, ...]) -> Any:
    return (
        value
        if isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        else None
    )


SYSTEM_TYPES: dict[str, tuple[type, ...]] = {
    f"{SYSTEM}Integer": (int,),
    f"{SYSTEM}Decimal": (Decimal,),
    f"{SYSTEM}String": (str,),
    f"{SYSTEM}Boolean": (bool,),
    f"{SYSTEM}Quantity": (Quantity,),
    f"{SYSTEM}Code": (Code,),
    f"{SYSTEM}Concept": (Concept,),
}


def code_of(e: dict[str, Any]) -> Code | None:
    return (
        None
        if e.get("code") is None
        else Code(e["code"], e.get("system"), e.get("version"), e.get("display"))
    )


def quantity_of(e: dict[str, Any]) -> Quantity | None:
    value = decimal_of(e.get("value"))
    return None if value is None else Quantity(value, e.get("unit") or "1")


# `FHIRHelpers.ToConcept(x) in "VS"` (every `concept in "VS"` on FHIR data) is answered on the
# CodeableConcept's JSON: a Concept built only to be read once cost about 15 us per resource
# (most of a MedicationRequest query's time). tests/cql/test_codegen.py compares both ways.
READ_CONCEPTS_ON_JSON = True


def concept_in(concept: Any, terminology: Any, url: str) -> bool:
    """What ToConcept keeps of a coding and membership reads: a string system and a string
    code, the codings the record's code index reads (`service.fhir.record.codings`). Codings
    without both are skipped, as ToCode and the Concept built from it skip them. Invalid FHIR
    holds no codings, as in the index: a `coding` that is not an array, `_coding` (building the
    Concept failed on the first and read the second one way for medications and another for
    observation values)."""
    return any(terminology.in_value_set(system, code, url) for system, code in codings(concept))


def codes_in(value: Any, terminology: Any, url: str) -> bool:
    """`code in "VS"` for a Code, a Concept or a list of them: any code of a system in it."""
    return any(
        c.system is not None and terminology.in_value_set(c.system, c.code, url)
        for c in codes_of(value)
    )


def concept_of(e: dict[str, Any]) -> Concept:
    return Concept(tuple(c for c in e.get("codes") or [] if c is not None), e.get("display"))


INSTANCES: dict[str, Callable[[dict[str, Any]], Any]] = {
    f"{SYSTEM}Code": code_of,
    f"{SYSTEM}Quantity": quantity_of,
    f"{SYSTEM}Concept": concept_of,
    f"{SYSTEM}Ratio": dict,
}


def instance_builder(library: ElmLibrary, node: Node) -> Callable[[dict[str, Any]], Any]:
    """What builds an Instance node's value from its elements' values."""
    build = INSTANCES.get(node.get("classType", ""))
    if build is None:
        raise library.error(node, f"instances of {node.get('classType')} are not supported")
    return build
