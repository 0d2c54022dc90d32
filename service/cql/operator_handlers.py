"""The operators of CQL's chapters (logical, comparison, arithmetic, string, conversion,
date and time, list, aggregate) compiled to thunks: each handler takes the compiler (for its
operands), the library, the node and the types in scope, and returns the thunk."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from service.cql import operators as op
from service.cql.library import ElmLibrary, Node
from service.cql.runtime import Frame, Thunk, Types
from service.cql.values import CqlValue, Quantity, decimal_of


class NodeCompiler(Protocol):
    def node(self, library: ElmLibrary, node: Node, types: Types) -> Thunk: ...

    def operands(self, library: ElmLibrary, node: Node, types: Types) -> list[Thunk]: ...


Handler = Callable[[Any, ElmLibrary, Node, Types], Thunk]


def nary(function: Callable[..., Any]) -> Handler:
    def handler(compiler: NodeCompiler, library: ElmLibrary, node: Node, types: Types) -> Thunk:
        if node.get("precision"):
            # `during day of`, `same month as`: these operators compare whole values only.
            raise library.error(node, f"{node['type']} with a precision is not supported")
        operands = compiler.operands(library, node, types)
        if len(operands) == 1:
            (only,) = operands
            return lambda frame: function(only(frame))
        if len(operands) == 2:
            left, right = operands
            return lambda frame: function(left(frame), right(frame))
        return lambda frame: function(*(operand(frame) for operand in operands))

    return handler


def source(function: Callable[[Any], Any]) -> Handler:
    def handler(compiler: NodeCompiler, library: ElmLibrary, node: Node, types: Types) -> Thunk:
        source = compiler.node(library, node["source"], types)
        return lambda frame: function(source(frame))

    return handler


def short_circuit(decisive: bool, combine: op.Binary) -> Handler:
    """And / Or: the right operand is not evaluated once the left one decides (false / true)."""

    def handler(compiler: NodeCompiler, library: ElmLibrary, node: Node, types: Types) -> Thunk:
        left, right = compiler.operands(library, node, types)

        def run(frame: Frame) -> CqlValue:
            a = left(frame)
            return decisive if a is decisive else combine(a, right(frame))

        return run

    return handler


def round_(compiler: NodeCompiler, library: ElmLibrary, node: Node, types: Types) -> Thunk:
    operand = compiler.node(library, node["operand"], types)
    precision = (
        compiler.node(library, node["precision"], types) if node.get("precision") else (lambda f: 0)
    )
    return lambda frame: op.round_(operand(frame), precision(frame))


def duration(compiler: NodeCompiler, library: ElmLibrary, node: Node, types: Types) -> Thunk:
    start, end = compiler.operands(library, node, types)
    precision = node["precision"]
    return lambda frame: op.duration_between(precision, start(frame), end(frame))


def convert_quantity(
    compiler: NodeCompiler, library: ElmLibrary, node: Node, types: Types
) -> Thunk:
    quantity, unit = compiler.operands(library, node, types)

    def run(frame: Frame) -> CqlValue:
        value, target = quantity(frame), unit(frame)
        if not isinstance(value, Quantity) or not isinstance(target, str):
            return None  # null in, null out; the translator types the operands
        converted = value.to(target)
        return None if converted is None else Quantity(op.scaled(converted.value), converted.unit)

    return run


def null(compiler: NodeCompiler, library: ElmLibrary, node: Node, types: Types) -> Thunk:
    return lambda frame: None


def today(compiler: NodeCompiler, library: ElmLibrary, node: Node, types: Types) -> Thunk:
    return lambda frame: frame.context.today


OPERATORS: dict[str, Handler] = {
    "Null": null,
    "And": short_circuit(False, op.and_),
    "Or": short_circuit(True, op.or_),
    "Not": nary(op.not_),
    "Implies": nary(op.implies),
    "Xor": nary(op.xor),
    "IsNull": nary(lambda a: a is None),
    "IsTrue": nary(lambda a: a is True),
    "IsFalse": nary(lambda a: a is False),
    "Equal": nary(op.equal),
    "Equivalent": nary(op.equivalent),
    "NotEqual": nary(lambda a, b: op.not_(op.equal(a, b))),
    "Less": nary(op.less),
    "LessOrEqual": nary(op.less_or_equal),
    "Greater": nary(op.greater),
    "GreaterOrEqual": nary(op.greater_or_equal),
    "In": nary(op.in_),
    "Add": nary(op.add),
    "Subtract": nary(op.subtract),
    "Multiply": nary(op.multiply),
    "Divide": nary(op.divide),
    "Power": nary(op.power),
    "Round": round_,
    "Abs": nary(op.abs_),
    "Negate": nary(op.negate),
    "Concatenate": nary(op.concatenate),
    "ConvertQuantity": convert_quantity,
    "ToDecimal": nary(decimal_of),
    "ToString": nary(lambda a: None if a is None else str(a)),
    "ToList": nary(lambda a: [] if a is None else [a]),
    "DateFrom": nary(op.date_from),
    "DurationBetween": duration,
    "Today": today,
    "Exists": nary(op.exists),
    "Union": nary(op.union),
    "Flatten": nary(op.flatten),
    "First": source(op.first),
    "Last": source(op.last),
    "Count": source(op.count),
    "Min": source(op.minimum),
    "Max": source(op.maximum),
}
