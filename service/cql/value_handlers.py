"""CQL's value selectors compiled to thunks (Literal, Instance, Tuple, List, Interval,
Quantity): each handler takes the compiler (for its elements), the library, the node and the
types in scope."""

from __future__ import annotations

from service.cql.conversions import instance_builder
from service.cql.elm_nodes import literal_value, quantity_value
from service.cql.library import ElmLibrary, Node
from service.cql.operator_handlers import NodeCompiler
from service.cql.runtime import Thunk, Types
from service.cql.values import Interval


def literal(compiler: NodeCompiler, library: ElmLibrary, node: Node, types: Types) -> Thunk:
    constant = literal_value(library, node)
    return lambda frame: constant


def instance(compiler: NodeCompiler, library: ElmLibrary, node: Node, types: Types) -> Thunk:
    build = instance_builder(library, node)
    elements = {
        e["name"]: compiler.node(library, e["value"], types) for e in node.get("element") or []
    }
    return lambda frame: build({name: thunk(frame) for name, thunk in elements.items()})


def tuple_(compiler: NodeCompiler, library: ElmLibrary, node: Node, types: Types) -> Thunk:
    elements = {
        e["name"]: compiler.node(library, e["value"], types) for e in node.get("element") or []
    }
    return lambda frame: {name: thunk(frame) for name, thunk in elements.items()}


def list_(compiler: NodeCompiler, library: ElmLibrary, node: Node, types: Types) -> Thunk:
    elements = [compiler.node(library, element, types) for element in node.get("element") or []]
    return lambda frame: [element(frame) for element in elements]


def interval(compiler: NodeCompiler, library: ElmLibrary, node: Node, types: Types) -> Thunk:
    low = compiler.node(library, node["low"], types) if node.get("low") else (lambda frame: None)
    high = compiler.node(library, node["high"], types) if node.get("high") else (lambda frame: None)
    low_closed, high_closed = (
        bool(node.get("lowClosed", True)),
        bool(node.get("highClosed", True)),
    )
    return lambda frame: Interval(low(frame), high(frame), low_closed, high_closed)


def quantity(compiler: NodeCompiler, library: ElmLibrary, node: Node, types: Types) -> Thunk:
    constant = quantity_value(node)
    return lambda frame: constant
