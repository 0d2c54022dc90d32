"""What the service says about each in-scope order (SPEC section 5), from one evaluation each.

- A Coverage instance to attach it to: a coverage-information system action (CRD hook-16: primary
  hooks always carry one), and the cards of `order_cards` the request's configuration allows.
- One inactive Coverage: `not-covered`, reason `no-active-coverage` (CRD resp-45).
- No Coverage instance at all: the extension cannot be returned (its `coverage` is 1..1, and the
  IG says so in that element's comment), so a card says no coverage was found
  (`coverage-not-found`, CRD resp-45), or that the coverage could not be fetched.
- Clinical data that could not be fetched in time, or an evaluation that failed: `indeterminate`
  (2.0.1: `conditional`) with reason `technical`, and no cards that would rest on it.
- Every assertion id handed out is kept with an evaluation, so DTR and PAS know it: one that
  could not be evaluated is kept as knowing nothing (every criterion unknown), and the form
  asks all of it, pre-filled by the DTR app from the EHR and evaluated once submitted.
- order-select never asks for documentation or a questionnaire (CRD hook-19) and gets no
  instructions card.
- An order that already carries the same guidance for that Coverage (all but its date and id)
  gets no update (CRD resp-35: nothing new or changed); its evaluation is kept in a row that
  continues the assertion the order carries, which DTR then reads (storage/crd_answers.py).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from service.cdshooks.prefetch_resolver import ResolvedPrefetch
from service.crd.assertions import (
    coverage_assertion,
    named_coverage,
    not_active_assertion,
    order_reference,
    technical_assertion,
)
from service.crd.calls import HookCall, HookEnvironment
from service.crd.cards import CardSource, card
from service.crd.coverage import CoverageChoice
from service.crd.coverage_information import CoverageInformation, already_carries, system_action
from service.crd.order_cards import instructions_card, limit_card, off_policy_card, policy_card
from service.errors import CqlRuntimeError
from service.fhir.record import PatientRecord
from service.policy.evaluation import Evaluation
from service.policy.folder import Policy
from service.types import JsonObject, Resource

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AssertedEvaluation:
    """What the service asserted about one order, and the evaluation it rests on."""

    assertion_id: str
    policy_id: str
    coverage_reference: str
    evaluation: Evaluation
    continues: str | None = None  # the assertion the order still carries (nothing changed)


@dataclass(frozen=True)
class OrderAnswers:
    response: JsonObject
    order_references: list[str]
    outcome: str
    evaluations: tuple[AssertedEvaluation, ...] = ()


def answer_orders(
    call: HookCall,
    env: HookEnvironment,
    record: PatientRecord,
    in_scope: Sequence[tuple[Resource, Policy]],
    choice: CoverageChoice,
    prefetch: ResolvedPrefetch,
) -> OrderAnswers:
    # Data that failed to come, or a Coverage we could not get at all (named by the orders).
    technical = bool(prefetch.technical_failures() or prefetch.missing_required())
    if not choice.found:
        return _without_coverage(call, env, in_scope, choice, technical)
    source = CardSource(env.settings.payer_name, call.version)
    actions: list[JsonObject] = []
    cards: list[tuple[str, JsonObject]] = []
    evaluations: list[AssertedEvaluation] = []
    failed = technical
    for order, policy in in_scope:
        evaluation = None if technical else _evaluate(env, policy, record, order, call)
        failed = failed or evaluation is None
        kept = evaluation or _unevaluated(env, policy, order)
        # One coverage-information per Coverage, in one update of the order (CRD resp-29).
        changed: list[CoverageInformation] = []
        for coverage in choice.for_order(record, order):
            assertion = coverage_assertion(call, policy, order, coverage, evaluation, env.settings)
            carried = already_carries(order, assertion)
            if carried is None:
                changed.append(assertion)
            evaluations.append(
                AssertedEvaluation(
                    assertion.assertion_id, policy.id, assertion.coverage_reference, kept, carried
                )
            )
        if changed:
            actions.append(system_action(order, *changed))
        if evaluation is not None:
            cards += _cards(call, source, policy, evaluation, order, env.settings.base_url)
    references = [order_reference(order) for order, _ in in_scope]
    outcome = "technical" if failed else "coverage-information"
    return OrderAnswers(_response(cards, actions, call), references, outcome, tuple(evaluations))


def _without_coverage(
    call: HookCall,
    env: HookEnvironment,
    in_scope: Sequence[tuple[Resource, Policy]],
    choice: CoverageChoice,
    technical: bool,
) -> OrderAnswers:
    references = [order_reference(order) for order, _ in in_scope]
    named = [named_coverage(order) for order, _ in in_scope]
    if technical and all(named):
        # The Coverage could not be had, but each order names its own: coverage information
        # about that Coverage, technical (CRD resp-25: coverage information is never a card).
        given = [
            (o, p, technical_assertion(call, p, ref))
            for (o, p), ref in zip(in_scope, named, strict=True)
            if ref is not None
        ]
        return _unevaluated_answers(call, env, given, references, "technical")
    if choice.inactive is not None and not technical:
        inactive = f"Coverage/{choice.inactive.get('id')}"
        given = [(o, p, not_active_assertion(call, inactive)) for o, p in in_scope]
        return _unevaluated_answers(call, env, given, references, "no-active-coverage")
    source = CardSource(env.settings.payer_name, call.version)
    cards = [("coverage-info", _no_coverage_card(source, ref, technical)) for ref in references]
    outcome = "technical" if technical else "coverage-not-found"
    return OrderAnswers(_response(cards, [], call), references, outcome)


def _unevaluated_answers(
    call: HookCall,
    env: HookEnvironment,
    given: Sequence[tuple[Resource, Policy, CoverageInformation]],
    references: list[str],
    outcome: str,
) -> OrderAnswers:
    """Coverage information resting on no evaluation, each assertion kept as knowing nothing.
    An order that already carries the same guidance gets no update (CRD resp-35)."""
    actions: list[JsonObject] = []
    evaluations: list[AssertedEvaluation] = []
    for order, policy, info in given:
        carried = already_carries(order, info)
        if carried is None:
            actions.append(system_action(order, info))
        unevaluated = _unevaluated(env, policy, order)
        evaluations.append(
            AssertedEvaluation(
                info.assertion_id, policy.id, info.coverage_reference, unevaluated, carried
            )
        )
    return OrderAnswers(_response([], actions, call), references, outcome, tuple(evaluations))


def _unevaluated(env: HookEnvironment, policy: Policy, order: Resource) -> Evaluation:
    return env.engines[policy.id].unevaluated(order_reference(order))


def _cards(
    call: HookCall,
    source: CardSource,
    policy: Policy,
    evaluation: Evaluation,
    order: Resource,
    base_url: str,
) -> list[tuple[str, JsonObject]]:
    """(configuration option, card), most important first."""
    candidates = [
        ("off-guideline", off_policy_card(source, policy, evaluation, order)),
        ("limits", limit_card(source, policy, evaluation, order)),
        (
            "coverage-info",
            instructions_card(source, policy, evaluation, order)
            if call.service.asks_for_documentation
            else None,
        ),
        ("guideline", policy_card(source, policy, order, base_url)),
    ]
    return [(option, built) for option, built in candidates if built is not None]


def _response(
    cards: list[tuple[str, JsonObject]], actions: list[JsonObject], call: HookCall
) -> JsonObject:
    """Apply the request's CRD configuration (dev-14): switched-off card types, no coverage
    information when `coverage-info` is off, at most `max-cards` cards."""
    configuration = call.configuration
    kept = [built for option, built in cards if configuration.enabled(option)]
    # `systemActions` always, `[]` when there are none: optional in CDS Hooks, but the public
    # CRD conformance kit fails order-sign and order-dispatch answers without it.
    shown = actions if configuration.enabled("coverage-info") else []
    return {"cards": kept[: configuration.max_cards], "systemActions": shown}


def _evaluate(
    env: HookEnvironment, policy: Policy, record: PatientRecord, order: Resource, call: HookCall
) -> Evaluation | None:
    """The policy's evaluation of the order; None when the engine could not run (technical).

    The record is the EHR's, validated only where the policy needs it: data the engine cannot
    read (a malformed element deep in a prefetched resource) makes this order's answer
    `technical`, never a 500 for the whole call. The log names the failure's kind and place only:
    an exception's message may quote record values."""
    try:
        reference = f"{order.get('resourceType')}/{order.get('id')}"
        return env.engines[policy.id].evaluate(record, reference, call.today)
    except CqlRuntimeError as error:
        cause = error.__cause__ or error
        where = traceback.extract_tb(cause.__traceback__)[-1]
        log.error(
            "policy evaluation failed: %s at %s:%s",
            type(cause).__name__,
            Path(where.filename).name,
            where.lineno,
            extra={"policy": policy.id},
        )
        return None


def _no_coverage_card(source: CardSource, order_reference: str, technical: bool) -> JsonObject:
    if technical:
        summary = "Coverage could not be checked: the patient's coverage was not retrievable"
        detail = "Try again; if this persists, submit the request for review directly."
    else:
        summary = f"No active coverage with {source.payer_name} was found for this patient"
        detail = "Reason: coverage-not-found. Check the patient's insurance on file."
    return card(source, "coverage-info", summary[:139], "warning", detail, order_reference)
