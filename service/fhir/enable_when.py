"""Which questions of a Questionnaire are enabled by the answers given (FHIR R4
`Questionnaire.item.enableWhen`, `enableBehavior`), and so which ones a form still asks."""

from __future__ import annotations

import operator
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from service.types import Resource

# Items that are not questions: nothing to answer.
_NOT_ASKED = {"group", "display"}


def asked(items: Sequence[Resource], answers: Mapping[str, Any]) -> list[Resource]:
    """The questions a form asks when `answers` (linkId -> value; None: not answered) are filled
    in: those left unanswered that the answers enable, in the form's order."""
    return [
        item
        for item in _questions(items)
        if answers.get(item["linkId"]) is None and enabled(item, answers)
    ]


def _questions(items: Sequence[Resource]) -> Iterator[Resource]:
    for item in items:
        if item.get("type") not in _NOT_ASKED and not item.get("readOnly"):
            yield item
        yield from _questions(item.get("item") or [])


def enabled(item: Resource, values: Mapping[str, Any]) -> bool:
    conditions = item.get("enableWhen") or []
    if not conditions:
        return True
    results = [_holds(condition, values) for condition in conditions]
    return all(results) if item.get("enableBehavior", "all") == "all" else any(results)


_OPERATORS = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


def _holds(condition: Resource, values: Mapping[str, Any]) -> bool:
    given = values.get(condition["question"])
    if condition["operator"] == "exists":
        return (given is not None) is bool(condition.get("answerBoolean", True))
    if given is None:
        return False
    wanted = next(v for k, v in condition.items() if k.startswith("answer"))
    if isinstance(wanted, dict):
        wanted = wanted.get("code")
    elif isinstance(wanted, float):
        wanted = Decimal(str(wanted))
    try:
        return bool(_OPERATORS[condition["operator"]](given, wanted))
    except TypeError:
        return False  # an answer of another type than the condition's: the item stays disabled
