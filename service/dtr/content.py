"""The FHIR content this service publishes, built once at start-up from the policy folders and
the CQL directory: Questionnaires (with a generated narrative when the file has none: `text` is
1..1 in DTR's standard Questionnaire profile), ValueSets (expanded when they enumerate their
codes, DTR oper-15), CodeSystems, and a Library per CQL library carrying both the CQL and its ELM
(DTR oper-13), with version-specific `depends-on` links (oper-16) to the libraries it includes and
the ValueSets it uses, its `dataRequirement` (what it retrieves, so a DTR client knows what to
query) and its `parameter`s. Every resource's `meta.lastUpdated` is when its files last changed
(the `changedsince` of `$questionnaire-package`)."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.errors import ConfigurationError
from service.policy.canonical import Rebase, rebase_of
from service.policy.folder import Policy
from service.types import Resource

TYPES = ("Questionnaire", "Library", "ValueSet", "CodeSystem")
CQF_LIBRARY = "http://hl7.org/fhir/StructureDefinition/cqf-library"


@dataclass
class ContentStore:
    by_id: dict[tuple[str, str], Resource] = field(default_factory=dict)

    def add(self, resource: Resource) -> None:
        """Two policies may share a resource (the same ValueSet, written the same); two
        different resources under one id stop start-up."""
        key = (resource["resourceType"], resource["id"])
        if key in self.by_id:
            if _content(self.by_id[key]) == _content(resource):
                return
            raise ConfigurationError(f"two different {key[0]} resources with id {key[1]!r}")
        self.by_id[key] = resource

    def read(self, resource_type: str, resource_id: str) -> Resource | None:
        return self.by_id.get((resource_type, resource_id))

    def by_url(self, resource_type: str, canonical: str) -> Resource | None:
        url, _, version = canonical.partition("|")
        for (kind, _), resource in self.by_id.items():
            if kind == resource_type and resource.get("url") == url:
                if not version or resource.get("version") == version:
                    return resource
        return None

    def all(self, resource_type: str) -> list[Resource]:
        return [r for (kind, _), r in sorted(self.by_id.items()) if kind == resource_type]


def load_content(policies: Sequence[Policy], shared_cql_dir: Path, base: str) -> ContentStore:
    """A policy's content, its own Library included, is published under its `canonical_base`
    (service/policy/canonical.py); the shared libraries (`shared_cql_dir`: FHIRHelpers) under
    `base`, the service's own canonical base."""
    store = ContentStore()
    for policy in policies:
        rebase = rebase_of(policy)
        for path in sorted(policy.folder.glob("Questionnaire-*.json")):
            questionnaire = rebase.resource(json.loads(path.read_text()))
            store.add(_with_narrative(_stamped(questionnaire, path)))
        for path in sorted((policy.folder / "terminology").glob("CodeSystem-*.json")):
            store.add(_stamped(rebase.resource(json.loads(path.read_text())), path))
        for url in policy.terminology.urls():
            value_set = policy.terminology.value_set(url)
            assert value_set is not None
            source = policy.folder / "terminology" / f"ValueSet-{value_set['id']}.json"
            store.add(_stamped(rebase.resource(_expanded(value_set)), source))
    libraries = [(shared_cql_dir, Rebase(base, base))]
    libraries += [(policy.cql_dir, rebase_of(policy)) for policy in policies]
    for cql_dir, rebase in libraries:
        for elm_path in sorted((cql_dir / "elm").glob("*.json")):
            store.add(_library(elm_path, cql_dir, rebase, store))
    _check_cqf_libraries(store)
    return store


def library_url(base: str, name: str, version: str | None) -> str:
    """A Library's canonical URL names its version (docs/decisions/0009): each version is its own
    resource at its own URL, so the Questionnaire's `cqf-library` is both version-specific (DTR
    oper-16) and the very string in `Library.url`, which is how DTR clients and the DTR test kit
    find the library in a package."""
    return f"{base}/Library/{name}-{version}" if version else f"{base}/Library/{name}"


def _check_cqf_libraries(store: ContentStore) -> None:
    urls = {library["url"] for library in store.all("Library")}
    for questionnaire in store.all("Questionnaire"):
        for extension in questionnaire.get("extension", []):
            if extension["url"] != CQF_LIBRARY:
                continue
            if extension.get("valueCanonical") not in urls:
                raise ConfigurationError(
                    f"Questionnaire {questionnaire['id']}: cqf-library "
                    f"{extension.get('valueCanonical')!r} is not the url of a published Library "
                    f"(one of {sorted(urls)})"
                )


def _content(resource: Resource) -> Resource:
    return {k: v for k, v in resource.items() if k != "meta"}


def last_updated(resource: Resource) -> datetime:
    return datetime.fromisoformat(resource["meta"]["lastUpdated"])


def _stamped(resource: Resource, *sources: Path) -> Resource:
    # Content changes when its files do: the newest source's time, never the clock's.
    moment = datetime.fromtimestamp(max(path.stat().st_mtime for path in sources), UTC)
    meta = {**resource.get("meta", {}), "lastUpdated": moment.isoformat(timespec="seconds")}
    return {**resource, "meta": meta}


