"""The questionnaire package (DTR STU 2 `$questionnaire-package`): the Questionnaire first, every
Library it needs (cqf-library and, recursively, `depends-on`; DTR oper-12), every ValueSet its
items name or its libraries use (oper-14; the libraries name theirs as `depends-on`), and the
pre-filled QuestionnaireResponse, in one Bundle, under the output names of the DTR version in
use (service/dtr/versions.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from service.dtr.content import CQF_LIBRARY, ContentStore, last_updated
from service.dtr.prefill import ResponseContext, prefilled_response
from service.dtr.versions import DtrVersion
from service.types import JsonObject, Resource


def package_bundle(
    store: ContentStore,
    questionnaire: Resource,
    prefill: Mapping[str, Any],
    about: ResponseContext,
    authored: datetime,
) -> Resource:
    libraries = _libraries(store, questionnaire)
    resources = [
        questionnaire,
        *libraries,
        *_value_sets(store, questionnaire, libraries),
        prefilled_response(questionnaire, prefill, store, about, authored),
    ]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


# (severity, code, text) of an OperationOutcome issue.
Issue = tuple[str, str, str]


def package_parameters(
    bundle: Resource | None, version: DtrVersion, issues: list[Issue]
) -> JsonObject:
    parameters: list[JsonObject] = []
    if bundle is not None:
        parameters.append({"name": version.package_parameter, "resource": bundle})
    if issues:
        outcome = {
            "resourceType": "OperationOutcome",
            "issue": [
                {"severity": severity, "code": code, "diagnostics": text}
                for severity, code, text in issues
            ],
        }
        parameters.append({"name": version.outcome_parameter, "resource": outcome})
    return {"resourceType": "Parameters", "parameter": parameters}


def changed_at(store: ContentStore, questionnaire: Resource) -> datetime:
    """When the newest artifact of this questionnaire's package last changed (`changedsince`)."""
    libraries = _libraries(store, questionnaire)
    artifacts = [questionnaire, *libraries, *_value_sets(store, questionnaire, libraries)]
    return max(last_updated(artifact) for artifact in artifacts)


def _libraries(store: ContentStore, questionnaire: Resource) -> list[Resource]:
    pending = [
        e["valueCanonical"] for e in questionnaire.get("extension", []) if e["url"] == CQF_LIBRARY
    ]
    found: dict[str, Resource] = {}
    while pending:
        canonical = pending.pop()
        library = store.by_url("Library", canonical)
        if library is None or library["id"] in found:
            continue
        found[library["id"]] = library
        pending += [
            a["resource"] for a in library.get("relatedArtifact", []) if a["type"] == "depends-on"
        ]
    return list(found.values())


def _value_sets(
    store: ContentStore, questionnaire: Resource, libraries: list[Resource]
) -> list[Resource]:
    urls: list[str] = []

    def walk(items: list[Resource]) -> None:
        for item in items:
            if item.get("answerValueSet") and item["answerValueSet"] not in urls:
                urls.append(item["answerValueSet"])
            walk(item.get("item", []))

    walk(questionnaire.get("item", []))
    for library in libraries:
        for artifact in library.get("relatedArtifact", []):
            canonical = artifact.get("resource", "")
            if artifact.get("type") == "depends-on" and "/ValueSet/" in canonical:
                if canonical not in urls:
                    urls.append(canonical)
    found = {}
    for url in urls:
        value_set = store.by_url("ValueSet", url)
        if value_set is not None:
            found[value_set["id"]] = value_set
    return list(found.values())
