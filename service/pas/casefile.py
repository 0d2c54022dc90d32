"""What a clinical reviewer sees of a case, built from the stored request alone: the patient and
the order, when it is due, the policy's criteria in the policy's words with the evidence behind
each (an answer of the prescriber's form with its origin, or a resource the request carried),
the indication paths, the limits with their arithmetic, what the prescriber changed from what
the record gave, and every decision so far. Nothing here knows a drug: the words are the
policy's contract."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from service.pas.case_subject import CaseSubject, bundle_resources, case_subject
from service.pas.decisions import ReasonGroup, covered, default_period, reason_groups
from service.policy.display import (
    criterion_state,
    number,
    path_words,
    status_words,
    value_display,
)
from service.policy.evaluation import Evidence as Resting
from service.policy.evaluation import EvidenceKind
from service.policy.folder import Policy
from service.storage.tables import PriorAuthDecision, PriorAuthRequest
from service.types import JsonObject, Resource

ORIGIN_WORDS = {
    "auto": "from the record",
    "override": "changed by the prescriber from what the record gave",
    "manual": "entered by the prescriber",
}


@dataclass(frozen=True)
class Evidence:
    kind: str  # answer | record
    text: str
    value: str = ""
    origin: str = ""


@dataclass(frozen=True)
class CriterionView:
    id: str
    label: str
    status: str
    words: str
    value: str
    evidence: list[Evidence]
    flag: str | None = None


@dataclass(frozen=True)
class CaseView:
    id: str
    status: str
    priority: str
    received_at: datetime
    due_at: datetime
    overdue: bool
    subject: CaseSubject
    order: str
    ordered_dose: str  # the ordered quantities in the policy's units; "" when none was read
    policy_title: str
    outcome: str | None
    criteria: list[CriterionView]
    paths: list[tuple[str, str]]
    limits: list[str]
    overridden: list[Evidence]
    decisions: list[PriorAuthDecision]
    reasons: list[ReasonGroup]
    preselected_reason: str | None  # the first criterion the evaluation found not met
    period: tuple[date, date]
    covered: list[str]
    covered_dose: str  # the first covered quantity, in its unit; "" when none is set
    shortfalls: list[str]  # covered limits below what was ordered, with the difference
    preauth_ref: str | None

    @property
    def patient(self) -> str:
        return self.subject.patient

    @property
    def born(self) -> str:
        return self.subject.born


def case_view(
    row: PriorAuthRequest,
    policy: Policy | None,
    decisions: list[PriorAuthDecision],
    now: datetime,
    today: date,
) -> CaseView:
    """`today`: the policy's today (an age is counted to it), `now`: the clock (overdue)."""
    summary: JsonObject = dict(row.summary)
    evaluation: JsonObject = summary.get("evaluation") or {}
    answers: JsonObject = summary.get("answers") or {}
    resources = bundle_resources(row.bundle)
    limits: list[JsonObject] = evaluation.get("limits") or []
    criteria = [
        _criterion(criterion_id, result, policy, answers, resources)
        for criterion_id, result in (evaluation.get("criteria") or {}).items()
    ]
    due = _aware(row.due_at)
    return CaseView(
        id=row.id,
        status=row.status,
        priority=row.priority,
        received_at=_aware(row.received_at),
        due_at=due,
        overdue=row.status in ("pended", "more-info") and due < now,
        subject=case_subject(row.bundle, policy, today),
        order=_order_text(summary),
        ordered_dose=_ordered_dose(limits, policy),
        policy_title=policy.title if policy else NO_POLICY,
        outcome=evaluation.get("outcome"),
        criteria=criteria,
        paths=_paths(evaluation, policy),
        limits=[_limit_text(limit, policy) for limit in limits],
        overridden=_overridden(answers),
        decisions=decisions,
        reasons=reason_groups(policy, evaluation),
        preselected_reason=_first_not_met(criteria),
        period=default_period(summary, now.date()),
        covered=[_covered_text(c, policy) for c in covered(summary)],
        covered_dose=_covered_dose(summary, policy),
        shortfalls=[_shortfall(limit, policy) for limit in limits if _short(limit)],
        preauth_ref=row.preauth_ref,
    )


NO_POLICY = "no policy of this payer is about the order"


def _order_text(summary: JsonObject) -> str:
    return str(summary.get("orderText") or summary.get("order") or "not named")


def _first_not_met(criteria: list[CriterionView]) -> str | None:
    """The reason a denial starts from: the first criterion the evaluation found not met."""
    return next((c.id for c in criteria if c.status == "not-met"), None)


def _paths(evaluation: JsonObject, policy: Policy | None) -> list[tuple[str, str]]:
    """Each way the policy can be met, and how it stands, in the policy's words."""
    return [
        (_path(policy, str(p.get("id"))), _status(policy, str(p.get("status"))))
        for p in (evaluation.get("paths") or {}).values()
    ]


def _overridden(answers: JsonObject) -> list[Evidence]:
    """The answers the prescriber changed from what the record said."""
    return [
        Evidence("answer", str(a.get("text")), str(a.get("value")), ORIGIN_WORDS["override"])
        for a in answers.values()
        if a.get("origin") == "override"
    ]


