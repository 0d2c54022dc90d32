"""Every value of an evaluation as people read it, in the policy's words: the one display of a
criterion's status and value for cards, `$evaluate`, the workbench and the SMART app (a yes/no
as "Yes", a code by its display in the policy's terminology, an amount to the places the policy
gives with its unit's display), and the typed FHIR value `$evaluate` sends beside it. A display
is for people only: decisions read the evaluation's own values, at full precision, never these
words.

Values come as the evaluation holds them (bool, Decimal, int, date, a code or a Coding) or as its
stored JSON holds them (decimals and dates as strings)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from service.policy.contract import ValueKind, ValueType
from service.policy.folder import Policy
from service.types import JsonObject

UCUM = "http://unitsofmeasure.org"


def status_words(policy: Policy, status: str) -> str:
    words = policy.words.status
    return {"met": words.met, "not-met": words.not_met, "unknown": words.unknown}.get(
        status, status
    )


def path_words(policy: Policy, path_id: str) -> str:
    return policy.words.paths.get(path_id, path_id)


def value_display(policy: Policy, criterion_id: str, value: Any) -> str | None:
    """A criterion's value in the policy's words; None when it has none."""
    if value is None:
        return None
    kind = _value_type(policy, criterion_id)
    if isinstance(value, bool):
        return policy.words.yes if value else policy.words.no
    if kind.kind is ValueKind.CODING:
        return code_display(policy, kind.system or "", value)
    if kind.kind is ValueKind.QUANTITY and kind.unit is not None:
        return quantity_display(policy, value, kind.unit, kind.decimals)
    if isinstance(value, Decimal):
        return number(value, kind.decimals)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def criterion_state(policy: Policy, criterion_id: str, status: str, value: Any) -> str:
    """A criterion's status in words; a yes/no criterion that is known says its answer."""
    if status != "unknown" and isinstance(value, bool):
        return policy.words.yes if value else policy.words.no
    return status_words(policy, status)


def criterion_text(policy: Policy, criterion_id: str, status: str, value: Any) -> str:
    """ "<label>: <state>", with the value in brackets where the state does not already say it;
    a value the evaluation has while the criterion is not known yet is called what it is so far."""
    label = policy.criterion_label(criterion_id)
    text = f"{label}: {criterion_state(policy, criterion_id, status, value)}"
    shown = None if isinstance(value, bool) else value_display(policy, criterion_id, value)
    if shown is None:
        return text
    if status == "unknown":
        if str(value) in _value_type(policy, criterion_id).says_nothing:
            return text
        return f"{text} ({policy.words.suggested}: {shown})"
    return f"{text} ({shown})"


def typed_value(policy: Policy, criterion_id: str, value: Any) -> JsonObject | None:
    """The value as a FHIR Parameters part element: valueBoolean, valueCoding with its display,
    valueQuantity with its UCUM code, valueInteger, valueDate or valueString."""
    if value is None:
        return None
    kind = _value_type(policy, criterion_id)
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if kind.kind is ValueKind.CODING:
        system, code = _coded(kind.system or "", value)
        coding = {"system": system, "code": code}
        display = policy.displays.get((system, code))
        return {"valueCoding": coding | ({"display": display} if display else {})}
    if kind.kind is ValueKind.QUANTITY and kind.unit is not None:
        return {"valueQuantity": quantity(policy, _decimal(value), kind.unit)}
    if kind.kind is ValueKind.INTEGER or isinstance(value, int):
        return {"valueInteger": int(value)}
    if kind.kind is ValueKind.DATE or isinstance(value, date):
        return {"valueDate": value.isoformat() if isinstance(value, date) else str(value)}
    return {"valueString": str(value)}


def quantity(policy: Policy, amount: Decimal, unit: str) -> JsonObject:
    """A FHIR Quantity: the amount at full precision, the unit as people read it, its UCUM code."""
    declared = policy.evaluation.units.get(unit)
    shown = declared.display if declared is not None else unit
    return {"value": float(amount), "unit": shown, "system": UCUM, "code": unit}


def quantity_display(policy: Policy, amount: Any, unit: str, decimals: int = 2) -> str:
    declared = policy.evaluation.units.get(unit)
    shown = declared.display if declared is not None else unit
    return f"{number(amount, decimals)} {shown}"


def code_display(policy: Policy, system: str, value: Any) -> str:
    system, code = _coded(system, value)
    return policy.displays.get((system, code), code)


def answer_display(policy: Policy | None, answer: JsonObject) -> str:
    """A questionnaire answer (`QuestionnaireResponse.item.answer`) in words."""
    for key, value in answer.items():
        if not key.startswith("value"):
            continue
        if isinstance(value, bool):
            return _yes_no(policy, value)
        if isinstance(value, dict) and "code" in value:
            display = value.get("display")
            if not display and policy is not None:
                display = policy.displays.get((str(value.get("system")), str(value["code"])))
            return str(display or value["code"])
        if isinstance(value, dict) and "value" in value:
            unit = value.get("unit") or value.get("code") or ""
            return f"{number(value['value'])} {unit}".strip()
        if isinstance(value, (int, float)):
            return number(value, 6)
        return str(value)
    return ""


def number(value: Any, decimals: int = 2) -> str:
    """A number to at most `decimals` places, without trailing zeros ("72", "1.04")."""
    try:
        exact = Decimal(str(value))
        return f"{exact.quantize(Decimal(1).scaleb(-decimals)).normalize():f}"
    except (InvalidOperation, ValueError):  # not a number, or too many digits to round
        return str(value)


def _yes_no(policy: Policy | None, value: bool) -> str:
    if policy is None:
        return "Yes" if value else "No"
    return policy.words.yes if value else policy.words.no


def _value_type(policy: Policy, criterion_id: str) -> ValueType:
    found = policy.evaluation.criterion(criterion_id)
    return found.value if found is not None else ValueType(kind=ValueKind.STRING)


def _coded(system: str, value: Any) -> tuple[str, str]:
    if isinstance(value, dict):
        return str(value.get("system") or system), str(value.get("code"))
    return system, str(value)


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))
