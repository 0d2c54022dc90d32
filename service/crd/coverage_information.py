"""The `ext-coverage-information` extension (CRD STU 2.2 StructureDefinition
ext-coverage-information) and the system action that carries it (CRD "Coverage Information"
response type): an `update` of the order with the extension added, nothing else changed.

The invariants crd-ci-q1..q9 are checked on every extension built here (`check_invariants`).
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import date

from service.types import JsonObject, Resource

EXTENSION_URL = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"
REASON_SYSTEM = "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp"
# CRD ValueSet coverageAssertionReasons (extensible): other codes need reason.text (crd-ci-q7).
ASSERTION_REASONS = frozenset(
    {
        "gold-card",
        "no-member-found",
        "no-active-coverage",
        "coverage-not-found",
        "auth-out-network",
        "technical",
    }
)


@dataclass(frozen=True)
class CoverageInformation:
    coverage_reference: str
    covered: str
    assertion_id: str
    on: date
    pa_needed: str | None = None
    doc_needed: tuple[str, ...] = ()
    doc_purpose: tuple[str, ...] = ()
    info_needed: tuple[str, ...] = ()
    reason_code: str | None = None
    reason_text: str | None = None
    billing_codes: tuple[JsonObject, ...] = ()
    questionnaires: tuple[str, ...] = ()
    details: tuple[JsonObject, ...] = field(default=())
    expiry: date | None = None


def new_assertion_id() -> str:
    """A fresh id for every assertion given (122 random bits): it opens pre-filled PHI in DTR, so
    it must not be guessable, and two EHRs whose order and coverage ids collide must never
    share one."""
    return str(uuid.uuid4())


def extension(info: CoverageInformation) -> JsonObject:
    parts: list[JsonObject] = [
        {"url": "coverage", "valueReference": {"reference": info.coverage_reference}},
        {"url": "covered", "valueCode": info.covered},
    ]
    if info.pa_needed:
        parts.append({"url": "pa-needed", "valueCode": info.pa_needed})
    parts += [{"url": "doc-needed", "valueCode": code} for code in info.doc_needed]
    parts += [{"url": "doc-purpose", "valueCode": code} for code in info.doc_purpose]
    parts += [{"url": "info-needed", "valueCode": code} for code in info.info_needed]
    parts += [{"url": "billingCode", "valueCoding": coding} for coding in info.billing_codes]
    if info.reason_code or info.reason_text:
        parts.append({"url": "reason", "valueCodeableConcept": _reason(info)})
    parts += [{"url": "detail", "extension": list(detail["extension"])} for detail in info.details]
    parts += [{"url": "questionnaire", "valueCanonical": url} for url in info.questionnaires]
    parts.append({"url": "date", "valueDate": info.on.isoformat()})
    parts.append({"url": "coverage-assertion-id", "valueString": info.assertion_id})
    if info.expiry is not None:
        parts.append({"url": "expiry-date", "valueDate": info.expiry.isoformat()})
    built = {"url": EXTENSION_URL, "extension": parts}
    check_invariants(built)
    return built


def _reason(info: CoverageInformation) -> JsonObject:
    concept: JsonObject = {}
    if info.reason_code:
        concept["coding"] = [{"system": REASON_SYSTEM, "code": info.reason_code}]
    if info.reason_text:
        concept["text"] = info.reason_text
    return concept


def annotated_order(order: Resource, info: CoverageInformation) -> Resource:
    """The order as sent, with one coverage-information extension for this coverage (CRD: nothing
    else changed). An order signed again still carries the earlier answer for the same coverage:
    that one is replaced, not joined by a second that could contradict it. Answers for other
    coverages stay."""
    updated = copy.deepcopy(order)
    kept = [e for e in updated.get("extension", []) if not _answers_for(e, info)]
    updated["extension"] = [*kept, extension(info)]
    return updated


def _answers_for(existing: object, info: CoverageInformation) -> bool:
    if not isinstance(existing, dict) or existing.get("url") != EXTENSION_URL:
        return False
    parts = existing.get("extension")
    return isinstance(parts, list) and any(
        isinstance(p, dict)
        and p.get("url") == "coverage"
        and isinstance(p.get("valueReference"), dict)
        and p["valueReference"].get("reference") == info.coverage_reference
        for p in parts
    )


def system_action(order: Resource, info: CoverageInformation) -> JsonObject:
    return {
        "type": "update",
        "description": "Coverage information for the order",
        "resource": annotated_order(order, info),
    }


class InvariantViolation(ValueError):
    pass


def check_invariants(built: JsonObject) -> None:
    """crd-ci-q1..q9, as the IG states them, on one extension."""
    values: dict[str, list[object]] = {}
    for part in built["extension"]:
        value = next((v for k, v in part.items() if k.startswith("value")), part.get("extension"))
        values.setdefault(part["url"], []).append(value)
    for rule, holds in _RULES:
        if not holds(values):
            raise InvariantViolation(rule)


def _has(values: dict[str, list[object]], url: str, code: object = None) -> bool:
    found = values.get(url, [])
    return bool(found) if code is None else code in found


def _reason_explained(values: dict[str, list[object]]) -> bool:
    for reason in values.get("reason", []):
        codings = reason.get("coding", []) if isinstance(reason, dict) else []
        known = all(
            c.get("system") == REASON_SYSTEM and c.get("code") in ASSERTION_REASONS for c in codings
        )
        if not (isinstance(reason, dict) and (reason.get("text") or (codings and known))):
            return False
    return True


_INDETERMINATE_KEYS = ("covered", "pa-needed", "doc-needed")
_RULES = (
    ("crd-ci-q1", lambda v: not _has(v, "questionnaire") or _has(v, "doc-needed")),
    ("crd-ci-q2", lambda v: not _has(v, "covered", "not-covered") or not _has(v, "pa-needed")),
    (
        "crd-ci-q3",
        lambda v: (
            not any(_has(v, k, "conditional") for k in _INDETERMINATE_KEYS)
            or _has(v, "info-needed")
        ),
    ),
    (
        "crd-ci-q4",
        lambda v: (
            not any(_has(v, "pa-needed", c) for c in ("satisfied", "no-auth"))
            or not _has(v, "doc-purpose", "withpa")
        ),
    ),
    ("crd-ci-q5", lambda v: _has(v, "pa-needed", "satisfied") == _has(v, "satisfied-pa-id")),
    ("crd-ci-q6", lambda v: not _has(v, "info-needed", "OTH") or _has(v, "reason")),
    ("crd-ci-q7", _reason_explained),
    (
        "crd-ci-q8",
        lambda v: (
            not any(p != "conditional" for p in v.get("doc-purpose", [])) or _has(v, "reason")
        ),
    ),
    (
        "crd-ci-q9",
        lambda v: (
            not any(_has(v, k, "indeterminate") for k in _INDETERMINATE_KEYS) or _has(v, "reason")
        ),
    ),
)
