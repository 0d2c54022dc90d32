"""The Python expression each ELM node compiles to (codegen.py builds the functions around them).
Each handler takes the source compiler, the library, the node and the types in scope and returns
the expression's text; what it needs from load (a compiled path, an operator, a Decimal) it names
through `compiler.constant`. An operator's meaning is its function in operators.py (the tables
below say which); only the logical operators and the null tests are written as Python operators."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from service.cql import operators as op
from service.cql.conversions import (
    READ_CONCEPTS_ON_JSON,
    codes_in,
    concept_in,
    instance_builder,
    system_property,
)
from service.cql.elm_nodes import (
    is_list,
    is_to_concept,
    literal_value,
    parameter_definition,
    quantity_value,
    result_type,
    retrieved,
    sort_property,
    type_name,
    value_set_url,
)
from service.cql.library import ElmLibrary, Node
from service.cql.paths import fhir_type, plain_read, property_accessor
from service.cql.runtime import Types
from service.cql.values import Interval, decimal_of


class SourceCompiler(Protocol):
    """What the handlers use of codegen.SourceCompiler."""

    libraries: Mapping[str, ElmLibrary]

    def expression(self, library: ElmLibrary, node: Node, types: Types) -> str: ...

    def operands(self, library: ElmLibrary, node: Node, types: Types) -> list[str]: ...

    def scope_ref(self, library: ElmLibrary, node: Node, types: Types) -> str: ...

    def name(self, kind: str) -> str: ...

    def constant(self, value: object) -> str: ...

    def literal(self, value: object) -> str: ...

    def checked(self, value: str, target: str | None) -> str: ...


CodeHandler = Callable[[SourceCompiler, ElmLibrary, Node, Types], str]
# What a member read answers without the accessor (paths.PlainRead).
_PLAIN = frozenset({str, bool, int})


def _parameter(compiler: SourceCompiler, library: ElmLibrary, node: Node, types: Types) -> str:
    definition = parameter_definition(library, node)
    given = f"ctx.parameters.get({node['name']!r})"
    if not definition.get("default"):
        return given
    default = compiler.expression(library, definition["default"], {})
    value = compiler.name("given")
    return f"({value} if ({value} := {given}) is not None else ({default}))"


def _retrieve(compiler: SourceCompiler, library: ElmLibrary, node: Node, types: Types) -> str:
    resource_type, value_set = retrieved(compiler.libraries, library, node)
    return f"ctx.data.retrieve({resource_type!r}, {value_set!r})"


def _property(
    compiler: SourceCompiler,
    library: ElmLibrary,
    node: Node,
    types: Types,
    as_type: str | None = None,
) -> str:
    if "scope" in node:
        if node["scope"] not in types:
            raise library.error(node, f"{node['scope']!r} is not in scope")
        source_type = types[node["scope"]]
        source = compiler.scope_ref(library, {"type": "AliasRef", "name": node["scope"]}, types)
    else:
        source = compiler.expression(library, node["source"], types)
        source_type = result_type(node["source"])
    path = node["path"]
    if not fhir_type(source_type):
        return f"{compiler.constant(system_property)}({source}, {path!r})"
    shape = fhir_type(source_type), path, fhir_type(as_type), is_list(node), result_type(node)
    try:
        access = compiler.constant(property_accessor(*shape))
    except ValueError as error:
        raise library.error(node, str(error)) from None
    read = plain_read(*shape)
    if read is None:
        return f"{access}({source}, nav)"
    element, member = compiler.name("element"), compiler.name("member")
    # The source is computed once, in the first test made (the outermost condition).
    subject, fallback = f"({element} := {source})", f"{access}({element}, nav)"
    plain = compiler.constant(_PLAIN)

    def member_read(first: str) -> str:
        return (
            f"({member} if {first}.__class__ is dict"
            f" and {element}.get('resourceType', {read.base!r}) == {read.base!r}"
            f" and ({member} := {element}.get({read.key!r})).__class__ in {plain}"
            f" else {fallback})"
        )

    if not read.primitive:
        return member_read(subject)
    value = element if read.convert is None else f"{compiler.constant(read.convert)}({element})"
    otherwise = member_read(element) if read.key is not None else fallback
    return f"({value} if {subject}.__class__ is str else {otherwise})"


def _as(compiler: SourceCompiler, library: ElmLibrary, node: Node, types: Types) -> str:
    target = type_name(node, "asType")
    operand = node["operand"]
    if target and fhir_type(target) and operand.get("type") == "Property":
        return _property(compiler, library, operand, types, as_type=target)
    if target and fhir_type(target) and operand.get("type") == "IdentifierRef":
        return _property(compiler, library, sort_property(library, operand, types), types, target)
    return compiler.checked(compiler.expression(library, operand, types), target)


def _in_value_set(compiler: SourceCompiler, library: ElmLibrary, node: Node, types: Types) -> str:
    url = repr(value_set_url(compiler.libraries, library, node["valueset"]))
    if READ_CONCEPTS_ON_JSON and is_to_concept(compiler.libraries, library, node.get("code")):
        raw = compiler.expression(library, node["code"]["operand"][0], types)
        return f"{compiler.constant(concept_in)}({raw}, ctx.terminology, {url})"
    code = compiler.expression(library, node["code"] if "code" in node else node["codes"], types)
    return f"{compiler.constant(codes_in)}({code}, ctx.terminology, {url})"


def _if(compiler: SourceCompiler, library: ElmLibrary, node: Node, types: Types) -> str:
    condition = compiler.expression(library, node["condition"], types)
    then = compiler.expression(library, node["then"], types)
    otherwise = compiler.expression(library, node["else"], types)
    return f"(({then}) if ({condition}) is True else ({otherwise}))"


def _case(compiler: SourceCompiler, library: ElmLibrary, node: Node, types: Types) -> str:
    text = f"({compiler.expression(library, node['else'], types)})"
    items = [
        (
            compiler.expression(library, i["when"], types),
            compiler.expression(library, i["then"], types),
        )
        for i in node["caseItem"]
    ]
    if node.get("comparand"):
        subject = compiler.name("subject")
        comparand = compiler.expression(library, node["comparand"], types)
        equal = compiler.constant(op.equal)
        hits = [f"{equal}({subject}, {when}) is True" for when, _ in items]
        # The comparand is computed once, in the first comparison.
        hits[0] = f"{equal}(({subject} := {comparand}), {items[0][0]}) is True"
    else:
        hits = [f"({when}) is True" for when, _ in items]
    for hit, (_, then) in reversed(list(zip(hits, items, strict=True))):
        text = f"(({then}) if {hit} else {text})"
    return text


def _coalesce(compiler: SourceCompiler, library: ElmLibrary, node: Node, types: Types) -> str:
    operands = compiler.operands(library, node, types)
    if len(operands) == 1 and is_list(node["operand"][0]):
        return f"{compiler.constant(op.coalesce_list)}({operands[0]})"
    text = "None"
    for operand in reversed(operands):
        value = compiler.name("value")
        text = f"({value} if ({value} := {operand}) is not None else {text})"
    return text


def _singleton(compiler: SourceCompiler, library: ElmLibrary, node: Node, types: Types) -> str:
    operand = compiler.expression(library, node["operand"], types)
    return f"{compiler.constant(op.singleton_from)}({operand}, {library.where(node)!r})"


def _literal(compiler: SourceCompiler, library: ElmLibrary, node: Node, types: Types) -> str:
    return compiler.literal(literal_value(library, node))


def _elements(compiler: SourceCompiler, library: ElmLibrary, node: Node, types: Types) -> str:
    elements = [
        f"{e['name']!r}: {compiler.expression(library, e['value'], types)}"
        for e in node.get("element") or []
    ]
    return "{" + ", ".join(elements) + "}"


def _instance(compiler: SourceCompiler, library: ElmLibrary, node: Node, types: Types) -> str:
    build = instance_builder(library, node)
    return f"{compiler.constant(build)}({_elements(compiler, library, node, types)})"


def _list(compiler: SourceCompiler, library: ElmLibrary, node: Node, types: Types) -> str:
    elements = [compiler.expression(library, e, types) for e in node.get("element") or []]
    return "[" + ", ".join(elements) + "]"


def _interval(compiler: SourceCompiler, library: ElmLibrary, node: Node, types: Types) -> str:
    low, high = (
        compiler.expression(library, node[end], types) if node.get(end) else "None"
        for end in ("low", "high")
    )
    closed = bool(node.get("lowClosed", True)), bool(node.get("highClosed", True))
    return f"{compiler.constant(Interval)}({low}, {high}, {closed[0]}, {closed[1]})"


def _quantity(compiler: SourceCompiler, library: ElmLibrary, node: Node, types: Types) -> str:
    return compiler.constant(quantity_value(node))


def _short_circuit(decisive: bool) -> CodeHandler:
    """And (decisive False) / Or (decisive True), three-valued as operators.and_ / or_: the
    right operand is not evaluated once the left one decides."""

    def handler(compiler: SourceCompiler, library: ElmLibrary, node: Node, types: Types) -> str:
        left, right = compiler.operands(library, node, types)
        a, b = compiler.name("left"), compiler.name("right")
        undecided = f"(None if {a} is None or {b} is None else {not decisive})"
        return (
            f"({decisive} if ({a} := {left}) is {decisive} "
            f"else ({decisive} if ({b} := {right}) is {decisive} else {undecided}))"
        )

    return handler


def _is(value: str) -> CodeHandler:
    """IsNull, IsTrue, IsFalse: an identity test, never null."""

    def handler(compiler: SourceCompiler, library: ElmLibrary, node: Node, types: Types) -> str:
        (operand,) = compiler.operands(library, node, types)
        return f"(({operand}) is {value})"

    return handler


def _not(compiler: SourceCompiler, library: ElmLibrary, node: Node, types: Types) -> str:
    (operand,) = compiler.operands(library, node, types)
    value = compiler.name("operand")
    return f"(None if ({value} := {operand}) is None else not {value})"


def _operator(function: Callable[..., object]) -> CodeHandler:
    def handler(compiler: SourceCompiler, library: ElmLibrary, node: Node, types: Types) -> str:
        if node.get("precision"):
            raise library.error(node, f"{node['type']} with a precision is not supported")
        operands = compiler.operands(library, node, types)
        return f"{compiler.constant(function)}({', '.join(operands)})"

    return handler


def _of_source(function: Callable[[object], object]) -> CodeHandler:
    def handler(compiler: SourceCompiler, library: ElmLibrary, node: Node, types: Types) -> str:
        return (
            f"{compiler.constant(function)}({compiler.expression(library, node['source'], types)})"
        )

    return handler


def _round(compiler: SourceCompiler, library: ElmLibrary, node: Node, types: Types) -> str:
    operand = compiler.expression(library, node["operand"], types)
    precision = (
        compiler.expression(library, node["precision"], types) if node.get("precision") else "0"
    )
    return f"{compiler.constant(op.round_)}({operand}, {precision})"


def _duration(compiler: SourceCompiler, library: ElmLibrary, node: Node, types: Types) -> str:
    start, end = compiler.operands(library, node, types)
    return f"{compiler.constant(op.duration_between)}({node['precision']!r}, {start}, {end})"


# Operators that are a function of their operands' values, called as such (CQL chapters:
# logical, comparison, arithmetic, string, conversion, date and time, list).
OPERAND_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "Implies": op.implies,
    "Xor": op.xor,
    "Equal": op.equal,
    "Equivalent": op.equivalent,
    "NotEqual": lambda a, b: op.not_(op.equal(a, b)),
    "Less": op.less,
    "LessOrEqual": op.less_or_equal,
    "Greater": op.greater,
    "GreaterOrEqual": op.greater_or_equal,
    "In": op.in_,
    "Add": op.add,
    "Subtract": op.subtract,
    "Multiply": op.multiply,
    "Divide": op.divide,
    "Power": op.power,
    "Abs": op.abs_,
    "Floor": op.floor,
    "Negate": op.negate,
    "Concatenate": op.concatenate,
    "ConvertQuantity": op.convert_quantity,
    "ToDecimal": decimal_of,
    "ToString": lambda a: None if a is None else str(a),
    "ToList": lambda a: [] if a is None else [a],
    "DateFrom": op.date_from,
    "Exists": op.exists,
    "Union": op.union,
    "Flatten": op.flatten,
}
# Aggregates and list operators of a `source` list.
SOURCE_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "First": op.first,
    "Last": op.last,
    "Count": op.count,
    "Min": op.minimum,
    "Max": op.maximum,
}
# Refs, functions and queries are the compiler's own (codegen.py); these are the rest.
CODE_HANDLERS: dict[str, CodeHandler] = {
    "ParameterRef": _parameter,
    # An identifier inside `sort by`: a property of the element sorted.
    "IdentifierRef": lambda c, library, node, types: _property(
        c, library, sort_property(library, node, types), types
    ),
    "Retrieve": _retrieve,
    "Property": _property,
    "As": _as,
    "Literal": _literal,
    "Instance": _instance,
    "Tuple": _elements,
    "List": _list,
    "Interval": _interval,
    "Quantity": _quantity,
    "InValueSet": _in_value_set,
    "AnyInValueSet": _in_value_set,
    "If": _if,
    "Case": _case,
    "Coalesce": _coalesce,
    "SingletonFrom": _singleton,
    "Null": lambda c, library, node, types: "None",
    "And": _short_circuit(False),
    "Or": _short_circuit(True),
    "IsNull": _is("None"),
    "IsTrue": _is("True"),
    "IsFalse": _is("False"),
    "Not": _not,
    "Round": _round,
    "DurationBetween": _duration,
    "Today": lambda c, library, node, types: "ctx.today",
    **{kind: _operator(function) for kind, function in OPERAND_FUNCTIONS.items()},
    **{kind: _of_source(function) for kind, function in SOURCE_FUNCTIONS.items()},
}
