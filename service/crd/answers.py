"""What the service says about each in-scope order.

- A Coverage instance to attach it to: a coverage-information system action (CRD hook-16: primary
  hooks always carry one). Prior authorization, documentation and billing facts come from the
  policy's data (`policy.json` "priorAuthorization"); when clinical data could not be fetched in
  time the assertion is `indeterminate` with reason `technical` instead.
- No Coverage instance at all: the extension cannot be returned (its `coverage` is 1..1, and the
  IG says so in that element's comment), so the answer is a card saying no coverage was found
  (reason `coverage-not-found`, CRD resp-45), or that the coverage could not be fetched.
- order-select never asks for documentation or a questionnaire (CRD hook-19).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from service.cdshooks.prefetch_resolver import ResolvedPrefetch
from service.cql.compiler import CqlRuntimeError
from service.crd.cards import CardSource, card
from service.crd.coverage import CoverageChoice
from service.crd.coverage_information import CoverageInformation, assertion_id, system_action
from service.fhir.record import PatientRecord
from service.policy.evaluation import Evaluation, Status
from service.policy.folder import Policy
from service.types import JsonObject, Resource

if TYPE_CHECKING:
    from service.crd.order_hook import HookCall, HookEnvironment

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrderAnswers:
    response: JsonObject
    order_references: list[str]
    outcome: str


def answer_orders(
    call: HookCall,
    env: HookEnvironment,
    record: PatientRecord,
    in_scope: Sequence[tuple[Resource, Policy]],
    choice: CoverageChoice,
    prefetch: ResolvedPrefetch,
) -> OrderAnswers:
    source = CardSource(env.settings.payer_name, call.version)
    technical = bool(prefetch.technical_failures())
    references = [_reference(order) for order, _ in in_scope]
    if choice.coverage is None and choice.inactive is not None and not technical:
        inactive_ref = f"Coverage/{choice.inactive.get('id')}"
        actions = [
            system_action(order, _not_active(call, policy, order, inactive_ref))
            for order, policy in in_scope
        ]
        return OrderAnswers(
            {"cards": [], "systemActions": actions}, references, "no-active-coverage"
        )
    if choice.coverage is None:
        cards = [_no_coverage_card(source, ref, technical) for ref in references]
        outcome = "technical" if technical else "coverage-not-found"
        return OrderAnswers({"cards": cards}, references, outcome)
    coverage_ref = f"Coverage/{choice.coverage.get('id')}"
    actions = []
    failed = technical
    for order, policy in in_scope:
        evaluation = None if technical else _evaluate(env, policy, record, order, call)
        failed = failed or evaluation is None
        actions.append(
            system_action(order, _information(call, policy, order, coverage_ref, evaluation))
        )
    outcome = "technical" if failed else "coverage-information"
    return OrderAnswers({"cards": [], "systemActions": actions}, references, outcome)


def _evaluate(
    env: HookEnvironment, policy: Policy, record: PatientRecord, order: Resource, call: HookCall
) -> Evaluation | None:
    """The policy's evaluation of the order; None when the engine could not run (technical)."""
    try:
        return env.engines[policy.id].evaluate(record, str(order.get("id")), call.today)
    except CqlRuntimeError:
        log.exception("policy evaluation failed", extra={"policy": policy.id})
        return None


def _information(
    call: HookCall,
    policy: Policy,
    order: Resource,
    coverage_ref: str,
    evaluation: Evaluation | None,
) -> CoverageInformation:
    ident = assertion_id(_reference(order), coverage_ref, policy.version)
    if evaluation is None:
        return CoverageInformation(
            coverage_reference=coverage_ref,
            covered="indeterminate",
            assertion_id=ident,
            on=call.today,
            reason_code="technical",
            reason_text="Part of the patient's record could not be retrieved in time.",
        )
    rules = policy.prior_authorization
    documentation = call.service.asks_for_documentation
    off_policy = _off_policy(policy, evaluation)
    reason = off_policy or (rules.reason if documentation else None)
    return CoverageInformation(
        coverage_reference=coverage_ref,
        # SPEC section 5: outside the listed indications the answer is conditional coverage
        # (medical-necessity review), never a silent denial.
        covered="conditional" if off_policy else "covered",
        info_needed=("OTH",) if off_policy else (),
        assertion_id=ident,
        on=call.today,
        pa_needed=rules.pa_needed,
        doc_needed=(rules.doc_needed,) if documentation else (),
        doc_purpose=(rules.doc_purpose,) if documentation else (),
        reason_text=reason,
        billing_codes=(policy.billing_code,),
        questionnaires=(policy.questionnaire,) if documentation else (),
    )


def _not_active(
    call: HookCall, policy: Policy, order: Resource, coverage_ref: str
) -> CoverageInformation:
    return CoverageInformation(
        coverage_reference=coverage_ref,
        covered="not-covered",
        assertion_id=assertion_id(_reference(order), coverage_ref, policy.version),
        on=call.today,
        reason_code="no-active-coverage",
        reason_text="The patient's coverage is not active on this date.",
    )


def _off_policy(policy: Policy, evaluation: Evaluation) -> str | None:
    rule = policy.off_policy
    if rule is None or evaluation.criteria[rule.criterion].status is not Status.NOT_MET:
        return None
    return rule.reason


def _no_coverage_card(source: CardSource, order_reference: str, technical: bool) -> JsonObject:
    if technical:
        summary = "Coverage could not be checked: the patient's coverage was not retrievable"
        detail = "Try again; if this persists, submit the request for review directly."
    else:
        summary = f"No active coverage with {source.payer_name} was found for this patient"
        detail = "Reason: coverage-not-found. Check the patient's insurance on file."
    return card(source, "coverage-info", summary[:139], "warning", detail, order_reference)


def _reference(order: Resource) -> str:
    return f"{order.get('resourceType')}/{order.get('id')}"
