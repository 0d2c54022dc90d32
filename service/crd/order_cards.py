"""The cards an in-scope order gets (CRD "Potential CRD Response Types"), all read from the one
evaluation of the order:

- instructions (info, `coverage-info`): prior authorization is required; what the record already
  shows, criterion by criterion; what the form will ask; how to submit;
- dose limit (warning, `limits`): the ordered dose exceeds the limit for this patient, with the
  arithmetic and a suggestion that sets the dose to the limit;
- policy (info, `guideline`): an external-reference link to the policy document we publish;
- off-policy (warning, `off-guideline`): DX is not met, so coverage needs medical-necessity review.

Each card is about one order (`davinci-crd.associated-resource`, and its detail names the drug).
"""

from __future__ import annotations

import copy
import re
import uuid
from decimal import Decimal

from service.crd.assertions import off_policy_reason, order_reference, policy_url
from service.crd.cards import CardSource, card
from service.policy.evaluation import Evaluation, Status
from service.policy.folder import Policy
from service.types import JsonObject, Resource

_MARK = {Status.MET: "shown", Status.NOT_MET: "NOT met", Status.UNKNOWN: "not in the record"}


def instructions_card(
    source: CardSource, policy: Policy, evaluation: Evaluation, order: Resource
) -> JsonObject:
    lines = [
        f"**{policy.title}**: prior authorization is required before administration.",
        "",
        "What the patient's record already shows:",
    ]
    for criterion in evaluation.criteria.values():
        value = "" if criterion.value is None else f": {_shown(criterion.value)}"
        lines.append(f"- {policy.criterion_label(criterion.id)}: {_MARK[criterion.status]}{value}")
        if criterion.discrepancy:
            lines.append(f"  - Flag: {policy.discrepancy_note(criterion.id)}")
    asked = [policy.criterion_label(c) for c in evaluation.unknown_criteria()]
    if asked:
        lines += ["", "The prior-authorization form will ask: " + "; ".join(asked) + "."]
    lines += ["", f"How to submit: {policy.prior_authorization.submission}"]
    return card(
        source,
        "coverage-info",
        f"Prior authorization required: {_drug(policy)}",
        "info",
        "\n".join(lines),
        order_reference(order),
    )


def policy_card(source: CardSource, policy: Policy, order: Resource, base_url: str) -> JsonObject:
    built = card(
        source,
        "guideline",
        f"Coverage policy: {_drug(policy)}",
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
    if reason is None:
        return None
    diagnosis = evaluation.criteria["DX"].value
    detail = f"Recorded diagnosis {diagnosis}. {reason}" if diagnosis else reason
    return card(
        source,
        "off-guideline",
        "Diagnosis outside the policy's indications: medical review needed",
        "warning",
        detail,
        order_reference(order),
    )


def dose_limit_card(
    source: CardSource, policy: Policy, evaluation: Evaluation, order: Resource
) -> JsonObject | None:
    """When the ordered daily dose, or the days 1-7 step dose of relapsed cycle 1, is above the
    covered dose for this patient: the arithmetic, and a suggestion that sets it to the limit."""
    if evaluation.criteria["DOSE"].status is not Status.NOT_MET:
        return None
    limit, ordered = evaluation.dose_limit.mcg_per_day, evaluation.criteria["DOSE"].value
    dosage_index, what = -1, "daily dose"
    if not isinstance(ordered, Decimal) or limit is None or ordered <= limit:
        limit, ordered = evaluation.dose_limit.step_mcg_per_day, evaluation.step_dose_mcg
        dosage_index, what = 0, "days 1-7 step dose"
        if ordered is None or limit is None or ordered <= limit:
            return None
    weight, bsa = evaluation.criteria["WEIGHT"].value, evaluation.criteria["BSA"].value
    body = f"weight {_shown(weight)} kg" + (f", BSA {_shown(bsa)} m2" if bsa is not None else "")
    detail = (
        f"Ordered {what} {_shown(ordered)} mcg/day; the covered {what} for this patient is "
        f"{_shown(limit)} mcg/day ({evaluation.dose_limit.basis}; {body}). "
        "Doses above it are not covered."
    )
    if evaluation.criteria["BSA"].discrepancy:
        detail += f" Flag: {policy.discrepancy_note('BSA')}"
    summary = f"{what.capitalize()} above the covered {_shown(limit)} mcg/day for this patient"
    built = card(source, "limits", summary, "warning", detail, order_reference(order))
    updated = _with_dose(order, limit, dosage_index)
    if updated is not None:
        # CDS Hooks: a card with suggestions MUST say how many may be chosen.
        built["selectionBehavior"] = "at-most-one"
        built["suggestions"] = [
            {
                "label": f"Change the {what} to {_shown(limit)} mcg/day",
                "uuid": str(uuid.uuid4()),
                "isRecommended": True,
                "actions": [
                    {
                        "type": "update",
                        "description": f"Set the {what} to {_shown(limit)} mcg/day",
                        "resource": updated,
                    }
                ],
            }
        ]
    return built


def _with_dose(order: Resource, limit: Decimal, dosage_index: int) -> Resource | None:
    """The order with one dosage's rate or dose set to the limit in ug/d, and its text saying
    the same: an EHR that takes the suggestion writes this order as it stands."""
    updated = copy.deepcopy(order)
    dosages = updated.get("dosageInstruction") or []
    if not dosages:
        return None
    dosage = dosages[dosage_index]
    for key in ("rateQuantity", "doseQuantity"):
        for dose_and_rate in dosage.get("doseAndRate") or []:
            if key in dose_and_rate:
                dose_and_rate[key] = {
                    "value": float(limit),
                    "unit": "ug/d",
                    "system": "http://unitsofmeasure.org",
                    "code": "ug/d",
                }
                if isinstance(dosage.get("text"), str):
                    dosage["text"] = _text_with_dose(dosage["text"], limit)
                return updated
    return None


# A daily dose as order texts write it: "28 ug/d", "28 mcg/day", "28 micrograms per day".
_DAILY_DOSE = re.compile(
    r"\d+(?:\.\d+)?\s*(?:ug|mcg|µg|micrograms?)\s*(?:/\s*(?:day|d)\b|per\s+day|daily)?",
    re.IGNORECASE,
)


def _text_with_dose(text: str, limit: Decimal) -> str:
    """The dosage text with its dose replaced by the limit; a text that states no dose we can
    find says the new dose first."""
    shown = f"{_shown(limit)} ug/d"
    changed, count = _DAILY_DOSE.subn(shown, text, count=1)
    return changed if count else f"{shown} ({text})"


def _drug(policy: Policy) -> str:
    return policy.title.split(" for ")[0]


def _shown(value: object) -> str:
    if isinstance(value, Decimal):
        return f"{value.quantize(Decimal('0.01')).normalize():f}"
    return str(value)
