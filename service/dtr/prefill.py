"""The pre-filled, in-progress QuestionnaireResponse (DTR STU 2 "Pre-population", SDC), shaped as
the DTR QuestionnaireResponse profile of the version in use asks: its `subject`, the Coverage and
the order it is about (`qr-context`; 2.2: the Coverage in `qr-coverage`), its `intendedUse` (the
CRD documentation purpose), and each question the evaluation could answer with that answer and
the DTR `information-origin` extension (2.0.1 source `auto`, 2.2 `auto-server`). The questions
the record left unknown stay unanswered."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.dtr.content import ContentStore
from service.dtr.versions import DEFAULT, DTR_PROFILES, QR_COVERAGE, DtrVersion
from service.types import JsonObject, Resource

INFORMATION_ORIGIN = f"{DTR_PROFILES}information-origin"
QR_PROFILE = f"{DTR_PROFILES}dtr-questionnaireresponse"
QR_CONTEXT = f"{DTR_PROFILES}qr-context"
INTENDED_USE = f"{DTR_PROFILES}intendedUse"
# The CRD coverage-assertion-id a response belongs to travels as a meta tag, so the completed
# response can be linked back to the assertion and its order.
ASSERTION_TAG = "urn:davinci-crd:coverage-assertion-id"


@dataclass(frozen=True)
class ResponseContext:
    """What a response is about: the patient (`Patient/...`), the Coverage and the order as the
    EHR names them, the CRD assertion, and the purpose of the documentation (a CRD DocReason
    code: the policy's `docPurpose`)."""

    subject: str | None
    coverage: str | None = None
    order: str | None = None
    assertion_id: str | None = None
    intended_use: str | None = None
    version: DtrVersion = DEFAULT


def prefilled_response(
    questionnaire: Resource,
    prefill: Mapping[str, Any],
    store: ContentStore,
    context: ResponseContext,
    authored: datetime,
) -> Resource:
    version = context.version
    response: Resource = {
        "resourceType": "QuestionnaireResponse",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [QR_PROFILE]},
        "questionnaire": f"{questionnaire['url']}|{questionnaire['version']}",
        "status": "in-progress",
        "authored": authored.isoformat(timespec="seconds"),
        "item": _items(questionnaire.get("item", []), prefill, store, version.auto_origin),
    }
    extensions = _context_extensions(context)
    if extensions:
        response["extension"] = extensions
    if context.subject:
        response["subject"] = {"reference": context.subject}
    if context.assertion_id:
        response["meta"]["tag"] = [{"system": ASSERTION_TAG, "code": context.assertion_id}]
    return response


def _context_extensions(context: ResponseContext) -> list[JsonObject]:
    version = context.version
    found: list[JsonObject] = []
    if context.coverage:
        url = QR_COVERAGE if version.coverage_in_qr_coverage else QR_CONTEXT
        found.append({"url": url, "valueReference": {"reference": context.coverage}})
    if context.order:
        found.append({"url": QR_CONTEXT, "valueReference": {"reference": context.order}})
    if context.intended_use:
        coding = {"system": version.intended_use_system, "code": context.intended_use}
        found.append({"url": INTENDED_USE, "valueCodeableConcept": {"coding": [coding]}})
    return found


def assertion_of(response: Resource) -> str | None:
    for tag in (response.get("meta") or {}).get("tag") or []:
        if isinstance(tag, dict) and tag.get("system") == ASSERTION_TAG:
            code = tag.get("code")
            return code if isinstance(code, str) else None
    return None


def _items(
    items: list[Resource], prefill: Mapping[str, Any], store: ContentStore, origin: str
) -> list[JsonObject]:
    found: list[JsonObject] = []
    for item in items:
        if item["type"] == "display":
            continue
        entry: JsonObject = {"linkId": item["linkId"], "text": item.get("text")}
        if item["type"] == "group":
            entry["item"] = _items(item.get("item", []), prefill, store, origin)
        else:
            answer = _answer(item, prefill.get(item["linkId"]), store, origin)
            if answer is not None:
                entry["answer"] = [answer]
        found.append(entry)
    return found


def _answer(item: Resource, value: Any, store: ContentStore, source: str) -> JsonObject | None:
    typed = _typed(item, value, store)
    if typed is None:
        return None
    origin = {"url": INFORMATION_ORIGIN, "extension": [{"url": "source", "valueCode": source}]}
    return {**typed, "extension": [origin]}


def _typed(item: Resource, value: Any, store: ContentStore) -> JsonObject | None:
    if value is None:
        return None
    kind = item["type"]
    if kind == "decimal":
        # At full precision (SPEC section 3): 44.996 kg rounded to 45.00 would be judged by the
        # adult rule once the form comes back. Rounding is for display, in the form.
        return {"valueDecimal": float(value)}
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
        # The engine names codes as the policy folder wrote them; the published answer value
        # set names them as they leave the service (service/policy/canonical.py).
        offered = _offered(item, value.get("code"), store)
        return offered or {k: v for k, v in value.items() if v is not None}
    return _offered(item, value, store)


def _offered(item: Resource, code: Any, store: ContentStore) -> JsonObject | None:
    value_set = store.by_url("ValueSet", item.get("answerValueSet", ""))
    for concept in (value_set or {}).get("expansion", {}).get("contains", []):
        if concept["code"] == code:
            return {k: concept[k] for k in ("system", "code", "display") if concept.get(k)}
    return None
