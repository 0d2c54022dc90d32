"""A query's `sort` compiled: by direction (the values themselves) or by expression (`$this`
bound to each element), nulls lowest (CQL "Sorting")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from service.cql.conversions import sortable
from service.cql.elm_nodes import result_type
from service.cql.library import ElmLibrary, Node
from service.cql.operator_handlers import NodeCompiler
from service.cql.runtime import THIS, Frame, Thunk, Types


def compiled_sort(
    compiler: NodeCompiler,
    library: ElmLibrary,
    node: Node,
    returned: Node | None,
    types: Types,
    alias: str,
) -> Callable[[Frame, list[Any]], list[Any]]:
    element_type = types[alias] if returned is None else result_type(returned["expression"])
    keys: list[tuple[Thunk | None, bool]] = []
    for by in node["sort"]["by"]:
        descending = by.get("direction", "asc") in ("desc", "descending")
        if by["type"] == "ByDirection":
            keys.append((None, descending))
        elif by["type"] == "ByExpression":
            keys.append(
                (
                    compiler.node(library, by["expression"], {**types, THIS: element_type}),
                    descending,
                )
            )
        else:
            raise library.error(by, f"sort {by['type']} is not supported")

    def sort(frame: Frame, items: list[Any]) -> list[Any]:
        return sorted_by(
            items,
            [(None if key is None else _bound(frame, key), descending) for key, descending in keys],
        )

    return sort


def _bound(frame: Frame, key: Thunk) -> SortKey:
    return lambda item: key(frame.bind({THIS: item}))


# A sort key: the value to sort an element by (None: the element itself), and descending.
SortKey = Callable[[Any], Any]


def sorted_by(items: list[Any], keys: list[tuple[SortKey | None, bool]]) -> list[Any]:
    """Stable sort by each key in turn, the last key first; nulls lowest (CQL "Sorting")."""
    ordered = list(items)
    for key, descending in reversed(keys):
        decorated = [(item if key is None else key(item), item) for item in ordered]
        present = sorted(
            (d for d in decorated if d[0] is not None),
            key=lambda d: sortable(d[0]),
            reverse=descending,
        )
        absent = [d for d in decorated if d[0] is None]
        ordered = [d[1] for d in (present + absent if descending else absent + present)]
    return ordered
