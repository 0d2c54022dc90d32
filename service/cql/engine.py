"""The bridge's front: load every ELM library of the folders, compile once, evaluate defines.

Defines run as generated Python (codegen.py, the bridge's one compiler); the official engine
(cql-execution) is what it is tested against (tests/cql/test_oracle.py, docs/decisions/0011)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from service.cql.codegen import Generated, SourceCompiler
from service.cql.library import ElmLibrary, Node, load_libraries
from service.cql.paths import Navigated
from service.cql.runtime import EvaluationContext
from service.cql.values import CqlValue
from service.errors import CqlLoadError


@dataclass(frozen=True)
class _Outline:
    """What the engine answers about a library once it is compiled: its file, its defines with
    their declared result types, its parameters with their ELM type names."""

    source: Path
    defines: Mapping[str, str | None]
    parameters: Mapping[str, str]


def _outline(library: ElmLibrary) -> _Outline:
    return _Outline(
        source=library.source,
        defines={name: _result_type(node) for name, node in library.defines.items()},
        parameters={
            name: str((node.get("parameterTypeSpecifier") or {}).get("name", ""))
            for name, node in library.parameters.items()
        },
    )


def _result_type(node: Node) -> str | None:
    named = str(node.get("resultTypeName") or "").rpartition("}")[2]
    if named:
        return named
    spec = node.get("resultTypeSpecifier") or {}
    if spec.get("type") == "ListTypeSpecifier":
        element = str((spec.get("elementType") or {}).get("name") or "").rpartition("}")[2]
        return f"List<{element or '?'}>"
    return None


class CqlEngine:
    def __init__(self, cql_dirs: Sequence[Path]) -> None:
        """`cql_dirs`: folders of CQL sources, each with the ELM translated from them in `elm/`
        (the shared libraries' and every policy's own)."""
        libraries = load_libraries(cql_dirs)
        source_compiler = SourceCompiler(libraries)
        self._generated: dict[tuple[str, str], Generated] = source_compiler.compile_all()
        # The generated program, one function per define.
        self.source = source_compiler.source
        # Only the outline is kept: the generated code does not read the ELM, and its parsed
        # trees were 1.5 MB of every worker's memory.
        self._libraries = {name: _outline(library) for name, library in libraries.items()}

    def require(self, library: str, names: Sequence[str]) -> None:
        """Fail at load when a define the service reads is missing (the typed contract)."""
        if library not in self._libraries:
            raise CqlLoadError(f"no ELM library {library}")
        missing = [n for n in names if n not in self._libraries[library].defines]
        if missing:
            raise CqlLoadError(f"{self._libraries[library].source}: missing defines {missing}")

    def defines(self, library: str) -> list[str]:
        return list(self._libraries[library].defines)

    def result_type(self, library: str, name: str) -> str | None:
        """A define's declared result type: `Boolean`, `List<String>` ...; None if undeclared."""
        return self._libraries[library].defines[name]

    def parameters(self, library: str) -> dict[str, str]:
        """Declared parameters and their ELM type names."""
        return dict(self._libraries[library].parameters)

    def evaluate(
        self, library: str, names: Sequence[str], context: EvaluationContext
    ) -> dict[str, CqlValue]:
        cache: dict[object, CqlValue] = {}
        navigated: Navigated = {}
        generated = self._generated
        return {name: generated[(library, name)](context, cache, navigated) for name in names}
