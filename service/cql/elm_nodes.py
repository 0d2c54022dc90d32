"""Reading ELM nodes at load: walking a tree, what a node's value is declared to be, and whether a
function body can run inlined in its caller's frame."""

from __future__ import annotations

from collections.abc import Iterator

from service.cql.library import Node

_SCOPED = {"Query", "AliasRef", "IdentifierRef", "QueryLetRef"}


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
