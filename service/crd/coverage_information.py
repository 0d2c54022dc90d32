"""The `ext-coverage-information` extension (CRD StructureDefinition ext-coverage-information, as
the version in use has it) and the system action that carries it (CRD "Coverage Information"
response type): an `update` of the order with the extension added, nothing else changed.

The version's invariants (2.0.1 crd-ci-q1..q5, 2.2 crd-ci-q1..q9) are checked on every extension
built here (`check_invariants`); a reason code outside the version's value set goes as text.
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from datetime import date

from service.crd.versions import DEFAULT, CrdVersion
from service.errors import InvariantViolation
from service.types import JsonObject, Resource

EXTENSION_URL = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"


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
    version: CrdVersion = DEFAULT


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
    reason = _reason(info)
    if reason:
        parts.append({"url": "reason", "valueCodeableConcept": reason})
    parts += [{"url": "detail", "extension": list(detail["extension"])} for detail in info.details]
    parts += [{"url": "questionnaire", "valueCanonical": url} for url in info.questionnaires]
    parts.append({"url": "date", "valueDate": info.on.isoformat()})
    parts.append({"url": "coverage-assertion-id", "valueString": info.assertion_id})
    if info.expiry is not None:
        parts.append({"url": "expiry-date", "valueDate": info.expiry.isoformat()})
    built = {"url": EXTENSION_URL, "extension": parts}
    check_invariants(built, info.version)
    return built


def _reason(info: CoverageInformation) -> JsonObject:
    concept: JsonObject = {}
    version = info.version
    if info.reason_code and version.reason_coded(info.reason_code):
        concept["coding"] = [{"system": version.reason_system, "code": info.reason_code}]
    elif info.reason_code and not info.reason_text:
        raise InvariantViolation(
            f"crd-ci-q7: reason {info.reason_code!r} is not a CRD {version.label} code "
            "and has no text"
        )
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


# What makes one assertion differ from another without the guidance differing.
_BOOKKEEPING = frozenset({"date", "coverage-assertion-id"})


def already_carries(order: Resource, info: CoverageInformation) -> str | None:
    """The coverage-assertion-id of the order's coverage information for this Coverage when it
    says everything `info` says (CRD resp-35: no update unless something is new or changed);
    None when there is none, or when it differs in anything but its date and id."""
    wanted: list[str] | None = None  # built only for an order that carries ours already
    for existing in order.get("extension") or []:
        if not _answers_for(existing, info):
            continue
        parts = existing.get("extension") or []
        ids = [p.get("valueString") for p in parts if p.get("url") == "coverage-assertion-id"]
        wanted = wanted if wanted is not None else _guidance(extension(info))
        if _guidance(existing) == wanted and len(ids) == 1 and isinstance(ids[0], str):
            return ids[0]
    return None


def _guidance(built: JsonObject) -> list[str]:
    """The extension's parts but its date and id, in a canonical order (a client may reorder)."""
    parts = built.get("extension") or []
    return sorted(
        json.dumps(p, sort_keys=True)
        for p in parts
        if not isinstance(p, dict) or p.get("url") not in _BOOKKEEPING
    )


def system_action(order: Resource, *infos: CoverageInformation) -> JsonObject:
    """One update of the order carrying each coverage information given (one per Coverage)."""
    annotated = order
    for info in infos:
        annotated = annotated_order(annotated, info)
    return {
        "type": "update",
        "description": "Coverage information for the order",
        "resource": annotated,
    }


def check_invariants(built: JsonObject, version: CrdVersion) -> None:
    """The version's crd-ci rules, as its IG states them, on one extension."""
    values: dict[str, list[object]] = {}
    for part in built["extension"]:
        value = next((v for k, v in part.items() if k.startswith("value")), part.get("extension"))
        values.setdefault(part["url"], []).append(value)
    for rule, holds in version.invariants:
        if not holds(values):
            raise InvariantViolation(rule)
