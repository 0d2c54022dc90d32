"""ELM libraries as the official translator writes them (ELM JSON, with locators and result
types), loaded once, with their includes resolved. Errors name the CQL file and line."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.errors import CqlLoadError

Node = dict[str, Any]


@dataclass(frozen=True)
class ElmLibrary:
    name: str
    version: str | None
    source: Path
    includes: Mapping[str, str]  # local identifier -> library name
    parameters: Mapping[str, Node]
    value_sets: Mapping[str, str]  # name -> canonical URL
    defines: Mapping[str, Node]
    functions: Mapping[str, tuple[Node, ...]] = field(default_factory=dict)

    def where(self, node: Node) -> str:
        """file:line of a node, for error messages."""
        locator = str(node.get("locator", ""))
        line = locator.split(":")[0] if locator else "?"
        return f"{self.source}:{line}"

    def error(self, node: Node, message: str) -> CqlLoadError:
        return CqlLoadError(f"{self.where(node)}: {message}")


def load_library(elm_path: Path, cql_dir: Path) -> ElmLibrary:
    try:
        root = json.loads(elm_path.read_text())["library"]
    except (OSError, ValueError, KeyError) as error:
        raise CqlLoadError(f"{elm_path}: not an ELM library ({error!r})") from None
    name = root["identifier"]["id"]
    defines: dict[str, Node] = {}
    functions: dict[str, list[Node]] = {}
    for statement in root.get("statements", {}).get("def", []):
        if statement.get("type") == "FunctionDef":
            functions.setdefault(statement["name"], []).append(statement)
        else:
            defines[statement["name"]] = statement
    return ElmLibrary(
        name=name,
        version=root["identifier"].get("version"),
        source=cql_dir / f"{name}.cql",
        includes={i["localIdentifier"]: i["path"] for i in _defs(root, "includes")},
        parameters={p["name"]: p for p in _defs(root, "parameters")},
        value_sets={v["name"]: v["id"] for v in _defs(root, "valueSets")},
        defines=defines,
        functions={k: tuple(v) for k, v in functions.items()},
    )


def _defs(root: Node, key: str) -> list[Node]:
    section = root.get(key) or {}
    found: list[Node] = section.get("def", [])
    return found


def load_libraries(cql_dirs: Sequence[Path]) -> dict[str, ElmLibrary]:
    """Every library of the folders (each one's ELM in its `elm/`): the shared ones and each
    policy's own. A library name given twice, or an include found nowhere, stops the load."""
    libraries: dict[str, ElmLibrary] = {}
    for cql_dir in cql_dirs:
        for path in sorted((cql_dir / "elm").glob("*.json")):
            library = load_library(path, cql_dir)
            if library.name in libraries:
                raise CqlLoadError(
                    f"{library.source}: library {library.name} is also "
                    f"{libraries[library.name].source}"
                )
            libraries[library.name] = library
    for library in libraries.values():
        for local, target in library.includes.items():
            if target not in libraries:
                raise CqlLoadError(f"{library.source}: includes {target} ({local}), not found")
    return libraries
