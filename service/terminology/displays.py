"""The display of each code a policy's own terminology names: its CodeSystems' concepts and the
concepts its ValueSets enumerate (FHIR R4 `CodeSystem.concept.display`,
`ValueSet.compose.include.concept.display`). What a code is called where a person reads it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from service.errors import ConfigurationError


def load_displays(folder: Path) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            resource = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ConfigurationError(f"{path}: cannot load: {error!r}") from None
        # A CodeSystem's own display wins over a ValueSet's copy of it.
        for key, display in _displays(resource):
            if resource.get("resourceType") == "CodeSystem" or key not in found:
                found[key] = display
    return found


def _displays(resource: dict[str, Any]) -> Iterator[tuple[tuple[str, str], str]]:
    if resource.get("resourceType") == "CodeSystem":
        yield from _concepts(str(resource.get("url")), resource.get("concept") or [])
    elif resource.get("resourceType") == "ValueSet":
        for include in (resource.get("compose") or {}).get("include") or []:
            yield from _concepts(str(include.get("system")), include.get("concept") or [])


def _concepts(system: str, concepts: list[Any]) -> Iterator[tuple[tuple[str, str], str]]:
    for concept in concepts:
        if concept.get("display"):
            yield (system, str(concept["code"])), str(concept["display"])
        yield from _concepts(system, concept.get("concept") or [])
