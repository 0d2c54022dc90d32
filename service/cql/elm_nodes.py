"""Reading ELM nodes at load: walking a tree, what a node's value is declared to be, and whether a
function body can run inlined in its caller's frame."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal

from service.cql.library import ElmLibrary, Node
from service.cql.paths import SYSTEM, fhir_type
from service.cql.values import Quantity

Libraries = Mapping[str, ElmLibrary]
# The scope name of the element a sort expression reads (CQL `$this`).
THIS = "$this"

_SCOPED = {"Query", "AliasRef", "IdentifierRef", "QueryLetRef"}
# Already constant or cached: computing them once per evaluation would only add a lookup.
NOT_CACHED = {
    "Literal",
    "Null",
    "Quantity",
    "ExpressionRef",
    "ParameterRef",
    "OperandRef",
    "ValueSetRef",
    "CodeSystemRef",
    "CodeRef",
    "ConceptRef",
}


def elm_nodes(root: object) -> Iterator[Node]:
    """Every ELM node under `root`, itself included (annotations skipped)."""
    stack: list[object] = [root]
    while stack:
        current = stack.pop()
        if isinstance(current, list):
            stack.extend(current)
        elif isinstance(current, dict):
            yield current
            stack.extend(v for k, v in current.items() if k != "annotation")


def scoped(node: Node) -> bool:
    return node.get("type") in _SCOPED or "scope" in node


def inlinable(definition: Node) -> bool:
    """A function body that can run in the caller's frame: no query (its aliases would share the
    caller's scope), no scoped property, and each operand used at most once (an argument is then
    evaluated as often as a call would evaluate it)."""
    if definition.get("external") or "expression" not in definition:
        return False
    uses: dict[str, int] = {}
    for current in elm_nodes(definition["expression"]):
        if scoped(current):
            return False
        if current.get("type") == "OperandRef":
            uses[current["name"]] = uses.get(current["name"], 0) + 1
    return all(count <= 1 for count in uses.values())


def result_type(node: Node) -> str | None:
    """The declared type of a node's value, or of its elements when it is a list."""
    if node.get("resultTypeName"):
        return str(node["resultTypeName"])
    spec = node.get("resultTypeSpecifier") or {}
    if spec.get("type") == "ListTypeSpecifier":
        return str((spec.get("elementType") or {}).get("name") or "") or None
    return None


def is_list(node: Node) -> bool:
    return (node.get("resultTypeSpecifier") or {}).get("type") == "ListTypeSpecifier"


def type_name(node: Node, key: str) -> str | None:
    if node.get(key):
        return str(node[key])
    spec = node.get(f"{key}Specifier") or {}
    return str(spec["name"]) if spec.get("name") else None


def overload(library: ElmLibrary, target: ElmLibrary, node: Node) -> Node:
    """The FunctionDef of `target` a FunctionRef in `library` calls: by operand count and the
    translator's signature (or the operands' types when it wrote none)."""
    candidates = target.functions.get(node["name"], ())
    count = len(node.get("operand") or [])
    wanted = [s.get("name") for s in node.get("signature") or []]
    if not wanted:
        wanted = [result_type(o) for o in node.get("operand") or []]
    fitting = [c for c in candidates if len(c.get("operand") or []) == count]
    exact = [c for c in fitting if [type_name(o, "operandType") for o in c["operand"]] == wanted]
    chosen = exact or fitting
    if not chosen:
        raise library.error(node, f"no function {node['name']}/{count} in {target.name}")
    return chosen[0]


def is_to_concept(libraries: Libraries, library: ElmLibrary, node: object) -> bool:
    """A call of FHIRHelpers' ToConcept on one value (read on the JSON, conversions.concept_in)."""
    if not isinstance(node, dict) or node.get("type") != "FunctionRef":
        return False
    return (
        node.get("name") == "ToConcept"
        and len(node.get("operand") or []) == 1
        and target_library(libraries, library, node).name == "FHIRHelpers"
    )


def target_library(libraries: Libraries, library: ElmLibrary, node: Node) -> ElmLibrary:
    """The library a reference in `library` names (`FHIRHelpers.ToString`), or `library`."""
    local = node.get("libraryName")
    return libraries[library.includes[local]] if local else library


def value_set_url(libraries: Libraries, library: ElmLibrary, node: Node) -> str:
    target = target_library(libraries, library, node)
    if node["name"] not in target.value_sets:
        raise library.error(node, f"no valueset {node['name']!r}")
    return target.value_sets[node["name"]]


def retrieved(libraries: Libraries, library: ElmLibrary, node: Node) -> tuple[str, str | None]:
    """A Retrieve's FHIR resource type and value set URL: the only retrieves the bridge runs."""
    resource_type = fhir_type(node.get("dataType"))
    if resource_type is None or node.get("dateRange") or node.get("context"):
        raise library.error(node, "only FHIR retrieves without date range or context")
    codes = node.get("codes")
    if codes is None:
        return resource_type, None
    if codes.get("type") != "ValueSetRef":
        raise library.error(node, "a retrieve filters by a value set only")
    return resource_type, value_set_url(libraries, library, codes)


def query_source(library: ElmLibrary, node: Node) -> Node:
    """A Query's one source: the only queries the bridge runs."""
    if (
        len(node["source"]) != 1
        or node.get("relationship")
        or node.get("let")
        or node.get("aggregate")
    ):
        raise library.error(node, "only single-source queries without let/with/aggregate")
    source: Node = node["source"][0]
    return source


def literal_value(library: ElmLibrary, node: Node) -> int | Decimal | str | bool | None:
    value_type, text = node.get("valueType", ""), node.get("value")
    converters: dict[str, Callable[[str], int | Decimal | str | bool]] = {
        f"{SYSTEM}Integer": int,
        f"{SYSTEM}Decimal": Decimal,
        f"{SYSTEM}String": str,
        f"{SYSTEM}Boolean": lambda v: str(v).lower() == "true",
    }
    if value_type not in converters:
        raise library.error(node, f"literal of type {value_type} is not supported")
    return None if text is None else converters[value_type](text)


def operand_nodes(node: Node) -> list[Node]:
    """A node's operands, one or many."""
    operand = node.get("operand")
    items = operand if isinstance(operand, list) else [operand]
    return [item for item in items if item is not None]


def sort_property(library: ElmLibrary, node: Node, types: Mapping[str, str | None]) -> Node:
    """An identifier inside `sort by` is a property of the element being sorted (`$this`)."""
    if THIS not in types:
        raise library.error(node, f"identifier {node['name']!r} outside a sort clause")
    return {
        "type": "Property",
        "path": node["name"],
        "scope": THIS,
        **{k: v for k, v in node.items() if k in ("resultTypeName", "resultTypeSpecifier")},
    }


def parameter_definition(library: ElmLibrary, node: Node) -> Node:
    """The ParameterDef a ParameterRef names."""
    definition = library.parameters.get(node["name"])
    if definition is None:
        raise library.error(node, f"no parameter {node['name']!r}")
    return definition


def quantity_value(node: Node) -> Quantity:
    """A Quantity literal's value."""
    return Quantity(Decimal(str(node["value"])), str(node.get("unit", "1")))
