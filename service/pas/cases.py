"""A prior-authorization case: what the payer makes of a PAS request when it arrives, and the
decisions that follow.

At receipt the request is evaluated by the same policy engine CRD and DTR use, on what the
request carries (the order, the Coverage, the Patient, the DTR QuestionnaireResponse's answers
overriding record evidence): the criteria with their evidence, the limits and their arithmetic,
the indication paths. Every request is then pended for clinical review (policy section 2); a
reviewer approves, denies or asks for more. Due: 72 hours from receipt for an expedited request,
7 calendar days for a standard one (CMS-0057-F).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from service.dtr.prefill import INFORMATION_ORIGIN
from service.dtr.responses import answered, answers_of, questions
from service.fhir.record import PatientRecord
from service.pas.submission import Submission
from service.policy.display import answer_display
from service.policy.evaluation import Evaluation
from service.policy.folder import Policy
from service.policy.registry import PolicyRegistry
from service.types import JsonObject, Resource

DUE = {"expedited": timedelta(hours=72), "standard": timedelta(days=7)}
# A reference's alphabet: no 0/O or 1/I/L to misread on the phone.
_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def due_at(received: datetime, priority: str) -> datetime:
    return received + DUE[priority]


def pended_note(due: datetime, updated: bool = False) -> str:
    """The pended ClaimResponse's note: when the decision is due (what the workbench shows)."""
    said = (
        "Updated by the submitter: pended for clinical review again."
        if updated
        else "Pended for clinical review: every request is reviewed."
    )
    return f"{said} The decision is due by {due.astimezone(UTC):%Y-%m-%d %H:%M} UTC."


def new_preauth_ref(on: date) -> str:
    """An authorization number: PA, the day, six random characters."""
    tail = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))
    return f"PA{on:%Y%m%d}-{tail}"


def evaluate_submission(
    registry: PolicyRegistry,
    submission: Submission,
    questionnaire_of: Callable[[str], Resource | None],
    today: date,
) -> tuple[Policy | None, JsonObject]:
    """The policy the request is about and the pre-review summary; (None, {...}) when no policy
    of ours is about the ordered service (the reviewer still sees the request)."""
    record = PatientRecord([(r, None) for r in submission.resources()])
    response = submission.response
    questionnaire = questionnaire_of(str(response.get("questionnaire"))) if response else None
    policies = _item_policies(registry, submission, record)
    order = _reviewed_order(submission, policies)
    policy = _policy_of(registry, order, record, questionnaire)
    summary: JsonObject = {
        "order": _reference(order),
        "orderText": _ordered(order),
        "response": _reference(response),
        "answers": _answers(response, questionnaire, policy),
    }
    if any(p is not None for p in policies.values()):
        # PAS: a problem with one item is reported in the ClaimResponse's `error`, not by
        # refusing the request; an item no policy of ours is about is not adjudicated here.
        summary["notAdjudicated"] = [q for q, p in policies.items() if p is None]
    if policy is None or order is None:
        return None, summary | {"evaluation": None}
    answers = answers_of(response, questionnaire) if response and questionnaire else {}
    evaluation: Evaluation = registry.engine(policy).evaluate(
        record, _reference(order) or "", today, answers
    )
    return policy, summary | {"policy": policy.id, "evaluation": evaluation.as_json()}


def _item_policies(
    registry: PolicyRegistry, submission: Submission, record: PatientRecord
) -> dict[int, Policy | None]:
    """Item sequence -> the policy of ours its requested service is about, if any."""
    return {
        sequence: registry.for_order(service, record) if service is not None else None
        for sequence, service in submission.services
    }


def _reviewed_order(submission: Submission, policies: dict[int, Policy | None]) -> Resource | None:
    """The order reviewed: the first a policy is about, else the first named."""
    return next(
        (s for q, s in submission.services if s is not None and policies[q] is not None),
        submission.order,
    )


def _policy_of(
    registry: PolicyRegistry,
    order: Resource | None,
    record: PatientRecord,
    questionnaire: Resource | None,
) -> Policy | None:
    """The order's policy, else the one whose Questionnaire the form answers."""
    policy = registry.for_order(order, record) if order is not None else None
    if policy is None and questionnaire is not None:
        policy = registry.by_questionnaire(str(questionnaire.get("url")))
    return policy


def not_adjudicated(summary: JsonObject) -> tuple[int, ...]:
    """The sequences of the request's items no policy of ours is about."""
    return tuple(int(q) for q in summary.get("notAdjudicated") or [])


def _reference(resource: Resource | None) -> str | None:
    if resource is None:
        return None
    return f"{resource.get('resourceType')}/{resource.get('id')}"


def _ordered(order: Resource | None) -> str | None:
    """What the order asks for, in its words: its code's text or display (else its reference),
    and its dosage text or quantity."""
    if order is None:
        return None
    concept = order.get("medicationCodeableConcept") or order.get("code") or {}
    codings = concept.get("coding") or []
    named = concept.get("text") or next(
        (c.get("display") for c in codings if c.get("display")), None
    )
    what = str(named) if named else _reference(order)
    amount = _amount(order)
    return f"{what}: {amount}" if amount else what


def _amount(order: Resource) -> str | None:
    """The order's dosage text, else its quantity, as written."""
    dosages = order.get("dosageInstruction") or []
    if dosages and isinstance(dosages[0], dict) and dosages[0].get("text"):
        return str(dosages[0]["text"])
    quantity = order.get("quantityQuantity") or {}
    if quantity.get("value") is None:
        return None
    return f"{quantity['value']} {quantity.get('unit') or quantity.get('code') or ''}".strip()


def _answers(
    response: Resource | None, questionnaire: Resource | None, policy: Policy | None
) -> JsonObject:
    """linkId -> {text, value, origin}: what the prescriber's form said, and where each answer came
    from (auto: the record; override: the prescriber changed what the record gave; manual)."""
    if response is None:
        return {}
    asked = questions(questionnaire) if questionnaire else {}
    found: JsonObject = {}
    for link_id, answer in answered(response):
        found[link_id] = {
            "text": str((asked.get(link_id) or {}).get("text") or link_id),
            "value": answer_display(policy, answer),
            "origin": _origin(answer),
        }
    return found


def _origin(answer: JsonObject) -> str | None:
    for extension in answer.get("extension") or []:
        if extension.get("url") == INFORMATION_ORIGIN:
            for part in extension.get("extension") or []:
                if part.get("url") == "source":
                    return str(part.get("valueCode"))
    return None
