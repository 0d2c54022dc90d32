"""ValueSet membership from the policy's own ValueSet files (FHIR R4 `compose`).

Supported compose features: `include.concept` lists, `include.valueSet` imports, and `is-a`
/ `descendent-of` filters on ICD-10-CM, where the hierarchy is the code's prefix (C91 is-a C81-C96
category). Anything else fails at load time, naming the file: a ValueSet we cannot expand
exactly must not answer membership questions approximately.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from service.errors import ConfigurationError
from service.terminology.codes import ICD10CM, CodeKey, normalize_code
from service.types import Resource


class TerminologyProvider(Protocol):
    def in_value_set(self, system: str, code: str, url: str) -> bool: ...

    def value_set(self, url: str) -> Resource | None: ...


@dataclass
class _Expansion:
    codes: set[CodeKey] = field(default_factory=set)
    prefixes: set[CodeKey] = field(default_factory=set)
    imports: list[str] = field(default_factory=list)


class ValueSetIndex:
    """Membership over a fixed set of ValueSets, computed once at load."""

    def __init__(self, value_sets: Iterable[Resource]) -> None:
        self._resources: dict[str, Resource] = {}
        raw: dict[str, _Expansion] = {}
        for value_set in value_sets:
            url = str(value_set.get("url", ""))
            if not url:
                raise ConfigurationError(f"ValueSet {value_set.get('id')!r} has no url")
            self._resources[url] = value_set
            raw[url] = _expansion_of(value_set)
        self._expansions = {url: _flatten(url, raw, ()) for url in raw}

    def in_value_set(self, system: str, code: str, url: str) -> bool:
        expansion = self._expansions.get(url)
        if expansion is None:
            raise KeyError(f"unknown ValueSet {url}")
        key = normalize_code(system, code)
        if key in expansion.codes:
            return True
        return any(
            key.system == prefix.system and key.code.startswith(prefix.code)
            for prefix in expansion.prefixes
        )

    def value_set(self, url: str) -> Resource | None:
        return self._resources.get(url)

    def urls(self) -> list[str]:
        return sorted(self._resources)

    def prefixes(self, url: str) -> frozenset[CodeKey]:
        """The code prefixes of a ValueSet's is-a filters (ICD-10-CM categories)."""
        return frozenset(self._expansions[url].prefixes)

    def codes(self, url: str) -> frozenset[CodeKey]:
        """The enumerated codes (not the filter prefixes) of a ValueSet."""
        return frozenset(self._expansions[url].codes)


def load_value_sets(folder: Path) -> ValueSetIndex:
    resources = []
    for path in sorted(folder.glob("ValueSet-*.json")):
        try:
            resource = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ConfigurationError(f"{path}:{error.lineno}: not JSON: {error.msg}") from None
        if resource.get("resourceType") != "ValueSet":
            raise ConfigurationError(f"{path}: not a ValueSet")
        try:
            _expansion_of(resource)
        except ConfigurationError as error:
            raise ConfigurationError(f"{path}: {error}") from None
        resources.append(resource)
    return ValueSetIndex(resources)


def _expansion_of(value_set: Resource) -> _Expansion:
    compose = value_set.get("compose") or {}
    if compose.get("exclude"):
        raise ConfigurationError("compose.exclude is not supported")
    expansion = _Expansion()
    for include in compose.get("include", []):
        expansion.imports.extend(include.get("valueSet", []))
        system = include.get("system")
        if system is None:
            continue
        for concept in include.get("concept", []):
            expansion.codes.add(normalize_code(system, concept["code"]))
        for rule in include.get("filter", []):
            expansion.prefixes.add(_prefix_filter(system, rule))
    return expansion


def _prefix_filter(system: str, rule: Resource) -> CodeKey:
    key = normalize_code(system, str(rule.get("value", "")))
    if key.system != ICD10CM or rule.get("op") not in ("is-a", "descendent-of"):
        raise ConfigurationError(f"unsupported filter {rule!r} on {system}")
    if rule.get("property") not in ("concept", "code", None):
        raise ConfigurationError(f"unsupported filter property {rule.get('property')!r}")
    return key


def _flatten(url: str, raw: dict[str, _Expansion], seen: tuple[str, ...]) -> _Expansion:
    if url in seen:
        raise ConfigurationError(f"ValueSet import cycle: {' -> '.join((*seen, url))}")
    if url not in raw:
        raise ConfigurationError(f"ValueSet {seen[-1]} imports unknown ValueSet {url}")
    own = raw[url]
    merged = _Expansion(set(own.codes), set(own.prefixes))
    for imported in own.imports:
        child = _flatten(imported, raw, (*seen, url))
        merged.codes |= child.codes
        merged.prefixes |= child.prefixes
    return merged
