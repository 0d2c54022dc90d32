"""The cards an in-scope order gets (CRD "Potential CRD Response Types"), all read from the one
evaluation of the order:

- instructions (info, `coverage-info`): prior authorization is required; what the record already
  shows, criterion by criterion; what the form will ask; how to submit;
- limit (warning, `limits`): the ordered amount exceeds one of the policy's quantity limits for
  this patient, with the arithmetic and a suggestion that sets the amount to the limit;
- policy (info, `guideline`): an external-reference link to the policy document we publish;
- off-policy (warning, `off-guideline`): the policy's off-policy criterion is not met, so coverage
  needs medical-necessity review.

Each card is about one order (`davinci-crd.associated-resource`, and its detail names the drug).
Every word about a criterion or a limit, and every unit, comes from the policy's contract.
"""

from __future__ import annotations

import copy
import re
import uuid

from service.crd.assertions import off_policy_reason, order_reference, policy_url
from service.crd.cards import CardSource, card
from service.fhir.enable_when import asked
from service.policy.contract import QuantityLimit, Unit
from service.policy.display import (
    UCUM,
    criterion_text,
    number,
    quantity_display,
    value_display,
)
from service.policy.evaluation import Evaluation, LimitResult, Status
from service.policy.folder import Policy
from service.types import JsonObject, Resource


def instructions_card(
    source: CardSource, policy: Policy, evaluation: Evaluation, order: Resource
) -> JsonObject:
    lines = [
        f"**{policy.title}**: prior authorization is required before administration.",
        "",
        "What the patient's record already shows:",
    ]
    for c in evaluation.criteria.values():
        lines.append(f"- {criterion_text(policy, c.id, c.status.value, c.value)}")
        if c.discrepancy:
            lines.append(f"  - Flag: {policy.discrepancy_note(c.id)}")
    # The questions the form will ask: those the pre-fill of this same evaluation leaves open.
    questions = [
        str(q.get("text") or q["linkId"])
        for q in asked(policy.questionnaire_items, evaluation.prefill)
    ]
    if questions:
        lines += ["", "The prior-authorization form will ask: " + "; ".join(questions) + "."]
    lines += ["", f"How to submit: {policy.prior_authorization.submission}"]
    return card(
        source,
        "coverage-info",
        f"Prior authorization required: {policy.words.drug}",
        "info",
        "\n".join(lines),
        order_reference(order),
    )


def policy_card(source: CardSource, policy: Policy, order: Resource, base_url: str) -> JsonObject:
    built = card(
        source,
        "guideline",
        f"Coverage policy: {policy.words.drug}",
        "info",
        f"The payer's published coverage criteria for {policy.title}.",
        order_reference(order),
    )
    built["links"] = [
        {
            "label": "Read the coverage policy",
            "url": policy_url(base_url, policy),
            "type": "absolute",
        }
    ]
    return built


def off_policy_card(
    source: CardSource, policy: Policy, evaluation: Evaluation, order: Resource
) -> JsonObject | None:
    reason = off_policy_reason(policy, evaluation)
    rule = policy.off_policy
    if reason is None or rule is None:
        return None
    recorded = value_display(policy, rule.criterion, evaluation.criteria[rule.criterion].value)
    detail = f"{rule.recorded}: {recorded}. {reason}" if recorded else reason
    return card(
        source,
        "off-guideline",
        rule.summary,
        "warning",
        detail,
        order_reference(order),
    )


def limit_card(
    source: CardSource, policy: Policy, evaluation: Evaluation, order: Resource
) -> JsonObject | None:
    """When the ordered amount is above one of the policy's quantity limits for this patient
    (the first such, in the contract's order): the arithmetic, and a suggestion that sets the
    amount to the limit when the contract says which dosage carries it."""
    found = _exceeded(policy, evaluation)
    if found is None:
        return None
    limit, declared = found
    assert limit.value is not None and limit.ordered is not None and limit.unit is not None
    unit = policy.evaluation.units[limit.unit]
    what, amount = limit.label, quantity_display(policy, limit.value, limit.unit)
    why = "; ".join(x for x in (limit.basis, _explained(policy, evaluation, declared)) if x)
    ordered = quantity_display(policy, limit.ordered, limit.unit)
    detail = (
        f"Ordered {what} {ordered}; the covered {what} for this "
        f"patient is {amount}" + (f" ({why})" if why else "") + ". Doses above it are not covered."
    )
    for criterion_id in declared.explained_by:
        if evaluation.criteria[criterion_id].discrepancy:
            detail += f" Flag: {policy.discrepancy_note(criterion_id)}"
    summary = f"{what.capitalize()} above the covered {amount} for this patient"
    built = card(source, "limits", summary, "warning", detail, order_reference(order))
    updated = _with_amount(order, limit, declared, unit)
    if updated is not None:
        # CDS Hooks: a card with suggestions MUST say how many may be chosen.
        built["selectionBehavior"] = "at-most-one"
        built["suggestions"] = [_change_to(what, amount, updated)]
    return built


