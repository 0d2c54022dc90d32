"""The coverage assertion for one in-scope order, from the policy's facts and its evaluation of the
order (SPEC section 5), shaped for the CRD version in use.

Details (CRD "coverage-information" detail; codes from the version's detail code system: 2.0.1's
CRD temp code system, 2.2's THO crd-coverage-detail):
- allowed-quantity: the quantity limit the contract marks for it (`crdDetail`), in its UCUM unit,
  when the evaluation knows it for this patient, qualified by how it was set;
- allowed-period: the period limit the contract marks for it, when its start is known;
- policy-link: the policy document this service publishes (2.2 only);
- instructions: how to submit (2.2 only, never at order-select; 2.0.1 clients get it on the
  instructions card).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from service.crd.calls import HookCall
from service.crd.coverage_information import CoverageInformation, new_assertion_id
from service.crd.versions import CrdVersion
from service.policy.display import quantity
from service.policy.evaluation import Evaluation, Status
from service.policy.folder import Policy
from service.settings import Settings
from service.types import JsonObject, Resource

_CATEGORY = {
    "allowed-quantity": "cat-limitation",
    "allowed-period": "cat-limitation",
    "policy-link": "cat-other",
    "instructions": "cat-decisional",
}


def order_reference(order: Resource) -> str:
    return f"{order.get('resourceType')}/{order.get('id')}"


def named_coverage(order: Resource) -> str | None:
    """The `Coverage/{id}` an order's `insurance` names first, if any."""
    for insurance in order.get("insurance") or []:
        reference = insurance.get("reference") if isinstance(insurance, dict) else None
        if isinstance(reference, str) and reference.startswith("Coverage/"):
            return reference
    return None


def policy_url(base_url: str, policy: Policy) -> str:
    return f"{base_url.rstrip('/')}/policies/{policy.id}"


def coverage_assertion(
    call: HookCall,
    policy: Policy,
    order: Resource,
    coverage: Resource,
    evaluation: Evaluation | None,
    settings: Settings,
) -> CoverageInformation:
    coverage_ref = f"Coverage/{coverage.get('id')}"
    base_url = settings.base_url
    ident = new_assertion_id()
    if evaluation is None:
        return technical_assertion(call, policy, coverage_ref)
    rules = policy.prior_authorization
    documentation = call.service.asks_for_documentation
    off_policy = off_policy_reason(policy, evaluation)
    return CoverageInformation(
        coverage_reference=coverage_ref,
        # SPEC section 5: outside the listed indications coverage is conditional on
        # medical-necessity review, never a silent denial.
        covered="conditional" if off_policy else "covered",
        assertion_id=ident,
        on=call.today,
        pa_needed=rules.pa_needed,
        doc_needed=(rules.doc_needed,) if documentation else (),
        doc_purpose=(rules.doc_purpose,) if documentation else (),
        info_needed=("OTH",) if off_policy else (),
        reason_text=off_policy or (rules.reason if documentation else None),
        billing_codes=(policy.billing_code,),
        questionnaires=(policy.questionnaire,) if documentation else (),
        details=tuple(details(call.version, policy, evaluation, base_url, documentation)),
        # The assertion cannot outlive the coverage it is about.
        expiry=coverage_end(coverage) if call.version.expiry_date else None,
        version=call.version,
    )


def technical_assertion(call: HookCall, policy: Policy, coverage_ref: str) -> CoverageInformation:
    """What could not be had in time, said as coverage information (CRD resp-25: never a card):
    2.2 `indeterminate`, 2.0.1 `conditional`, reason technical."""
    version = call.version
    return CoverageInformation(
        coverage_reference=coverage_ref,
        covered=version.technical_covered,
        assertion_id=new_assertion_id(),
        on=call.today,
        # 2.0.1 crd-ci-q2: a conditional answer still says whether PA is needed; the policy
        # says so whatever the record holds.
        pa_needed=policy.prior_authorization.pa_needed if version.technical_pa_needed else None,
        # crd-ci-q3: a `conditional` assertion (2.0.1's way to say it) names what is needed.
        info_needed=("OTH",) if version.technical_covered == "conditional" else (),
        reason_code="technical",
        reason_text="Part of the patient's record could not be retrieved or evaluated in time.",
        version=version,
    )


def coverage_end(coverage: Resource) -> date | None:
    end = (coverage.get("period") or {}).get("end")
    try:
        return date.fromisoformat(end[:10]) if isinstance(end, str) else None
    except ValueError:
        return None


def not_active_assertion(call: HookCall, coverage_ref: str) -> CoverageInformation:
    return CoverageInformation(
        coverage_reference=coverage_ref,
        covered="not-covered",
        assertion_id=new_assertion_id(),
        on=call.today,
        reason_code="no-active-coverage",
        reason_text="The patient's coverage is not active on this date.",
        version=call.version,
    )


def off_policy_reason(policy: Policy, evaluation: Evaluation) -> str | None:
    rule = policy.off_policy
    if rule is None or evaluation.criteria[rule.criterion].status is not Status.NOT_MET:
        return None
    return rule.reason


def details(
    version: CrdVersion,
    policy: Policy,
    evaluation: Evaluation,
    base_url: str,
    documentation: bool = True,
) -> list[JsonObject]:
    """`documentation`: whether this hook may speak of submitting documentation (CRD hook-19:
    order-select never does)."""
    found: list[tuple[str, JsonObject, str | None]] = []
    marked = {x.id: x.crd_detail for x in policy.evaluation.limits if x.crd_detail}
    for limit in evaluation.limits:
        code = marked.get(limit.id)
        if code == "allowed-quantity" and limit.value is not None and limit.unit is not None:
            amount = quantity(policy, Decimal(limit.value), limit.unit)
            found.append((code, {"valueQuantity": amount}, limit.basis))
        elif code == "allowed-period" and (period := limit.period()) is not None:
            value = {"start": period[0].isoformat(), "end": period[1].isoformat()}
            found.append((code, {"valuePeriod": value}, limit.label))
    found.append(("policy-link", {"valueUrl": policy_url(base_url, policy)}, policy.title))
    if documentation:
        submission = policy.prior_authorization.submission
        found.append(("instructions", {"valueString": submission}, None))
    return [
        _detail(version, code, value, note)
        for code, value, note in found
        if code in version.detail_codes
    ]


def _detail(version: CrdVersion, code: str, value: JsonObject, note: str | None) -> JsonObject:
    parts: list[JsonObject] = []
    if version.detail_categories:
        parts.append({"url": "category", "valueCode": _CATEGORY[code]})
    parts.append(
        {
            "url": "code",
            "valueCodeableConcept": {"coding": [{"system": version.detail_system, "code": code}]},
        }
    )
    parts.append({"url": "value", **value})
    if note:
        parts.append({"url": "qualification", "valueString": note})
    return {"url": "detail", "extension": parts}