def _with_narrative(questionnaire: Resource) -> Resource:
    if questionnaire.get("text"):
        return questionnaire
    lines = "".join(
        f"<li>{html.escape(str(item.get('text') or item['linkId']))}</li>"
        for item in _walk_items(questionnaire.get("item", []))
        if item.get("type") != "display"
    )
    title = html.escape(str(questionnaire.get("title") or questionnaire.get("name", "")))
    div = f'<div xmlns="http://www.w3.org/1999/xhtml"><p><b>{title}</b></p><ul>{lines}</ul></div>'
    return {**questionnaire, "text": {"status": "generated", "div": div}}


def _walk_items(items: list[Resource]) -> Iterator[Resource]:
    for item in items:
        yield item
        yield from _walk_items(item.get("item", []))


def _expanded(value_set: Resource) -> Resource:
    includes = value_set.get("compose", {}).get("include", [])
    if any("filter" in include or "valueSet" in include for include in includes):
        return value_set
    contains = [
        {"system": include["system"], "code": c["code"], "display": c.get("display")}
        for include in includes
        for c in include.get("concept", [])
    ]
    expansion = {"timestamp": "2023-06-30T00:00:00Z", "total": len(contains), "contains": contains}
    return {**value_set, "expansion": expansion}


def _library(elm_path: Path, cql_dir: Path, rebase: Rebase, store: ContentStore) -> Resource:
    base = rebase.published
    elm_text = rebase.text(elm_path.read_text())
    elm = json.loads(elm_text)["library"]
    name, version = elm["identifier"]["id"], elm["identifier"].get("version")
    cql_path = cql_dir / f"{name}.cql"
    cql_text = rebase.text(cql_path.read_text())
    includes = (elm.get("includes") or {}).get("def", [])
    value_sets = {d["name"]: d["id"] for d in (elm.get("valueSets") or {}).get("def", [])}
    url = library_url(base, name, version)
    library: Resource = {
        "resourceType": "Library",
        "id": url.rpartition("/")[2],
        "url": url,
        "version": version,
        "name": name,
        "status": "active",
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/library-type",
                    "code": "logic-library",
                }
            ]
        },
        "relatedArtifact": [
            *({"type": "depends-on", "resource": _library_reference(base, i)} for i in includes),
            *(
                {"type": "depends-on", "resource": _versioned(store, url)}
                for url in value_sets.values()
            ),
        ],
        "parameter": [_parameter(d) for d in (elm.get("parameters") or {}).get("def", [])],
        "dataRequirement": _data_requirements(elm, value_sets, store),
        "content": [
            {"contentType": "text/cql", "data": _base64(cql_text.encode())},
            {"contentType": "application/elm+json", "data": _base64(elm_text.encode())},
        ],
    }
    if not library["parameter"]:
        del library["parameter"]
    if not library["dataRequirement"]:
        del library["dataRequirement"]
    return _stamped(library, cql_path, elm_path)


def _library_reference(base: str, include: dict[str, Any]) -> str:
    version = include.get("version")
    url = library_url(base, include["path"], version)
    return f"{url}|{version}" if version else url


def _versioned(store: ContentStore, url: str) -> str:
    value_set = store.by_url("ValueSet", url)
    version = value_set.get("version") if value_set is not None else None
    return f"{url}|{version}" if version else url


# ELM system types of parameters -> FHIR types of ParameterDefinition.type
_FHIR_TYPES = {
    "String": "string",
    "Boolean": "boolean",
    "Integer": "integer",
    "Decimal": "decimal",
    "Date": "date",
    "DateTime": "dateTime",
}


def _parameter(definition: dict[str, Any]) -> Resource:
    specifier = definition.get("parameterTypeSpecifier") or {}
    elm_type = str(specifier.get("name", "")).rpartition("}")[2]
    found: Resource = {
        "name": definition["name"],
        "use": "in",
        "min": 0,
        "max": "1",
        "type": _FHIR_TYPES.get(elm_type, "string"),
    }
    if definition.get("default"):
        found["documentation"] = "Optional: the library has a default."
    return found


def _data_requirements(
    elm: dict[str, Any], value_sets: dict[str, str], store: ContentStore
) -> list[Resource]:
    """One per distinct retrieve: its FHIR type and, when it filters by a ValueSet, that filter."""
    found: dict[tuple[str, str | None, str | None], Resource] = {}
    for retrieve in _retrieves(elm.get("statements", {})):
        kind = str(retrieve.get("dataType", "")).rpartition("}")[2]
        codes = retrieve.get("codes") or {}
        url = value_sets.get(codes.get("name", "")) if codes.get("type") == "ValueSetRef" else None
        path = retrieve.get("codeProperty") if url else None
        requirement: Resource = {"type": kind}
        if url and path:
            requirement["codeFilter"] = [{"path": path, "valueSet": _versioned(store, url)}]
        found.setdefault((kind, path, url), requirement)
    return [found[key] for key in sorted(found, key=lambda k: (k[0], k[1] or "", k[2] or ""))]


def _retrieves(node: object) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("type") == "Retrieve":
            yield node
        for value in node.values():
            yield from _retrieves(value)
    elif isinstance(node, list):
        for value in node:
            yield from _retrieves(value)


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode()