def _change_to(what: str, amount: str, updated: Resource) -> JsonObject:
    """The suggestion that updates the draft order to the covered amount."""
    return {
        "label": f"Change the {what} to {amount}",
        "uuid": str(uuid.uuid4()),
        "isRecommended": True,
        "actions": [
            {"type": "update", "description": f"Set the {what} to {amount}", "resource": updated}
        ],
    }


def _explained(policy: Policy, evaluation: Evaluation, declared: QuantityLimit) -> str:
    """The values the limit rests on, in the policy's words ("body surface area 1.04 m²")."""
    return ", ".join(
        f"{c.shown.name} {value_display(policy, c.id, value)}"
        for c in policy.evaluation.criteria
        if c.id in declared.explained_by
        and c.shown is not None
        and (value := evaluation.criteria[c.id].value) is not None
    )


def _exceeded(policy: Policy, evaluation: Evaluation) -> tuple[LimitResult, QuantityLimit] | None:
    declared = {x.id: x for x in policy.evaluation.limits if isinstance(x, QuantityLimit)}
    for limit in evaluation.limits:
        if (
            limit.id in declared
            and evaluation.criteria[limit.criterion].status is Status.NOT_MET
            and limit.exceeded()
        ):
            return limit, declared[limit.id]
    return None


def _with_amount(
    order: Resource, limit: LimitResult, declared: QuantityLimit, unit: Unit
) -> Resource | None:
    """The order with one dosage's rate or dose set to the limit, and its text saying the same:
    an EHR that takes the suggestion writes this order as it stands."""
    if declared.dosage is None or limit.value is None or limit.unit is None:
        return None
    updated = copy.deepcopy(order)
    dosages = updated.get("dosageInstruction") or []
    if not dosages:
        return None
    dosage = dosages[0 if declared.dosage == "first" else -1]
    for key in ("rateQuantity", "doseQuantity"):
        for dose_and_rate in dosage.get("doseAndRate") or []:
            if key in dose_and_rate:
                dose_and_rate[key] = {
                    "value": float(limit.value),
                    "unit": unit.display,
                    "system": UCUM,
                    "code": limit.unit,
                }
                if isinstance(dosage.get("text"), str):
                    dosage["text"] = _text_with_amount(dosage["text"], limit, unit)
                return updated
    return None


def _text_with_amount(text: str, limit: LimitResult, unit: Unit) -> str:
    """The dosage text with its amount replaced by the limit; a text that states no amount we
    can find (in the words the contract gives for the unit) says the new amount first."""
    shown = f"{number(limit.value)} {unit.display}"
    pattern = _amount_pattern(unit)
    if pattern is None:
        return f"{shown} ({text})"
    changed, count = pattern.subn(shown, text, count=1)
    return changed if count else f"{shown} ({text})"


def _amount_pattern(unit: Unit) -> re.Pattern[str] | None:
    """An amount as order texts write it: a number, one of the unit's words, then optionally
    one of its words for time, as the contract lists them ("28 ug/d", "700 mg")."""
    words = unit.order_text
    if words is None:
        return None
    amounts = "|".join(re.escape(w) for w in sorted(words.amounts, key=len, reverse=True))
    per = "|".join(re.escape(w) for w in sorted(words.per, key=len, reverse=True))
    time = rf"(?:\s*(?:{per})(?![a-z]))?" if per else ""
    return re.compile(rf"\d+(?:\.\d+)?\s*(?:{amounts}){time}", re.IGNORECASE)
