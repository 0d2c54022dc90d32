"""A QuestionnaireResponse read against its Questionnaire (FHIR R4 QuestionnaireResponse
invariants, SDC enableWhen): known linkIds, answer types, answers from the answer value set, and,
when completed, every enabled required question answered. `answers_of` turns the answers into
the values the policy's CQL parameters take."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from service.dtr.content import ContentStore
from service.errors import Issue
from service.fhir.enable_when import enabled
from service.types import JsonObject, Resource

_VALUE_KEY = {
    "boolean": "valueBoolean",
    "decimal": "valueDecimal",
    "integer": "valueInteger",
    "date": "valueDate",
    "string": "valueString",
    "choice": "valueCoding",
}
# FHIR R4 open-choice: a coding from the options or, off the list, the text typed (for the
# diagnosis, an ICD-10-CM code written out; the policy's CQL reads it as the code).
_OPEN_CHOICE_KEYS = ("valueCoding", "valueString")


def questions(questionnaire: Resource) -> dict[str, Resource]:
    found: dict[str, Resource] = {}

    def walk(items: list[Resource]) -> None:
        for item in items:
            if item["type"] not in ("group", "display"):
                found[item["linkId"]] = item
            walk(item.get("item", []))

    walk(questionnaire.get("item", []))
    return found


def answered(response: Resource) -> Iterator[tuple[str, JsonObject]]:
    def walk(items: list[Any]) -> Iterator[tuple[str, JsonObject]]:
        for item in items:
            if not isinstance(item, dict):
                continue
            for answer in item.get("answer") or []:
                if isinstance(answer, dict):
                    yield str(item.get("linkId")), answer
            yield from walk(item.get("item") or [])

    yield from walk(response.get("item") or [])


def answers_of(response: Resource, questionnaire: Resource) -> dict[str, Any]:
    known = questions(questionnaire)
    found: dict[str, Any] = {}
    for link_id, answer in answered(response):
        item = known.get(link_id)
        key = _answer_key(item, answer) if item else None
        if key is None or key not in answer:
            continue
        value = answer[key]
        if key == "valueCoding":
            value = value.get("code")
        elif key == "valueDecimal":
            value = Decimal(str(value))
        elif key == "valueString":
            value = value.strip()
        found[link_id] = value
    return found


def response_issues(
    response: Resource, questionnaire: Resource, store: ContentStore
) -> list[Issue]:
    issues = []
    known = questions(questionnaire)
    for link_id, answer in answered(response):
        item = known.get(link_id)
        if item is None:
            issues.append(
                Issue(
                    f"linkId {link_id!r} is not a question of {questionnaire['url']}",
                    expression=(f"QuestionnaireResponse.item.where(linkId='{link_id}')",),
                )
            )
            continue
        issues += _answer_issues(link_id, item, answer, store)
    if issues:
        return issues  # the answers are not readable as values: report what is wrong with them
    if response.get("status") == "completed":
        values = answers_of(response, questionnaire)
        for link_id, item in known.items():
            if item.get("required") and link_id not in values and enabled(item, values):
                issues.append(
                    Issue(
                        f"{link_id} is required",
                        code="required",
                        expression=(f"QuestionnaireResponse.item.where(linkId='{link_id}')",),
                    )
                )
    return issues


def _is_coding(value: object) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("code"), str)
        and all(isinstance(value.get(k, ""), str) for k in ("system", "version", "display"))
    )


# What each answer type's value must be in JSON (FHIR R4 JSON: a decimal is a number, a date
# YYYY-MM-DD, a boolean never 0 or 1).
_VALUE_CHECKS: dict[str, Callable[[object], bool]] = {
    "valueBoolean": lambda v: isinstance(v, bool),
    "valueDecimal": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "valueInteger": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "valueDate": lambda v: isinstance(v, str) and len(v) == 10,
    "valueString": lambda v: isinstance(v, str),
    "valueCoding": _is_coding,
}


def _answer_issues(
    link_id: str, item: Resource, answer: JsonObject, store: ContentStore
) -> list[Issue]:
    key = _answer_key(item, answer)
    given = [k for k in answer if k.startswith("value")]
    if key is None or given != [key]:
        return [Issue(f"{link_id} needs one {key or item['type']} answer, not {given}")]
    value = answer[key]
    if not _VALUE_CHECKS[key](value):
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        return [Issue(f"{link_id}: {shown} is not a valid {key}")]
    if key == "valueCoding" and item.get("answerValueSet"):
        return _outside_value_set(link_id, item["answerValueSet"], value, store)
    return []


def _outside_value_set(
    link_id: str, url: str, value: JsonObject, store: ContentStore
) -> list[Issue]:
    allowed = store.by_url("ValueSet", url) or {}
    codes = {(c["system"], c["code"]) for c in allowed.get("expansion", {}).get("contains", [])}
    if codes and (value.get("system"), value["code"]) not in codes:
        return [
            Issue(
                f"{link_id}: {value.get('code')!r} is not one of the allowed answers",
                code="code-invalid",
            )
        ]
    return []


def _answer_key(item: Resource, answer: JsonObject) -> str | None:
    if item["type"] == "open-choice":
        return next((k for k in _OPEN_CHOICE_KEYS if k in answer), "valueCoding")
    return _VALUE_KEY.get(item["type"])
