"""The pre-filled, in-progress QuestionnaireResponse (DTR STU 2 "Pre-population", SDC): each
question the evaluation could answer carries that answer with the DTR `information-origin`
extension (source `auto`); the questions the record left unknown stay unanswered."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from service.dtr.content import ContentStore
from service.types import JsonObject, Resource

INFORMATION_ORIGIN = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/information-origin"
QR_PROFILE = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-questionnaireresponse"
# The CRD coverage-assertion-id a response belongs to travels as a meta tag, so the completed
# response can be linked back to the assertion and its order.
ASSERTION_TAG = "urn:davinci-crd:coverage-assertion-id"


def prefilled_response(
    questionnaire: Resource,
    prefill: Mapping[str, Any],
    store: ContentStore,
    subject: str | None,
    assertion_id: str | None = None,
) -> Resource:
    response: Resource = {
        "resourceType": "QuestionnaireResponse",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [QR_PROFILE]},
        "questionnaire": f"{questionnaire['url']}|{questionnaire['version']}",
        "status": "in-progress",
        "authored": datetime.now(UTC).isoformat(timespec="seconds"),
        "item": _items(questionnaire.get("item", []), prefill, store),
    }
    if subject:
        response["subject"] = {"reference": subject}
    if assertion_id:
        response["meta"]["tag"] = [{"system": ASSERTION_TAG, "code": assertion_id}]
    return response


def assertion_of(response: Resource) -> str | None:
    for tag in (response.get("meta") or {}).get("tag") or []:
        if isinstance(tag, dict) and tag.get("system") == ASSERTION_TAG:
            code = tag.get("code")
            return code if isinstance(code, str) else None
    return None


def _items(
    items: list[Resource], prefill: Mapping[str, Any], store: ContentStore
) -> list[JsonObject]:
    found: list[JsonObject] = []
    for item in items:
        if item["type"] == "display":
            continue
        entry: JsonObject = {"linkId": item["linkId"], "text": item.get("text")}
        if item["type"] == "group":
            entry["item"] = _items(item.get("item", []), prefill, store)
        else:
            answer = _answer(item, prefill.get(item["linkId"]), store)
            if answer is not None:
                entry["answer"] = [answer]
        found.append(entry)
    return found


def _answer(item: Resource, value: Any, store: ContentStore) -> JsonObject | None:
    typed = _typed(item, value, store)
    if typed is None:
        return None
    origin = {"url": INFORMATION_ORIGIN, "extension": [{"url": "source", "valueCode": "auto"}]}
    return {**typed, "extension": [origin]}


def _typed(item: Resource, value: Any, store: ContentStore) -> JsonObject | None:
    if value is None:
        return None
    kind = item["type"]
    if kind == "decimal":
        return {"valueDecimal": float(round(float(value), 2))}
    if kind == "integer":
        return {"valueInteger": int(value)}
    if kind == "boolean":
        return {"valueBoolean": bool(value)}
    if kind == "date":
        return {"valueDate": str(value)[:10]}
    if kind in ("choice", "open-choice"):
        coding = _coding(item, value, store)
        return None if coding is None else {"valueCoding": coding}
    return {"valueString": str(value)}


def _coding(item: Resource, value: Any, store: ContentStore) -> JsonObject | None:
    if isinstance(value, dict):
        # A code the item offers as an option comes back with the option's display.
        for option in item.get("answerOption", []):
            offered = option.get("valueCoding", {})
            if (offered.get("system"), offered.get("code")) == (
                value.get("system"),
                value.get("code"),
            ):
                return dict(offered)
        return {k: v for k, v in value.items() if v is not None}
    value_set = store.by_url("ValueSet", item.get("answerValueSet", ""))
    for concept in (value_set or {}).get("expansion", {}).get("contains", []):
        if concept["code"] == value:
            return {k: concept[k] for k in ("system", "code", "display") if concept.get(k)}
    return None