def _criterion(
    criterion_id: str,
    result: JsonObject,
    policy: Policy | None,
    answers: JsonObject,
    resources: dict[str, Resource],
) -> CriterionView:
    status = str(result.get("status"))
    evidence = [
        _evidence(Resting.from_json(e), answers, resources) for e in result.get("evidence") or []
    ]
    value = result.get("value")
    flag = None
    if result.get("discrepancy") and policy is not None:
        flag = policy.discrepancy_note(criterion_id)
    return CriterionView(
        id=criterion_id,
        label=policy.criterion_label(criterion_id) if policy else criterion_id,
        status=status,
        words=criterion_state(policy, criterion_id, status, value) if policy else status,
        value=_value_text(policy, criterion_id, value),
        evidence=evidence,
        flag=flag,
    )


def _evidence(found: Resting, answers: JsonObject, resources: dict[str, Resource]) -> Evidence:
    if found.kind is EvidenceKind.ANSWER:
        answer = answers.get(str(found.link_id)) or {}
        return Evidence(
            "answer",
            str(answer.get("text") or found.link_id),
            str(answer.get("value") or ""),
            ORIGIN_WORDS.get(str(answer.get("origin")), "origin not given"),
        )
    reference = str(found.reference)
    return Evidence("record", _resource_text(reference, resources.get(reference)))


def _path(policy: Policy | None, path_id: str) -> str:
    return path_words(policy, path_id) if policy is not None else path_id


def _status(policy: Policy | None, status: str) -> str:
    return status_words(policy, status) if policy is not None else status


def _limit_text(limit: JsonObject, policy: Policy | None) -> str:
    label = str(limit.get("label") or limit.get("id")).capitalize()
    value = limit.get("value")
    unit = _unit(limit, policy)
    basis = f" ({limit['basis']})" if limit.get("basis") else ""
    if limit.get("kind") == "quantity":
        ordered = f"; ordered {_number(limit['ordered'])} {unit}" if limit.get("ordered") else ""
        shown = f"up to {_number(value)} {unit}" if value is not None else "not known yet"
        return f"{label}: {shown}{ordered}{basis}"
    if limit.get("kind") == "count":
        return f"{label}: up to {value}" if value is not None else f"{label}: not known yet"
    if value is None:
        return f"{label}: not known yet"
    start = f" from {limit['start']}" if limit.get("start") else " from its start"
    return f"{label}: {value} year{'s' if int(value) != 1 else ''}{start}"


def _covered_text(limit: JsonObject, policy: Policy | None) -> str:
    unit = _unit(limit, policy) if limit.get("kind") == "quantity" else ""
    amount = f"{_number(limit.get('value'))} {unit}".strip()
    return f"{str(limit.get('label')).capitalize()}: up to {amount}"


def _covered_dose(summary: JsonObject, policy: Policy | None) -> str:
    """The first quantity the authorization covers, in the policy's unit."""
    quantities = [c for c in covered(summary) if c.get("kind") == "quantity"]
    return f"{_number(quantities[0]['value'])} {_unit(quantities[0], policy)}" if quantities else ""


def _ordered_dose(limits: list[JsonObject], policy: Policy | None) -> str:
    """Each quantity the order asks for, in the policy's unit."""
    return "; ".join(
        f"{_number(limit['ordered'])} {_unit(limit, policy)}".strip()
        for limit in limits
        if limit.get("kind") == "quantity" and limit.get("ordered") is not None
    )


def _short(limit: JsonObject) -> bool:
    """A quantity limit the order asks more than."""
    if limit.get("kind") != "quantity" or None in (limit.get("value"), limit.get("ordered")):
        return False
    return _decimal(limit["ordered"]) > _decimal(limit["value"])


def _shortfall(limit: JsonObject, policy: Policy | None) -> str:
    """<Label>: covered <value> <unit>; ordered <value> <unit>: <difference> <unit> less."""
    unit = _unit(limit, policy)
    value, ordered = _decimal(limit["value"]), _decimal(limit["ordered"])
    return (
        f"{str(limit.get('label') or limit.get('id')).capitalize()}: covered {_number(value)} "
        f"{unit}; ordered {_number(ordered)} {unit}: {_number(ordered - value)} {unit} less"
    )


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value))


def _unit(limit: JsonObject, policy: Policy | None) -> str:
    code = str(limit.get("unit") or "")
    if policy is not None and code in policy.evaluation.units:
        return policy.evaluation.units[code].display
    return code


def _number(value: Any) -> str:
    return number(value)


def _value_text(policy: Policy | None, criterion_id: str, value: Any) -> str:
    """The value where the status does not already say it (a known yes/no says its answer)."""
    if value is None or isinstance(value, bool) or policy is None:
        return "" if value is None or isinstance(value, bool) else str(value)
    return value_display(policy, criterion_id, value) or ""


def _resource_text(reference: str, resource: Resource | None) -> str:
    if resource is None:
        return f"{reference} (in the EHR's record at signing, not in this request)"
    concept = resource.get("code") or resource.get("medicationCodeableConcept") or {}
    codings = concept.get("coding") or []
    named = concept.get("text") or ", ".join(
        str(c.get("display") or c.get("code")) for c in codings if c.get("code")
    )
    return f"{reference}: {named}" if named else reference


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
