"""ELM to Python closures, once, at load. Every node becomes `Thunk = Callable[[Frame], Any]`;
evaluating a define is calling its thunk. Node types the bridge does not support fail here, at
load, with the CQL file and line: never as a wrong answer in a request.

Structure: here, refs and definitions (ExpressionRef, FunctionRef, ParameterRef, AliasRef,
OperandRef), data (Retrieve, Property, As, Query), conditionals and membership; the value
selectors in value_handlers.py, the operators by CQL chapter in operator_handlers.py, sorting in
sorting.py, what a node declares in elm_nodes.py, values built from data in conversions.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from itertools import count
from typing import cast

from service.cql import operators as op
from service.cql import value_handlers as values_
from service.cql.conversions import (
    READ_CONCEPTS_ON_JSON,
    SYSTEM_TYPES,
    checked,
    codes_in,
    concept_in,
    system_property,
)
from service.cql.elm_nodes import (
    NOT_CACHED,
    elm_nodes,
    inlinable,
    is_list,
    is_to_concept,
    operand_nodes,
    overload,
    parameter_definition,
    query_source,
    result_type,
    retrieved,
    scoped,
    sort_property,
    target_library,
    type_name,
    value_set_url,
)
from service.cql.library import ElmLibrary, Node
from service.cql.operator_handlers import OPERATORS
from service.cql.paths import fhir_type, property_accessor
from service.cql.runtime import Frame, Thunk, Types
from service.cql.sorting import compiled_sort
from service.cql.values import CqlValue


class Compiler:
    def __init__(self, libraries: Mapping[str, ElmLibrary]) -> None:
        self.libraries = libraries
        self.defines: dict[tuple[str, str], Thunk] = {}
        self._functions: dict[int, Callable[[Frame, list[CqlValue]], CqlValue]] = {}
        # While a function body is compiled in place: its operands -> the arguments' thunks,
        # and whether each argument is closed (`_closed`).
        self._inlined: dict[str, Thunk] = {}
        self._closed_operands: dict[str, bool] = {}
        # Above zero while compiling what runs more than once per evaluation: a query's
        # where, return and sort, a function's body.
        self._repeated = 0
        self._cache_keys = count()

    def compile_all(self) -> None:
        for library in self.libraries.values():
            for name, statement in library.defines.items():
                self.defines[(library.name, name)] = self._define(library, name, statement)

    def _define(self, library: ElmLibrary, name: str, statement: Node) -> Thunk:
        key = (library.name, name)
        body = self.node(library, statement["expression"], {})

        def evaluate(frame: Frame) -> CqlValue:
            if key not in frame.cache:
                frame.cache[key] = body(
                    Frame(frame.context, frame.cache, navigated=frame.navigated)
                )
            return frame.cache[key]

        return evaluate

    def node(self, library: ElmLibrary, node: Node, types: Types) -> Thunk:
        kind = node.get("type")
        handler = _HANDLERS.get(str(kind))
        if handler is None:
            raise library.error(node, f"ELM node {kind!r} is not supported by the bridge")
        if not self._repeated or kind in NOT_CACHED or not self._closed(node):
            return handler(self, library, node, types)
        # Runs once per element or call but has the same value for the whole evaluation (the
        # window's start, a list of codes): computed once per evaluation. Its own parts then
        # run once, so they are not wrapped again.
        with self._compiling(repeated=0):
            return self._per_evaluation(handler(self, library, node, types))

    @contextmanager
    def _compiling(
        self,
        *,
        repeated: int,
        inlined: dict[str, Thunk] | None = None,
        closed_operands: dict[str, bool] | None = None,
    ) -> Iterator[None]:
        """Compile-time state for a part of the tree (`None`: as around it), restored after."""
        outer = self._repeated, self._inlined, self._closed_operands
        self._repeated = repeated
        self._inlined = outer[1] if inlined is None else inlined
        self._closed_operands = outer[2] if closed_operands is None else closed_operands
        try:
            yield
        finally:
            self._repeated, self._inlined, self._closed_operands = outer

    def _closed(self, node: Node) -> bool:
        """Free of the query aliases and operands in scope: its value can only depend on what
        is fixed for an evaluation (parameters, the record, defines). An operand of a function
        compiled in place counts as closed when its argument is."""
        return not any(
            scoped(current)
            or (
                current.get("type") == "OperandRef"
                and not self._closed_operands.get(current["name"], False)
            )
            for current in elm_nodes(node)
        )

    def _per_evaluation(self, thunk: Thunk) -> Thunk:
        key = ("", f"#{next(self._cache_keys)}")  # a define's library name is never empty

        def cached(frame: Frame) -> CqlValue:
            if key in frame.cache:
                return frame.cache[key]
            value = frame.cache[key] = thunk(frame)
            return value

        return cached

    def operands(self, library: ElmLibrary, node: Node, types: Types) -> list[Thunk]:
        return [self.node(library, item, types) for item in operand_nodes(node)]

    # -- refs and definitions
    def expression_ref(self, library: ElmLibrary, node: Node, types: Types) -> Thunk:
        target = target_library(self.libraries, library, node)
        key = (target.name, node["name"])
        if node["name"] not in target.defines:
            raise library.error(node, f"no define {node['name']!r} in {target.name}")
        defines = self.defines
        return lambda frame: defines[key](frame)

    def function_ref(self, library: ElmLibrary, node: Node, types: Types) -> Thunk:
        target = target_library(self.libraries, library, node)
        definition = overload(library, target, node)
        arguments = self.operands(library, node, types)
        if inlinable(definition):
            closed = [self._closed(o) for o in node.get("operand") or []]
            return self._inline(target, definition, arguments, closed)
        call = self._function(target, definition)
        return lambda frame: call(frame, [argument(frame) for argument in arguments])

    def _inline(
        self, library: ElmLibrary, definition: Node, arguments: list[Thunk], closed: list[bool]
    ) -> Thunk:
        """The function's body compiled in place, each operand replaced by the argument's thunk.
        Only for bodies without queries that use each operand at most once (`inlinable`): the
        body then runs in the caller's frame exactly as a call would, without one. Most calls
        are of this kind (FHIRHelpers' `ToString(value)` is `value.value`). One difference: an
        argument the body never reaches (an untaken `if` branch) is not evaluated; CQL has no
        side effects, so only an argument that would fail (`singleton from` over several) can
        tell, and the answer is then the body's instead of an error."""
        operands = definition.get("operand") or []
        types = {o["name"]: type_name(o, "operandType") for o in operands}
        with self._compiling(
            repeated=self._repeated + 1,
            inlined={o["name"]: a for o, a in zip(operands, arguments, strict=True)},
            closed_operands={o["name"]: c for o, c in zip(operands, closed, strict=True)},
        ):
            return self.node(library, definition["expression"], types)

    def _function(
        self, library: ElmLibrary, definition: Node
    ) -> Callable[[Frame, list[CqlValue]], CqlValue]:
        compiled = self._functions.get(id(definition))
        if compiled is not None:
            return compiled
        names = [operand["name"] for operand in definition.get("operand") or []]
        operand_types = {
            operand["name"]: type_name(operand, "operandType")
            for operand in definition.get("operand") or []
        }
        if definition.get("external"):
            raise library.error(definition, "external functions are not supported")
        with self._compiling(repeated=self._repeated + 1, inlined={}, closed_operands={}):
            body = self.node(library, definition["expression"], operand_types)

        def call(frame: Frame, arguments: list[CqlValue]) -> CqlValue:
            return body(
                Frame(
                    frame.context,
                    frame.cache,
                    dict(zip(names, arguments, strict=True)),
                    frame.navigated,
                )
            )

        self._functions[id(definition)] = call
        return call

    def parameter_ref(self, library: ElmLibrary, node: Node, types: Types) -> Thunk:
        definition = parameter_definition(library, node)
        default = (
            self.node(library, definition["default"], {}) if definition.get("default") else None
        )
        name = node["name"]

        def value(frame: Frame) -> CqlValue:
            given = frame.context.parameters.get(name)
            if given is None and default is not None:
                return default(frame)
            return given

        return value

    def scope_ref(self, library: ElmLibrary, node: Node, types: Types) -> Thunk:
        name = node["name"]
        if node.get("type") == "OperandRef" and name in self._inlined:
            return self._inlined[name]
        if name not in types:
            raise library.error(node, f"{name!r} is not in scope")
        return lambda frame: frame.scope.get(name)

    # -- data
    def retrieve(self, library: ElmLibrary, node: Node, types: Types) -> Thunk:
        resource_type, value_set = retrieved(self.libraries, library, node)
        # Resources are FHIR JSON, CQL values as they are (CqlValue's dict).
        return lambda frame: cast(CqlValue, frame.context.data.retrieve(resource_type, value_set))

    def property(
        self, library: ElmLibrary, node: Node, types: Types, as_type: str | None = None
    ) -> Thunk:
        if "scope" in node:
            if node["scope"] not in types:
                raise library.error(node, f"{node['scope']!r} is not in scope")
            source_type, scope = types[node["scope"]], node["scope"]
            source: Thunk = lambda frame: frame.scope.get(scope)  # noqa: E731
        else:
            source = self.node(library, node["source"], types)
            source_type = result_type(node["source"])
        path = node["path"]
        if fhir_type(source_type):
            try:
                access = property_accessor(
                    fhir_type(source_type),
                    path,
                    fhir_type(as_type),
                    is_list(node),
                    result_type(node),
                )
            except ValueError as error:
                raise library.error(node, str(error)) from None
            return lambda frame: access(source(frame), frame.navigated)
        return lambda frame: system_property(source(frame), path)

    def identifier_ref(
        self, library: ElmLibrary, node: Node, types: Types, as_type: str | None = None
    ) -> Thunk:
        return self.property(library, sort_property(library, node, types), types, as_type)

    def as_(self, library: ElmLibrary, node: Node, types: Types) -> Thunk:
        target = type_name(node, "asType")
        operand = node["operand"]
        if target and fhir_type(target) and operand.get("type") == "Property":
            return self.property(library, operand, types, as_type=target)
        if target and fhir_type(target) and operand.get("type") == "IdentifierRef":
            return self.identifier_ref(library, operand, types, as_type=target)
        value = self.node(library, operand, types)
        check = SYSTEM_TYPES.get(target or "")
        if check is None:
            return value
        return lambda frame: checked(value(frame), check)

    def query(self, library: ElmLibrary, node: Node, types: Types) -> Thunk:
        source_node = query_source(library, node)
        alias = source_node["alias"]
        source = self.node(library, source_node["expression"], types)
        inner = {**types, alias: result_type(source_node["expression"])}
        returned = node.get("return")
        with self._compiling(repeated=self._repeated + 1):
            where = self.node(library, node["where"], inner) if node.get("where") else None
            project = self.node(library, returned["expression"], inner) if returned else None
            sort = (
                compiled_sort(self, library, node, returned, inner, alias)
                if node.get("sort")
                else None
            )
        unique = bool(returned.get("distinct", True)) if returned else False

        def run(frame: Frame) -> CqlValue:
            value = source(frame)
            if value is None:
                return None
            results: list[CqlValue] = []
            for item in value if isinstance(value, list) else [value]:
                scoped = frame.bind({alias: item})
                if where is not None and where(scoped) is not True:
                    continue
                results.append(project(scoped) if project is not None else item)
            if unique:
                results = op.distinct(results)
            if sort is not None:
                results = sort(frame, results)
            return cast(CqlValue, op.query_result(value, results))

        return run

    def in_value_set(self, library: ElmLibrary, node: Node, types: Types) -> Thunk:
        url = value_set_url(self.libraries, library, node["valueset"])
        if READ_CONCEPTS_ON_JSON and is_to_concept(self.libraries, library, node.get("code")):
            raw = self.node(library, node["code"]["operand"][0], types)
            return lambda frame: concept_in(raw(frame), frame.context.terminology, url)
        code = self.node(library, node["code"] if "code" in node else node["codes"], types)

        return lambda frame: codes_in(code(frame), frame.context.terminology, url)

    # -- control flow
    def if_(self, library: ElmLibrary, node: Node, types: Types) -> Thunk:
        condition = self.node(library, node["condition"], types)
        then, otherwise = (
            self.node(library, node["then"], types),
            self.node(library, node["else"], types),
        )
        return lambda frame: then(frame) if condition(frame) is True else otherwise(frame)

    def case(self, library: ElmLibrary, node: Node, types: Types) -> Thunk:
        comparand = self.node(library, node["comparand"], types) if node.get("comparand") else None
        items = [
            (self.node(library, i["when"], types), self.node(library, i["then"], types))
            for i in node["caseItem"]
        ]
        otherwise = self.node(library, node["else"], types)

        def run(frame: Frame) -> CqlValue:
            subject = comparand(frame) if comparand is not None else None
            for when, then in items:
                hit = op.equal(subject, when(frame)) if comparand is not None else when(frame)
                if hit is True:
                    return then(frame)
            return otherwise(frame)

        return run

    def coalesce(self, library: ElmLibrary, node: Node, types: Types) -> Thunk:
        operands = self.operands(library, node, types)
        listed = len(operands) == 1 and is_list(node["operand"][0])

        if listed:
            (items,) = operands
            return lambda frame: op.coalesce_list(items(frame))

        def run(frame: Frame) -> CqlValue:
            for operand in operands:
                value = operand(frame)
                if value is not None:
                    return value
            return None

        return run

    def singleton_from(self, library: ElmLibrary, node: Node, types: Types) -> Thunk:
        operand = self.node(library, node["operand"], types)
        where = library.where(node)

        return lambda frame: op.singleton_from(operand(frame), where)


_HANDLERS: dict[str, Callable[[Compiler, ElmLibrary, Node, Types], Thunk]] = {
    "ExpressionRef": Compiler.expression_ref,
    "FunctionRef": Compiler.function_ref,
    "ParameterRef": Compiler.parameter_ref,
    "AliasRef": Compiler.scope_ref,
    "OperandRef": Compiler.scope_ref,
    "IdentifierRef": Compiler.identifier_ref,
    "Retrieve": Compiler.retrieve,
    "Property": Compiler.property,
    "As": Compiler.as_,
    "Query": Compiler.query,
    "Literal": values_.literal,
    "Instance": values_.instance,
    "Tuple": values_.tuple_,
    "List": values_.list_,
    "Interval": values_.interval,
    "Quantity": values_.quantity,
    "InValueSet": Compiler.in_value_set,
    "AnyInValueSet": Compiler.in_value_set,
    "If": Compiler.if_,
    "Case": Compiler.case,
    "Coalesce": Compiler.coalesce,
    "SingletonFrom": Compiler.singleton_from,
    **OPERATORS,
}
