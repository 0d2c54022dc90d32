"""The CDS services this endpoint offers: one small typed table, one row per hook.

Prefetch templates use only CDS Hooks 2.0 prefetch tokens (root-level primitive context fields),
so any CDS Hooks 2.0 client can execute them; the observation codes come from the policies' data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.cdshooks.contexts import (
    HookContext,
    OrderDispatchContext,
    OrderSelectContext,
    OrderSignContext,
)
from service.cdshooks.prefetch_resolver import PrefetchTemplate
from service.policy.folder import Policy

PATIENT = "{{context.patientId}}"


@dataclass(frozen=True)
class HookService:
    id: str
    hook: str
    title: str
    description: str
    context_model: type[HookContext]
    # CRD hook-19: secondary hooks (order-select) never ask for documentation.
    asks_for_documentation: bool
    # Prefetch keys accepted when a client sends them but never advertised in discovery.
    accepted_prefetch: tuple[PrefetchTemplate, ...] = ()


SERVICES: tuple[HookService, ...] = (
    HookService(
        id="crd-order-sign",
        hook="order-sign",
        title="Coverage requirements at order signing",
        description="Prior authorization, documentation and dose limits for the orders being "
        "signed, with the questionnaire that gathers what the record does not show.",
        context_model=OrderSignContext,
        asks_for_documentation=True,
    ),
    HookService(
        id="crd-order-select",
        hook="order-select",
        title="Coverage requirements at order selection",
        description="Early notice of prior authorization and coverage limits for the orders "
        "just selected.",
        context_model=OrderSelectContext,
        asks_for_documentation=False,
    ),
    HookService(
        id="crd-order-dispatch",
        hook="order-dispatch",
        title="Coverage requirements at order dispatch",
        description="Prior authorization, documentation and dose limits for orders dispatched "
        "to a performer.",
        context_model=OrderDispatchContext,
        asks_for_documentation=True,
        # The older order-dispatch form (the public conformance kit's requests) names its order
        # in `context.order` and prefetches it as `order`. CDS Hooks 2.0's order-dispatch has
        # no such field, so discovery does not offer the template; what is sent is read.
        accepted_prefetch=(PrefetchTemplate("order", "{{context.order}}", required=False),),
    ),
)


def service_by_id(service_id: str) -> HookService | None:
    return next((service for service in SERVICES if service.id == service_id), None)


def prefetch_templates(
    service: HookService, policies: Sequence[Policy], advertised: bool = False
) -> list[PrefetchTemplate]:
    """The templates a call's prefetch is read by; `advertised`: only those discovery offers."""
    codes = sorted({f"{key.system}|{key.code}" for p in policies for key in p.observation_codes})
    return [
        PrefetchTemplate("patient", f"Patient/{PATIENT}", required=False),
        # Without coverage we cannot say which payer's rules apply: the one required key.
        PrefetchTemplate("coverage", f"Coverage?patient={PATIENT}&status=active", required=True),
        PrefetchTemplate("conditions", f"Condition?patient={PATIENT}", required=False),
        PrefetchTemplate(
            "observations", f"Observation?patient={PATIENT}&code={','.join(codes)}", required=False
        ),
        PrefetchTemplate(
            "medicationRequests",
            f"MedicationRequest?patient={PATIENT}&_include=MedicationRequest:medication",
            required=False,
        ),
        PrefetchTemplate(
            "medicationAdministrations",
            f"MedicationAdministration?patient={PATIENT}"
            "&_include=MedicationAdministration:medication",
            required=False,
        ),
        *(() if advertised else service.accepted_prefetch),
    ]
