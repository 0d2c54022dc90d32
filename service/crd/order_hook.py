"""One CRD answer to an order hook (order-sign, order-select, order-dispatch), from parsed request
to CDS Hooks response. The steps, in order:

1. gather the orders the context names (inline, or by reference for order-dispatch);
2. resolve prefetch as given; fetch what is missing only when an order may be in scope (with
   PAYER_IDENTIFIERS set, the Coverages' payor Organizations too, when not sent);
3. index everything once in a PatientRecord and find the orders in scope of a policy;
4. check the in-scope orders as FHIR (400 when they are not), pick the Coverage (CRD hook-13);
5. answer each in-scope order: coverage information as a system action, or a card when there is
   no Coverage instance to attach it to (the extension's `coverage` is 1..1).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from service.cdshooks.contexts import HookContext
from service.cdshooks.prefetch_resolver import KeyStatus, ResolvedPrefetch, resolve_prefetch
from service.cdshooks.services import prefetch_templates
from service.crd.answers import OrderAnswers, answer_orders
from service.crd.assertions import named_coverage
from service.crd.calls import HookCall, HookEnvironment
from service.crd.coverage import payors_to_fetch, select_coverage
from service.errors import Issue, PreconditionFailed
from service.fhir.record import PatientRecord
from service.fhir.validation import READ_ELEMENTS, check_resources
from service.policy.folder import Policy
from service.policy.trigger import is_in_scope, medication_references
from service.types import Resource


async def answer_order_hook(call: HookCall, env: HookEnvironment) -> OrderAnswers:
    started = time.monotonic()
    inline = call.context.order_resources()
    wanted = [*call.context.order_references(), *medication_references(inline)]
    prefetch = await _resolve(call, env, wanted, fetch=False)
    record, in_scope = _scope(call.context, env, prefetch, inline)
    payors = payors_to_fetch(record, env.settings.payer_identifiers) if in_scope else []
    if payors:  # our coverage prefetch brings no Organization: the payer is read by reference
        wanted = [*wanted, *payors]
        prefetch = await _resolve(call, env, wanted, fetch=False)
    if _should_fetch(call, prefetch, in_scope):
        prefetch = await _resolve(call, env, wanted, fetch=True)
        record, in_scope = _scope(call.context, env, prefetch, inline)
        # A Coverage fetched just now names its payor by reference: read that too, in what is
        # left of the budget.
        payors = payors_to_fetch(record, env.settings.payer_identifiers) if in_scope else []
        if payors:
            spent_s = time.monotonic() - started
            prefetch = await _with_references(call, env, prefetch, payors, spent_s)
            record, in_scope = _scope(call.context, env, prefetch, inline)
    if not in_scope:
        _require_orders(call.context, record)
        return OrderAnswers({"cards": [], "systemActions": []}, [], "no-order-in-scope")
    check_resources([order for order, _ in in_scope], "context order", READ_ELEMENTS)
    # 412 only when the Coverage is neither prefetched, fetched nor named by every order.
    if not all(named_coverage(order) for order, _ in in_scope):
        _require(prefetch)
    choice = select_coverage(
        record, [o for o, _ in in_scope], env.settings.payer_identifiers, call.today
    )
    return answer_orders(call, env, record, in_scope, choice, prefetch)


async def _resolve(
    call: HookCall, env: HookEnvironment, wanted: list[str], fetch: bool
) -> ResolvedPrefetch:
    templates = {t.key: t for t in prefetch_templates(call.service, env.policies)}
    return await resolve_prefetch(
        call.request.prefetch,
        templates,
        call.request.context,
        call.fhir_server if fetch else None,
        call.request.access_token if fetch else None,
        env.fhir,
        env.settings.prefetch_budget_ms / 1000,
        extra_references=wanted,
    )


async def _with_references(
    call: HookCall,
    env: HookEnvironment,
    prefetch: ResolvedPrefetch,
    references: list[str],
    spent_s: float,
) -> ResolvedPrefetch:
    budget_s = max(env.settings.prefetch_budget_ms / 1000 - spent_s, 0.05)
    found = await resolve_prefetch(
        {},
        {},
        call.request.context,
        call.fhir_server,
        call.request.access_token,
        env.fhir,
        budget_s,
        extra_references=references,
    )
    return ResolvedPrefetch(
        (*prefetch.resources, *found.resources),
        {**prefetch.statuses, **found.statuses},
        prefetch.required,
    )


def _scope(
    context: HookContext, env: HookEnvironment, prefetch: ResolvedPrefetch, inline: list[Resource]
) -> tuple[PatientRecord, list[tuple[Resource, Policy]]]:
    """The record of this call, and its orders that a policy is about."""
    record = _record(prefetch, inline)
    orders = _orders(context, record, inline)
    in_scope = [(o, p) for o in orders for p in env.policies if is_in_scope(o, p, record)]
    return record, in_scope


def _record(prefetch: ResolvedPrefetch, inline: list[Resource]) -> PatientRecord:
    entries = [(r.resource, r.full_url) for r in prefetch.resources]
    return PatientRecord([*((order, None) for order in inline), *entries])


def _orders(context: HookContext, record: PatientRecord, inline: list[Resource]) -> list[Resource]:
    referenced = [record.resolve(reference) for reference in context.order_references()]
    return [*inline, *(order for order in referenced if order is not None)]


def _should_fetch(call: HookCall, prefetch: ResolvedPrefetch, in_scope: Sequence[object]) -> bool:
    """Fetch only when something is missing and it could matter: an order is in scope, or we
    cannot yet tell (a named order or a referenced medication is missing)."""
    if call.fhir_server is None:
        return False
    missing = [k for k, s in prefetch.statuses.items() if s is KeyStatus.UNAVAILABLE]
    if not missing:
        return False
    return bool(in_scope) or any("/" in key for key in missing)


def _require_orders(context: HookContext, record: PatientRecord) -> None:
    absent = [ref for ref in context.order_references() if record.resolve(ref) is None]
    if absent:
        raise PreconditionFailed(
            "the orders named in the context could not be had from prefetch or the FHIR server",
            issues=[Issue(f"{ref} not available", code="incomplete") for ref in absent],
        )


def _require(prefetch: ResolvedPrefetch) -> None:
    missing = prefetch.missing_required()
    if missing:
        raise PreconditionFailed(
            "required prefetch data was neither sent nor retrievable from fhirServer",
            issues=[Issue(f"prefetch '{key}' is missing", code="incomplete") for key in missing],
        )
