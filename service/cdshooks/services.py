"""The CDS services this endpoint offers: one small typed table, one row per hook.

Prefetch, minimum necessary (CRD found-27/28): discovery asks only for what every call of the
hook needs to tell whether an order is in scope and whose rules apply: the patient, the active
Coverage, and the Medications (order-sign, order-select) or orders (order-dispatch) the context
names by reference, the CRD 2.2 way (`Medication?_id=` with a simple-FHIRPath token, no
`_include`). A client that cannot fill a FHIRPath token leaves the key out, and the service reads
those references itself. The clinical data a policy reads (conditions, the policy's observations,
medication history) is not asked for in prefetch: the service queries `fhirServer` for it only
when an order is in scope. It is still read when a client sends it under those keys (what our
discovery offered before), so such a client loses nothing.
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
# Read from the request when sent; never fetched by template: the service reads each reference
# the orders make (service/policy/trigger.py medication_references, the context's order
# references) one by one, which needs no FHIRPath on our side.
_DRAFT_ORDER_MEDICATIONS = PrefetchTemplate(
    "medications",
    "Medication?_id={{context.draftOrders.entry.resource.ofType(MedicationRequest)"
    ".medication.resolve().id}}",
    required=False,
    fetched=False,
)


@dataclass(frozen=True)
class HookService:
    id: str
    hook: str
    title: str
    description: str
    context_model: type[HookContext]
    # CRD hook-19: secondary hooks (order-select) never ask for documentation.
    asks_for_documentation: bool
    # What discovery asks for beyond the patient and the Coverage: the orders' own references.
    order_prefetch: tuple[PrefetchTemplate, ...] = ()
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
        order_prefetch=(_DRAFT_ORDER_MEDICATIONS,),
    ),
    HookService(
        id="crd-order-select",
        hook="order-select",
        title="Coverage requirements at order selection",
        description="Early notice of prior authorization and coverage limits for the orders "
        "just selected.",
        context_model=OrderSelectContext,
        asks_for_documentation=False,
        order_prefetch=(_DRAFT_ORDER_MEDICATIONS,),
    ),
    HookService(
        id="crd-order-dispatch",
        hook="order-dispatch",
        title="Coverage requirements at order dispatch",
        description="Prior authorization, documentation and dose limits for orders dispatched "
        "to a performer.",
        context_model=OrderDispatchContext,
        asks_for_documentation=True,
        # Not `medicationRequests`: that key (when a client sends it) is the patient's history.
        order_prefetch=tuple(
            PrefetchTemplate(
                f"dispatched{kind}s",
                f"{kind}?_id={{{{context.dispatchedOrders.resolve().ofType({kind}).id}}}}",
                required=False,
                fetched=False,
            )
            for kind in ("MedicationRequest", "ServiceRequest")
        ),
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
    """The templates a call's prefetch is read by (and the service fetches by, when an order is
    in scope); `advertised`: only those discovery offers."""
    asked = [
        PrefetchTemplate("patient", f"Patient/{PATIENT}", required=False),
        # Without coverage we cannot say which payer's rules apply: the one required key.
        PrefetchTemplate("coverage", f"Coverage?patient={PATIENT}&status=active", required=True),
        *service.order_prefetch,
    ]
    if advertised:
        return asked
    return [*asked, *clinical_templates(policies), *service.accepted_prefetch]


def clinical_templates(policies: Sequence[Policy]) -> list[PrefetchTemplate]:
    """What the policies' criteria read, queried only for a call with an order in scope. These
    are our own queries, not prefetch, so `_include` brings the Medications the history names."""
    codes = sorted({f"{key.system}|{key.code}" for p in policies for key in p.observation_codes})
    return [
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
    ]
