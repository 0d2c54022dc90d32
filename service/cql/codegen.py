"""ELM to Python source, once, at load: every define and every function that is not inlined
becomes one generated Python function, and each node inside it an expression. Evaluating a define
is one call; the nodes under it cost what Python's own operators and calls cost, with no call per
node, no frame per scope and no dictionary per alias (query aliases and operands are locals).

This is the bridge's one ELM compiler. What a node means is stated once: operators are calls of
their function in operators.py (the tables in codegen_nodes.py), property paths go through
paths.py (FHIRPath underneath); the official engine (cql-execution) is the reference every define
is held to (tests/cql/test_oracle.py, docs/decisions/0011). Unsupported ELM fails here, at load,
with the CQL file and line, never as a wrong answer in a request.

Generated functions take `(ctx, cache, nav)`: the evaluation's context, its cache (defines and
per-evaluation values, by number) and its navigation memo (service.cql.paths.Navigated).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count
from typing import Any

from service.cql import operators as op
from service.cql.codegen_nodes import CODE_HANDLERS
from service.cql.conversions import SYSTEM_TYPES, checked
from service.cql.elm_nodes import (
    NOT_CACHED,
    elm_nodes,
    inlinable,
    operand_nodes,
    overload,
    query_source,
    result_type,
    scoped,
    target_library,
    type_name,
)
from service.cql.library import ElmLibrary, Node
from service.cql.runtime import THIS, Types
from service.cql.sorting import sorted_by
from service.cql.values import CqlValue

# A generated define: (the evaluation's context, its cache, its navigation memo) -> the value.
Generated = Callable[[Any, dict[Any, Any], dict[Any, Any]], CqlValue]
# Python's parser refuses expressions nested about 200 deep; deeper ones are split into local
# functions (a call keeps the laziness of `if` branches that a statement would lose).
_MAX_DEPTH = 40
MISSING = object()


@dataclass(frozen=True)
class Argument:
    """An argument of a function compiled in place: compiled where the body reads its operand
    (an inlinable body reads each operand at most once), in the caller's scope and state."""

    library: ElmLibrary
    node: Node
    types: Types
    scope: Mapping[str, str | Argument]
    repeated: int
    closed: bool


