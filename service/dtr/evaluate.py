"""`QuestionnaireResponse/$evaluate`: a response's answers evaluated by the policy engine CRD
uses, answered as Parameters (`OperationDefinition/QuestionnaireResponse-evaluate`): the outcome,
each criterion with the policy's words, its value, evidence and flag, each indication path, and
each limit the policy declares, with the ordered value and how the limit was set.

The pre-filled answers carry what the record showed, and answers override record evidence, so
the answers alone are evaluated (on an empty record). What the record showed that no answer
carries, its own disagreements (a criterion's `discrepancy`), comes from the evaluation stored
with the coverage assertion, flagged on the form as on the card.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from service.dtr.response_profile import named_order
from service.dtr.responses import answers_of
from service.errors import UnprocessableEntity
from service.fhir.record import PatientRecord
from service.policy.contract import LimitKind
from service.policy.display import (
    UCUM,
    criterion_state,
    quantity,
    quantity_display,
    typed_value,
    value_display,
)
from service.policy.engine import PolicyEngine
from service.policy.evaluation import (
    CriterionResult,
    Evaluation,
    Evidence,
    EvidenceKind,
    LimitResult,
)
from service.policy.folder import Policy
from service.storage.tables import CoverageAssertion
from service.types import JsonObject, Resource


def evaluate_response(
    engine: PolicyEngine,
    response: Resource,
    questionnaire: Resource,
    assertion: CoverageAssertion | None,
    today: date,
) -> JsonObject:
    order = assertion.order_ref if assertion is not None else named_order(response)
    if order is None:
        raise UnprocessableEntity(
            "the response names no order: tag it with its coverage-assertion-id or name the "
            "order in a qr-context extension"
        )
    evaluation = engine.evaluate(
        PatientRecord([]), order, today, answers_of(response, questionnaire)
    )
    flagged = _flagged(assertion.evaluation) if assertion is not None else set()
    answer = evaluation_parameters(evaluation, engine.policy, flagged)
    answer["parameter"].append({"name": "evaluationDate", "valueDate": today.isoformat()})
    return answer


def _flagged(stored: dict[str, Any]) -> set[str]:
    criteria = stored.get("criteria") or {}
    return {c for c, r in criteria.items() if isinstance(r, dict) and r.get("discrepancy")}


def evaluation_parameters(
    evaluation: Evaluation, policy: Policy, flagged: set[str] | None = None
) -> JsonObject:
    parameters: list[JsonObject] = [{"name": "outcome", "valueCode": evaluation.outcome.value}]
    for criterion in evaluation.criteria.values():
        parameters.append(
            {"name": "criterion", "part": _criterion(criterion, policy, flagged or set())}
        )
    for path in evaluation.paths.values():
        parameters.append(
            {
                "name": "path",
                "part": [
                    {"name": "id", "valueString": path.id},
                    {"name": "status", "valueCode": path.status.value},
                ],
            }
        )
    parameters += [_limit(limit, policy) for limit in evaluation.limits]
    return {"resourceType": "Parameters", "parameter": parameters}


def _criterion(criterion: CriterionResult, policy: Policy, flagged: set[str]) -> list[JsonObject]:
    """Its words, its status (and the status in words), its value typed and in words, and what
    it rests on."""
    status = criterion.status.value
    parts: list[JsonObject] = [
        {"name": "id", "valueString": criterion.id},
        {"name": "label", "valueString": policy.criterion_label(criterion.id)},
        {"name": "status", "valueCode": status},
        {
            "name": "statusDisplay",
            "valueString": criterion_state(policy, criterion.id, status, criterion.value),
        },
    ]
    typed = typed_value(policy, criterion.id, criterion.value)
    if typed is not None:
        parts.append({"name": "value"} | typed)
        words = value_display(policy, criterion.id, criterion.value)
        parts.append({"name": "display", "valueString": words})
    parts += [_evidence(e) for e in criterion.evidence]
    if criterion.discrepancy or criterion.id in flagged:
        parts.append({"name": "flag", "valueString": policy.discrepancy_note(criterion.id)})
    return parts


def _evidence(evidence: Evidence) -> JsonObject:
    parts: list[JsonObject] = [{"name": "kind", "valueCode": evidence.kind.value}]
    if evidence.kind is EvidenceKind.ANSWER:
        parts.append({"name": "linkId", "valueString": evidence.link_id})
    else:
        parts.append({"name": "reference", "valueReference": {"reference": evidence.reference}})
    return {"name": "evidence", "part": parts}


def _limit(limit: LimitResult, policy: Policy) -> JsonObject:
    parts: list[JsonObject] = [
        {"name": "id", "valueString": limit.id},
        {"name": "kind", "valueCode": limit.kind.value},
        {"name": "criterion", "valueString": limit.criterion},
        {"name": "label", "valueString": limit.label},
    ]
    if limit.kind is LimitKind.QUANTITY and limit.unit is not None:
        display = policy.evaluation.units[limit.unit].display
        parts.append({"name": "unit", "valueString": display})
        if isinstance(limit.value, Decimal):
            value = quantity(policy, limit.value, limit.unit)
            parts.append({"name": "value", "valueQuantity": value})
            words = quantity_display(policy, limit.value, limit.unit)
            parts.append({"name": "display", "valueString": words})
        if limit.ordered is not None:
            ordered = quantity(policy, limit.ordered, limit.unit)
            parts.append({"name": "ordered", "valueQuantity": ordered})
    elif limit.kind is LimitKind.COUNT and limit.value is not None:
        parts.append({"name": "count", "valueInteger": int(limit.value)})
    elif limit.kind is LimitKind.PERIOD:
        if limit.value is not None:
            years = {"value": int(limit.value), "unit": "year", "system": UCUM, "code": "a"}
            parts.append({"name": "length", "valueQuantity": years})
        period = limit.period()
        if period is not None:
            value = {"start": period[0].isoformat(), "end": period[1].isoformat()}
            parts.append({"name": "period", "valuePeriod": value})
    if limit.basis is not None:
        # Why the limit is what it is or, when it is not known yet, why not (policy's words).
        parts.append({"name": "basis", "valueString": limit.basis})
    return {"name": "limit", "part": parts}
