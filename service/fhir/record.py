"""PatientRecord: every resource of one hook call, indexed once by type, id, fullUrl and
(system, code), with FHIR reference resolution (contained `#id`, Bundle `fullUrl`, `Type/id`,
absolute `.../Type/id`). Policy retrieves become lookups here; nothing scans the bundle per query.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from service.terminology.codes import CodeKey, normalize_code
from service.types import Resource

# Where each resource type carries the code a policy retrieve filters on (FHIR R4 / CQL
# primary code paths of the QI-Core and US Core model info).
PRIMARY_CODE_PATHS: dict[str, tuple[str, ...]] = {
    "Condition": ("code",),
    "Observation": ("code",),
    "Procedure": ("code",),
    "ServiceRequest": ("code",),
    "DeviceRequest": ("codeCodeableConcept",),
    "Medication": ("code",),
    "MedicationRequest": ("medicationCodeableConcept",),
    "MedicationAdministration": ("medicationCodeableConcept",),
    "MedicationStatement": ("medicationCodeableConcept",),
    "MedicationDispense": ("medicationCodeableConcept",),
    "Coverage": ("type",),
}

Normalizer = Callable[[str, str], CodeKey]


class PatientRecord:
    def __init__(
        self, entries: Iterable[tuple[Resource, str | None]], normalize: Normalizer = normalize_code
    ) -> None:
        self._normalize = normalize
        self._by_type: dict[str, list[Resource]] = defaultdict(list)
        self._by_id: dict[tuple[str, str], Resource] = {}
        self._by_full_url: dict[str, Resource] = {}
        self._position: dict[int, int] = {}
        # Built per resource type when first asked for (most calls read the codes of a few
        # types only): type -> code -> its resources in record order; id(resource) -> codes.
        self._by_code: dict[str, dict[CodeKey, list[Resource]]] = {}
        self._codes: dict[int, frozenset[CodeKey]] = {}
        for resource, full_url in entries:
            self._add(resource, full_url)

    def _add(self, resource: Resource, full_url: str | None) -> None:
        resource_type = resource.get("resourceType")
        if not isinstance(resource_type, str):
            return
        resource_id = resource.get("id")
        if isinstance(resource_id, str):
            if (resource_type, resource_id) in self._by_id:
                return  # the same resource reached us through two prefetch keys
            self._by_id[(resource_type, resource_id)] = resource
        if full_url:
            self._by_full_url[full_url] = resource
        self._by_type[resource_type].append(resource)
        self._position[id(resource)] = len(self._position)

    def _coded(self, resource_type: str) -> dict[CodeKey, list[Resource]]:
        index = self._by_code.get(resource_type)
        if index is not None:
            return index
        index = self._by_code[resource_type] = defaultdict(list)
        paths = PRIMARY_CODE_PATHS.get(resource_type)
        normalize = self._normalize
        for resource in self._by_type.get(resource_type, ()):
            keys = (
                frozenset(
                    normalize(system, code)
                    for path in paths
                    for system, code in codings(resource.get(path))
                )
                if paths
                else _NO_CODES
            )
            self._codes[id(resource)] = keys
            for key in keys:
                index[key].append(resource)
        return index

    def of_type(self, resource_type: str) -> Sequence[Resource]:
        return self._by_type.get(resource_type, ())

    def get(self, resource_type: str, resource_id: str) -> Resource | None:
        return self._by_id.get((resource_type, resource_id))

    def with_code(self, system: str, code: str, resource_type: str | None = None) -> list[Resource]:
        key = self._normalize(system, code)
        if resource_type is not None:
            return list(self._coded(resource_type).get(key, ()))
        found = [r for kind in list(self._by_type) for r in self._coded(kind).get(key, ())]
        return sorted(found, key=lambda resource: self._position[id(resource)])

    def with_any_code(self, keys: Iterable[CodeKey], resource_type: str) -> list[Resource]:
        """Resources of a type with any of `keys` (normalised), once each, in record order."""
        index = self._coded(resource_type)
        seen: dict[int, Resource] = {}
        for key in keys:
            for resource in index.get(key, ()):
                seen.setdefault(id(resource), resource)
        return sorted(seen.values(), key=lambda resource: self._position[id(resource)])

    def codes(self, resource: Resource) -> frozenset[CodeKey]:
        """The normalised codes of a resource's primary code path (empty if not in the record)."""
        if id(resource) not in self._position:
            return _NO_CODES
        self._coded(str(resource.get("resourceType")))
        return self._codes.get(id(resource), _NO_CODES)

    def resolve(self, reference: object, within: Resource | None = None) -> Resource | None:
        """The resource a FHIR Reference (or reference string) points at, if the record holds it."""
        target = reference.get("reference") if isinstance(reference, dict) else reference
        if not isinstance(target, str) or not target:
            return None
        if target.startswith("#"):
            return _contained(within, target[1:])
        if target in self._by_full_url:
            return self._by_full_url[target]
        parts = [part for part in target.split("/") if part]
        if "_history" in parts:
            parts = parts[: parts.index("_history")]
        if len(parts) >= 2:
            return self._by_id.get((parts[-2], parts[-1]))
        return None

    def __len__(self) -> int:
        return sum(len(resources) for resources in self._by_type.values())


_NO_CODES: frozenset[CodeKey] = frozenset()


def codings(concept: Any) -> list[tuple[str, str]]:
    """The (system, code) of each coding of a CodeableConcept that has both."""
    if not isinstance(concept, dict):
        return []
    listed = concept.get("coding")
    if not isinstance(listed, list):  # not an array: invalid, no codes
        return []
    found = []
    for coding in listed:
        if isinstance(coding, dict):
            system, code = coding.get("system"), coding.get("code")
            if isinstance(system, str) and isinstance(code, str):
                found.append((system, code))
    return found


def _contained(within: Resource | None, local_id: str) -> Resource | None:
    if within is None:
        return None
    for resource in within.get("contained") or []:
        if isinstance(resource, dict) and resource.get("id") == local_id:
            return resource
    return None