class SourceCompiler:
    def __init__(self, libraries: Mapping[str, ElmLibrary]) -> None:
        self.libraries = libraries
        self.source = ""
        self._numbers = count()
        self._constants: dict[str, Any] = {"MISSING": MISSING}
        self._constant_names: dict[tuple[type, object], str] = {}
        # The module's functions, each its source lines (compiled one at a time: compiling the
        # whole module at once took 12 MB at its peak, which a worker's memory then kept).
        self._module: list[list[str]] = []
        self._defines: dict[tuple[str, str], str] = {}
        self._functions: dict[int, str] = {}
        # Compile-time state, restored by `state`: the names in scope (a query alias or a
        # function's operand -> its Python local, or an inlined function's argument), whether
        # what is compiled runs more than once per evaluation, the statements the current
        # function needs before its expression, and the depth of the expression being built.
        self.scope: Mapping[str, str | Argument] = {}
        self.repeated = 0
        self._prelude: list[str] = []
        self._depths: list[int] = [0]

    # -- the module
    def compile_all(self) -> dict[tuple[str, str], Generated]:
        for library in self.libraries.values():
            for name in library.defines:
                self._defines[(library.name, name)] = self.name("define")
        for library in self.libraries.values():
            for name, statement in library.defines.items():
                function = self._defines[(library.name, name)]
                self._cached_function(function, library, statement["expression"], {}, {})
        namespace = dict(self._constants)
        for lines in self._module:
            exec(compile("\n".join(lines), "<generated from ELM>", "exec"), namespace)  # noqa: S102
        self.source = "".join("\n".join(lines) + "\n" for lines in self._module)
        return {key: namespace[name] for key, name in self._defines.items()}

    def name(self, kind: str) -> str:
        return f"{kind}_{next(self._numbers)}"

    def constant(self, value: object) -> str:
        """A name in the generated module for a value made at load (a function, a Decimal, a
        compiled path): equal values of one type share one name."""
        try:
            key: tuple[type, object] = (type(value), value)
            hash(key)
        except TypeError:
            key = (type(value), id(value))
        if key not in self._constant_names:
            self._constant_names[key] = name = self.name("k")
            self._constants[name] = value
        return self._constant_names[key]

    def statement(self, *lines: str) -> None:
        """Lines the current function runs before the expression being built (local functions)."""
        self._prelude.extend(lines)

    def _cached_function(
        self,
        function: str,
        library: ElmLibrary,
        expression: Node,
        types: Types,
        scope: Mapping[str, str | Argument],
    ) -> None:
        """A define, or a value computed once per evaluation: kept in the evaluation's cache."""
        key = next(self._numbers)
        with self.state(scope=scope, repeated=0, prelude=[]):
            value = self.expression(library, expression, types)
            prelude = self._prelude
        self._module.append(
            [
                f"def {function}(ctx, cache, nav):",
                f"    value = cache.get({key}, MISSING)",
                "    if value is MISSING:",
                *_indented(prelude, 8),
                f"        value = cache[{key}] = {value}",
                "    return value",
            ]
        )

    @contextmanager
    def state(
        self,
        *,
        scope: Mapping[str, str | Argument] | None = None,
        repeated: int | None = None,
        prelude: list[str] | None = None,
    ) -> Iterator[None]:
        outer = self.scope, self.repeated, self._prelude, self._depths
        self.scope = outer[0] if scope is None else scope
        self.repeated = outer[1] if repeated is None else repeated
        self._prelude = outer[2] if prelude is None else prelude
        self._depths = outer[3] if prelude is None else [0]
        try:
            yield
        finally:
            self.scope, self.repeated, self._prelude, self._depths = outer

    # -- expressions
    def expression(self, library: ElmLibrary, node: Node, types: Types) -> str:
        kind = str(node.get("type"))
        handler = _OWN.get(kind) or CODE_HANDLERS.get(kind)
        if handler is None:
            raise library.error(node, f"ELM node {kind!r} is not supported by the bridge")
        self._depths.append(0)
        if not self.repeated or kind in NOT_CACHED or not self.closed(node):
            text = handler(self, library, node, types)
        else:
            # Fixed for the evaluation (a window's start, a list of codes): computed once per
            # evaluation, not once per element or call.
            function = self.name("once")
            # Closed: what it reads of the scope is the inlined arguments it is given.
            given = {k: v for k, v in self.scope.items() if isinstance(v, Argument)}
            self._cached_function(function, library, node, types, given)
            text = f"{function}(ctx, cache, nav)"
        depth = self._depths.pop() + 1
        if depth > _MAX_DEPTH:
            local = self.name("part")
            self.statement(f"def {local}():", f"    return {text}")
            text, depth = f"{local}()", 1
        self._depths[-1] = max(self._depths[-1], depth)
        return text

    def closed(self, node: Node) -> bool:
        """Free of query aliases and of operands other than closed inlined arguments: its value
        is fixed for an evaluation (parameters, the record, defines)."""
        for current in elm_nodes(node):
            if scoped(current):
                return False
            if current.get("type") == "OperandRef":
                bound = self.scope.get(current["name"])
                if not (isinstance(bound, Argument) and bound.closed):
                    return False
        return True

    def operands(self, library: ElmLibrary, node: Node, types: Types) -> list[str]:
        return [self.expression(library, item, types) for item in operand_nodes(node)]

    def define(self, library: ElmLibrary, node: Node) -> str:
        target = target_library(self.libraries, library, node)
        if node["name"] not in target.defines:
            raise library.error(node, f"no define {node['name']!r} in {target.name}")
        return f"{self._defines[(target.name, node['name'])]}(ctx, cache, nav)"

    def scope_ref(self, library: ElmLibrary, node: Node, types: Types) -> str:
        name = node["name"]
        bound = self.scope.get(name)
        if node.get("type") == "OperandRef" and isinstance(bound, Argument):
            with self.state(scope=bound.scope, repeated=bound.repeated):
                return f"({self.expression(bound.library, bound.node, bound.types)})"
        if name not in types or not isinstance(bound, str):
            raise library.error(node, f"{name!r} is not in scope")
        return bound

    # -- functions
    def function_ref(self, library: ElmLibrary, node: Node, types: Types) -> str:
        target = target_library(self.libraries, library, node)
        definition = overload(library, target, node)
        arguments = node.get("operand") or []
        if inlinable(definition):
            operands = definition.get("operand") or []
            bound = {
                o["name"]: Argument(library, a, types, self.scope, self.repeated, self.closed(a))
                for o, a in zip(operands, arguments, strict=True)
            }
            operand_types = {o["name"]: type_name(o, "operandType") for o in operands}
            with self.state(scope=bound, repeated=self.repeated + 1):
                return self.expression(target, definition["expression"], operand_types)
        function = self._function(target, definition)
        values = [self.expression(library, a, types) for a in arguments]
        return f"{function}(ctx, cache, nav{''.join(', ' + v for v in values)})"

    def _function(self, library: ElmLibrary, definition: Node) -> str:
        if id(definition) in self._functions:
            return self._functions[id(definition)]
        if definition.get("external"):
            raise library.error(definition, "external functions are not supported")
        function = self._functions[id(definition)] = self.name("function")
        operands = definition.get("operand") or []
        locals_ = {o["name"]: self.name("operand") for o in operands}
        operand_types = {o["name"]: type_name(o, "operandType") for o in operands}
        with self.state(scope=locals_, repeated=1, prelude=[]):
            value = self.expression(library, definition["expression"], operand_types)
            prelude = self._prelude
        parameters = "".join(f", {local}" for local in locals_.values())
        self._module.append(
            [
                f"def {function}(ctx, cache, nav{parameters}):",
                *_indented(prelude, 4),
                f"    return {value}",
            ]
        )
        return function

    # -- queries
    def query(self, library: ElmLibrary, node: Node, types: Types) -> str:
        source_node = query_source(library, node)
        alias, item = source_node["alias"], self.name("item")
        source = self.expression(library, source_node["expression"], types)
        inner = {**types, alias: result_type(source_node["expression"])}
        returned = node.get("return")
        with self.state(scope={**self.scope, alias: item}, repeated=self.repeated + 1, prelude=[]):
            where = self.expression(library, node["where"], inner) if node.get("where") else None
            project = self.expression(library, returned["expression"], inner) if returned else item
            keys = (
                self._sort_keys(library, node, returned, inner, alias) if node.get("sort") else None
            )
            prelude = self._prelude
        function = self.name("query")
        lines = [
            f"def {function}(source):",
            *_indented(prelude, 4),
            "    if source is None:",
            "        return None",
            "    results = []",
            f"    for {item} in source if isinstance(source, list) else (source,):",
        ]
        if where is not None:
            lines += [f"        if ({where}) is not True:", "            continue"]
        lines.append(f"        results.append({project})")
        if returned is not None and returned.get("distinct", True):
            lines.append(f"    results = {self.constant(op.distinct)}(results)")
        if keys is not None:
            lines.append(f"    results = {self.constant(sorted_by)}(results, {keys})")
        lines.append(f"    return {self.constant(op.query_result)}(source, results)")
        self.statement(*lines)
        return f"{function}({source})"

    def _sort_keys(
        self, library: ElmLibrary, node: Node, returned: Node | None, types: Types, alias: str
    ) -> str:
        element_type = types[alias] if returned is None else result_type(returned["expression"])
        keys = []
        for by in node["sort"]["by"]:
            descending = by.get("direction", "asc") in ("desc", "descending")
            if by["type"] == "ByDirection":
                keys.append(f"(None, {descending})")
            elif by["type"] == "ByExpression":
                this, function = self.name("this"), self.name("key")
                with self.state(scope={**self.scope, THIS: this}, prelude=[]):
                    value = self.expression(
                        library, by["expression"], {**types, THIS: element_type}
                    )
                    prelude = self._prelude
                self.statement(
                    f"def {function}({this}):", *_indented(prelude, 4), f"    return {value}"
                )
                keys.append(f"({function}, {descending})")
            else:
                raise library.error(by, f"sort {by['type']} is not supported")
        return f"[{', '.join(keys)}]"

    def checked(self, value: str, target: str | None) -> str:
        check = SYSTEM_TYPES.get(target or "")
        if check is None:
            return value
        return f"{self.constant(checked)}({value}, {self.constant(check)})"

    def literal(self, value: object) -> str:
        if value is None or isinstance(value, bool | int | str):
            return repr(value)
        return self.constant(value)


def _indented(lines: list[str], spaces: int) -> list[str]:
    return [" " * spaces + line for line in lines]


_OWN: dict[str, Callable[[SourceCompiler, ElmLibrary, Node, Types], str]] = {
    "ExpressionRef": lambda c, library, node, types: c.define(library, node),
    "FunctionRef": SourceCompiler.function_ref,
    "AliasRef": SourceCompiler.scope_ref,
    "OperandRef": SourceCompiler.scope_ref,
    "Query": SourceCompiler.query,
}
