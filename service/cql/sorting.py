"""A query's `sort`: by direction (the values themselves) or by expression (a key function of
each element, `$this` in the generated code), nulls lowest (CQL "Sorting")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from service.cql.conversions import sortable

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
