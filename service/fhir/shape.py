"""The JSON shape of the elements a reader walks, checked before it walks them: an element the
FHIR specification makes an object, or an array of objects, that arrives as a string or a number
is named in an issue (FHIR R4 JSON, section 2.6.2), never met as an AttributeError later.

Rules are (path, kind) pairs, parents before children: `item.extension` is checked in every
element of `item`, and only where `item` itself had the right shape."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from enum import Enum

from service.errors import Issue


class Kind(Enum):
    OBJECT = "a JSON object"
    OBJECTS = "a list of JSON objects"


ShapeRule = tuple[str, Kind]


def shape_issues(root: object, name: str, rules: Sequence[ShapeRule]) -> list[Issue]:
    issues: list[Issue] = []
    for path, kind in rules:
        for where, value in _found(root, name, path.split(".")):
            problem = _problem(value, kind, where)
            if problem is not None:
                issues.append(problem)
    return issues


def _problem(value: object, kind: Kind, where: str) -> Issue | None:
    if kind is Kind.OBJECT and not isinstance(value, dict):
        return Issue(f"{where} must be {kind.value}", expression=(where,))
    if kind is Kind.OBJECTS:
        if not isinstance(value, list):
            return Issue(f"{where} must be {kind.value}", expression=(where,))
        for number, element in enumerate(value):
            if not isinstance(element, dict):
                at = f"{where}[{number}]"
                return Issue(f"{at} must be a JSON object", expression=(at,))
    return None


def _found(node: object, where: str, segments: list[str]) -> Iterator[tuple[str, object]]:
    """The present values at `segments` under `node`, with their FHIRPath-like location; lists on
    the way are entered element by element, and anything not an object is not entered."""
    if not segments:
        yield where, node
        return
    if not isinstance(node, dict) or node.get(segments[0]) is None:
        return
    value, here = node[segments[0]], f"{where}.{segments[0]}"
    if len(segments) > 1 and isinstance(value, list):
        for number, element in enumerate(value):
            yield from _found(element, f"{here}[{number}]", segments[1:])
        return
    yield from _found(value, here, segments[1:])
