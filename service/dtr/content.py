"""The FHIR content this service publishes, built once at start-up from the policy folders and
the CQL directory: Questionnaires, ValueSets (expanded when they enumerate their codes, DTR
oper-15), CodeSystems, and a Library per CQL library carrying both the CQL and its ELM (DTR
oper-13), with versioned `depends-on` links to the libraries it includes."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from service.errors import ConfigurationError
from service.policy.folder import Policy
from service.types import Resource

TYPES = ("Questionnaire", "Library", "ValueSet", "CodeSystem")


@dataclass
class ContentStore:
    by_id: dict[tuple[str, str], Resource] = field(default_factory=dict)

    def add(self, resource: Resource) -> None:
        key = (resource["resourceType"], resource["id"])
        if key in self.by_id:
            raise ConfigurationError(f"two {key[0]} resources with id {key[1]!r}")
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


def load_content(policies: Sequence[Policy], cql_dir: Path) -> ContentStore:
    store = ContentStore()
    for policy in policies:
        for path in sorted(policy.folder.glob("Questionnaire-*.json")):
            store.add(json.loads(path.read_text()))
        for path in sorted((policy.folder / "terminology").glob("CodeSystem-*.json")):
            store.add(json.loads(path.read_text()))
        for url in policy.terminology.urls():
            value_set = policy.terminology.value_set(url)
            assert value_set is not None
            store.add(_expanded(value_set))
    base = policies[0].canonical_base if policies else ""
    for elm_path in sorted((cql_dir / "elm").glob("*.json")):
        store.add(_library(elm_path, cql_dir, base))
    return store


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


def _library(elm_path: Path, cql_dir: Path, base: str) -> Resource:
    elm = json.loads(elm_path.read_text())["library"]
    name, version = elm["identifier"]["id"], elm["identifier"].get("version")
    cql_path = cql_dir / f"{name}.cql"
    includes = (elm.get("includes") or {}).get("def", [])
    return {
        "resourceType": "Library",
        "id": name,
        "url": f"{base}/Library/{name}",
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
            {"type": "depends-on", "resource": f"{base}/Library/{i['path']}|{i.get('version')}"}
            for i in includes
        ],
        "content": [
            {"contentType": "text/cql", "data": _base64(cql_path.read_bytes())},
            {"contentType": "application/elm+json", "data": _base64(elm_path.read_bytes())},
        ],
    }


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode()
