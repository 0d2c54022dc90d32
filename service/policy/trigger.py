"""Which orders a policy is about (SPEC section 1): an order is in scope when its type and status
match a trigger rule and its code (or its medication's code, however the medication is given:
CodeableConcept, contained, or referenced) is in the rule's ValueSet or code list.
"""

from __future__ import annotations

from collections.abc import Iterable

from service.fhir.record import PatientRecord, codings
from service.policy.folder import Policy, TriggerRule
from service.terminology.codes import normalize_code
from service.types import Resource

# Where the ordered thing's code sits, per order type (FHIR R4).
_ORDER_CODE_PATHS = {
    "MedicationRequest": "medicationCodeableConcept",
    "ServiceRequest": "code",
    "DeviceRequest": "codeCodeableConcept",
    "NutritionOrder": "code",
}


def is_in_scope(order: Resource, policy: Policy, record: PatientRecord) -> bool:
    rule = policy.triggers.get(str(order.get("resourceType")))
    status = order.get("status")
    if rule is None or not isinstance(status, str) or status not in rule.statuses:
        return False
    return any(_matches(rule, policy, system, code) for system, code in order_codes(order, record))


def order_codes(order: Resource, record: PatientRecord) -> list[tuple[str, str]]:
    """The codes of what an order asks for, following a medication reference when there is one."""
    concepts: list[object] = [order.get(_ORDER_CODE_PATHS.get(str(order.get("resourceType")), ""))]
    medication_reference = order.get("medicationReference")
    if medication_reference is not None:
        medication = record.resolve(medication_reference, within=order)
        if medication is not None:
            concepts.append(medication.get("code"))
    return [coding for concept in concepts for coding in codings(concept)]


def medication_references(orders: Iterable[Resource]) -> list[str]:
    """Referenced (not contained) Medications of the orders, for the resolver to fetch if absent."""
    found = []
    for order in orders:
        reference = (order.get("medicationReference") or {}).get("reference")
        if isinstance(reference, str) and reference and not reference.startswith("#"):
            found.append(reference)
    return found


def _matches(rule: TriggerRule, policy: Policy, system: str, code: str) -> bool:
    if normalize_code(system, code) in rule.codes:
        return True
    return rule.value_set is not None and policy.terminology.in_value_set(
        system, code, rule.value_set
    )
