"""The operators of CQL's chapters (logical, comparison, arithmetic, string, conversion,
date and time, list, aggregate) compiled to thunks: each handler takes the compiler (for its
operands), the library, the node and the types in scope, and returns the thunk."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from service.cql import operators as op
from service.cql.library import ElmLibrary, Node
from service.cql.runtime import Frame, Thunk, Types
from service.cql.values import CqlValue, decimal_of


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


def null(compiler: NodeCompiler, library: ElmLibrary, node: Node, types: Types) -> Thunk:
    return lambda frame: None


def today(compiler: NodeCompiler, library: ElmLibrary, node: Node, types: Types) -> Thunk:
    return lambda frame: frame.context.today


# Operators that are a function of their operands' values (`operand`), and of their source's
# (`source`): the table both compilers read (the closures here, the generated source in codegen).
OPERAND_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "Not": op.not_,
    "Implies": op.implies,
    "Xor": op.xor,
    "IsNull": lambda a: a is None,
    "IsTrue": lambda a: a is True,
    "IsFalse": lambda a: a is False,
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
SOURCE_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "First": op.first,
    "Last": op.last,
    "Count": op.count,
    "Min": op.minimum,
    "Max": op.maximum,
}

OPERATORS: dict[str, Handler] = {
    "Null": null,
    "And": short_circuit(False, op.and_),
    "Or": short_circuit(True, op.or_),
    "Round": round_,
    "DurationBetween": duration,
    "Today": today,
    **{kind: nary(function) for kind, function in OPERAND_FUNCTIONS.items()},
    **{kind: source(function) for kind, function in SOURCE_FUNCTIONS.items()},
}
