"""Who and what a prior-authorization case is about, as a reviewer's queue names it: the member
(the Coverage's member id), the patient with their age, the prescriber and the drug. Read from
the stored PAS request Bundle as the submitter sent it; nothing is worked out again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from service.policy.folder import Policy
from service.types import JsonObject, Resource

# HL7 v2 table 0203 "MB": member number (Da Vinci HRex Coverage's member identifier).
_IDENTIFIER_TYPES = "http://terminology.hl7.org/CodeSystem/v2-0203"
_MEMBER = "MB"


@dataclass(frozen=True)
class CaseSubject:
    member_id: str  # "" when the request gives none
    patient: str
    born: str
    age: str  # "46 years", "11 months"; "" when the birth date is not given
    prescriber: str
    drug: str


def case_subject(bundle: JsonObject, policy: Policy | None, today: date) -> CaseSubject:
    resources = bundle_resources(bundle)
    claim = next(iter(resources.values()), {})
    patient = _resolve(resources, claim.get("patient")) or _first(resources, "Patient")
    order = _order(claim, resources)
    born = str(patient.get("birthDate") or "")
    return CaseSubject(
        member_id=_member_id(_coverage(claim, resources), patient),
        patient=person_name(patient) or f"Patient {patient.get('id', '')}".strip(),
        born=born or "unknown",
        age=age_text(born, today),
        prescriber=_prescriber(claim, order, resources),
        drug=_drug(order, policy),
    )


def bundle_resources(bundle: JsonObject) -> dict[str, Resource]:
    """`Type/id` -> resource, in the Bundle's order (the Claim first)."""
    found = {}
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") or {}
        found[f"{resource.get('resourceType')}/{resource.get('id')}"] = resource
    return found


def person_name(resource: Resource) -> str:
    """A Patient's or Practitioner's first name as written (prefix, given names, family), or an
    Organization's name."""
    names = resource.get("name") or [{}]
    if isinstance(names, str):  # an Organization's name
        return names
    name = names[0] if isinstance(names[0], dict) else {}
    if name.get("text"):
        return str(name["text"])
    words = [*(name.get("prefix") or []), *(name.get("given") or []), name.get("family") or ""]
    return " ".join(str(w) for w in words if w)


def age_text(born: str, today: date) -> str:
    """Whole years, or whole months under two years; "" for a birth date not given or unread."""
    parts = born.split("-")
    try:
        year, month, day = (int(p) for p in (parts + ["1", "1"])[:3])
        birth = date(year, month, day)
    except ValueError:
        return ""
    months = (today.year - birth.year) * 12 + today.month - birth.month
    months -= 1 if today.day < birth.day else 0
    if months < 0:
        return ""
    if months < 24:
        return f"{months} month{'s' if months != 1 else ''}"
    return f"{months // 12} years"


def _resolve(resources: dict[str, Resource], reference: object) -> Resource | None:
    if not isinstance(reference, dict) or not isinstance(reference.get("reference"), str):
        return None
    target = str(reference["reference"])
    return next(
        (r for key, r in resources.items() if target == key or target.endswith(f"/{key}")), None
    )


def _first(resources: dict[str, Resource], resource_type: str) -> Resource:
    return next((r for r in resources.values() if r.get("resourceType") == resource_type), {})


def _order(claim: Resource, resources: dict[str, Resource]) -> Resource:
    for item in claim.get("item") or []:
        for extension in item.get("extension") or []:
            if str(extension.get("url", "")).endswith("/extension-requestedService"):
                found = _resolve(resources, extension.get("valueReference"))
                if found is not None:
                    return found
    return {}


def _coverage(claim: Resource, resources: dict[str, Resource]) -> Resource:
    insurance = claim.get("insurance") or []
    focal = next((i for i in insurance if i.get("focal")), insurance[0] if insurance else {})
    return _resolve(resources, focal.get("coverage")) or _first(resources, "Coverage")


def _member_id(coverage: Resource, patient: Resource) -> str:
    """The Coverage's member identifier, else its subscriberId, else the Patient's member
    identifier."""
    for identifier in coverage.get("identifier") or []:
        if _is_member(identifier):
            return str(identifier.get("value") or "")
    if coverage.get("subscriberId"):
        return str(coverage["subscriberId"])
    return next(
        (str(i.get("value") or "") for i in patient.get("identifier") or [] if _is_member(i)), ""
    )


def _is_member(identifier: Resource) -> bool:
    codings = (identifier.get("type") or {}).get("coding") or []
    return any(c.get("system") == _IDENTIFIER_TYPES and c.get("code") == _MEMBER for c in codings)


def _prescriber(claim: Resource, order: Resource, resources: dict[str, Resource]) -> str:
    """The order's requester by name, and the Claim's requesting provider; a reference the
    request does not resolve is shown as its display only."""
    names = []
    for reference in (order.get("requester"), claim.get("provider")):
        resource = _resolve(resources, reference)
        named = person_name(resource) if resource else ""
        named = named or (
            str(reference.get("display") or "") if isinstance(reference, dict) else ""
        )
        if named and named not in names:
            names.append(named)
    return " · ".join(names) or "not named"


def _drug(order: Resource, policy: Policy | None) -> str:
    """The order's own words for what it orders, else the display the policy's ValueSets give
    its code, else the policy's billing code."""
    concept = order.get("medicationCodeableConcept") or order.get("code") or {}
    codings = concept.get("coding") or []
    named = concept.get("text") or next((c["display"] for c in codings if c.get("display")), None)
    if named:
        return str(named)
    if policy is not None:
        for coding in codings:
            found = _display_in_policy(policy, str(coding.get("system")), str(coding.get("code")))
            if found:
                return found
        return str(policy.billing_code.get("display") or "not named")
    return "not named"


def _display_in_policy(policy: Policy, system: str, code: str) -> str | None:
    for url in policy.terminology.urls():
        value_set = policy.terminology.value_set(url) or {}
        for include in (value_set.get("compose") or {}).get("include") or []:
            if include.get("system") != system:
                continue
            for concept in include.get("concept") or []:
                if concept.get("code") == code and concept.get("display"):
                    return str(concept["display"])
    return None
