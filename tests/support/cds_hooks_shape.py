"""The CDS Hooks 2.0 response rules our tests hold every answer to ("CDS Service Response",
"Card Attributes", "Suggestion", "Action", "Link"), with what the public CRD conformance kit
asks beyond them (systemActions present), returned as a list of problems."""

from __future__ import annotations

from typing import Any

INDICATORS = {"info", "warning", "critical"}
ACTION_TYPES = {"create", "update", "delete"}


def response_problems(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["response is not a JSON object"]
    problems: list[str] = []
    cards = body.get("cards")
    if not isinstance(cards, list):
        problems.append("cards is not an array")
        cards = []
    for index, card in enumerate(cards):
        problems += [f"cards[{index}]: {p}" for p in card_problems(card)]
    # Optional in CDS Hooks; the public CRD conformance kit fails answers without it.
    if not isinstance(body.get("systemActions"), list):
        problems.append("systemActions is not an array")
    for index, action in enumerate(body.get("systemActions") or []):
        problems += [f"systemActions[{index}]: {p}" for p in action_problems(action)]
    return problems


def card_problems(card: Any) -> list[str]:
    if not isinstance(card, dict):
        return ["not an object"]
    problems = []
    if not isinstance(card.get("uuid"), str) or not card["uuid"]:
        problems.append("no uuid")
    summary = card.get("summary")
    if not isinstance(summary, str) or not summary or len(summary) >= 140:
        problems.append(f"summary missing or not under 140 characters: {summary!r}")
    if card.get("indicator") not in INDICATORS:
        problems.append(f"indicator {card.get('indicator')!r}")
    source = card.get("source") or {}
    if not isinstance(source.get("label"), str) or not source["label"]:
        problems.append("no source.label")
    topic = source.get("topic") or {}
    if not (isinstance(topic.get("system"), str) and isinstance(topic.get("code"), str)):
        problems.append("no source.topic with system and code")
    if not isinstance(topic.get("display"), str) or not topic["display"]:
        problems.append("source.topic has no display (EHRs show it as the card's type)")
    if card.get("suggestions") and card.get("selectionBehavior") not in ("at-most-one", "any"):
        problems.append("suggestions without selectionBehavior (CDS Hooks: MUST)")
    for s_index, suggestion in enumerate(card.get("suggestions", [])):
        if not isinstance(suggestion.get("label"), str):
            problems.append(f"suggestions[{s_index}] has no label")
        for a_index, action in enumerate(suggestion.get("actions", [])):
            problems += [
                f"suggestions[{s_index}].actions[{a_index}]: {p}" for p in action_problems(action)
            ]
    for l_index, link in enumerate(card.get("links", [])):
        if not (
            link.get("label") and link.get("url") and link.get("type") in {"absolute", "smart"}
        ):
            problems.append(f"links[{l_index}] lacks label, url or a valid type")
    return problems


def action_problems(action: Any) -> list[str]:
    if not isinstance(action, dict):
        return ["not an object"]
    problems = []
    if action.get("type") not in ACTION_TYPES:
        problems.append(f"type {action.get('type')!r}")
    if not isinstance(action.get("description"), str) or not action["description"]:
        problems.append("no description")
    if action.get("type") in {"create", "update"} and not isinstance(action.get("resource"), dict):
        problems.append("create/update without a resource")
    return problems
