"""`Questionnaire/$questionnaire-package` (DTR STU 2): the Questionnaire first, every Library it
needs (cqf-library and, recursively, `depends-on`; DTR oper-12), the ValueSets its items name
(oper-14), and the pre-filled QuestionnaireResponse, in one `PackageBundle`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.dtr.content import ContentStore
from service.dtr.prefill import prefilled_response
from service.types import JsonObject, Resource

CQF_LIBRARY = "http://hl7.org/fhir/StructureDefinition/cqf-library"


def package_bundle(
    store: ContentStore,
    questionnaire: Resource,
    prefill: Mapping[str, Any],
    subject: str | None,
    assertion_id: str | None = None,
) -> Resource:
    resources = [
        questionnaire,
        *_libraries(store, questionnaire),
        *_value_sets(store, questionnaire),
        prefilled_response(questionnaire, prefill, store, subject, assertion_id),
    ]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def package_parameters(bundle: Resource) -> JsonObject:
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": "PackageBundle", "resource": bundle}],
    }


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


def _value_sets(store: ContentStore, questionnaire: Resource) -> list[Resource]:
    urls: list[str] = []

    def walk(items: list[Resource]) -> None:
        for item in items:
            if item.get("answerValueSet") and item["answerValueSet"] not in urls:
                urls.append(item["answerValueSet"])
            walk(item.get("item", []))

    walk(questionnaire.get("item", []))
    return [vs for url in urls if (vs := store.by_url("ValueSet", url)) is not None]
