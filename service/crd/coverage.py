"""Which Coverage a CRD answer is about (CRD STU 2.2, "Hook invocation" hook-13 and resp-45).

- Candidates: Coverage resources in the record that are active on the day of the call.
- If the in-scope orders name their insurance, only those Coverages are candidates.
- With `payer_identifiers` configured (production requires it), a candidate must name one of our
  payers in `payor`: a logical reference's identifier, or the identifier of the Organization it
  references, prefetched or read from fhirServer (`payors_to_fetch`). Coverage of another payer,
  or whose payer cannot be told, is the 400 of CRD hook-13.
- Several candidates left (several active Coverages of this payer): each order is answered for
  the Coverage it names, else for each of them, one coverage-information per Coverage (SPEC
  section 5; CRD: coverage information is per coverage). A record an EHR rightly sends is never
  refused for it.
- One Coverage that is not active on the day: `not-covered`, reason `no-active-coverage` (resp-45).
- None at all: answered, not refused, with reason `coverage-not-found` (resp-45). This is a
  deliberate reading: hook-13 also lists "no Coverage accessible" under 400, but a prescriber is
  better served by an answer saying the payer found no coverage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from service.errors import BadRequest, Issue
from service.fhir.record import PatientRecord
from service.fhir.validation import READ_ELEMENTS, check_resources
from service.types import Resource


@dataclass(frozen=True)
class CoverageChoice:
    # This payer's active Coverages the answer is about (none: no active Coverage of ours).
    coverages: tuple[Resource, ...]
    # With no active candidate: the one inactive Coverage there is, for a `not-covered` answer with
    # reason `no-active-coverage` (CRD resp-45) that can point at it.
    inactive: Resource | None = None

    @property
    def coverage(self) -> Resource | None:
        return self.coverages[0] if self.coverages else None

    @property
    def found(self) -> bool:
        return bool(self.coverages)

    def for_order(self, record: PatientRecord, order: Resource) -> tuple[Resource, ...]:
        """The Coverages one order is answered for: those of ours it names, else every one."""
        named = _named_by_orders(record, [order])
        chosen = tuple(c for c in self.coverages if any(c is n for n in named))
        return chosen or self.coverages


def select_coverage(
    record: PatientRecord,
    orders: Sequence[Resource],
    payer_identifiers: Sequence[str],
    today: date,
) -> CoverageChoice:
    named = _named_by_orders(record, orders)
    every = [c for c in record.of_type("Coverage") if not named or any(c is n for n in named)]
    # Which payer's rules apply rests on these: a malformed Coverage is a 400, not a guess.
    check_resources(every, "prefetch coverage", READ_ELEMENTS)
    candidates = [c for c in every if _active_on(c, today)]
    if payer_identifiers:
        candidates = _ours(candidates, record, payer_identifiers)
    if candidates:
        return CoverageChoice(tuple(candidates))
    return CoverageChoice((), every[0] if len(every) == 1 else None)


def _ours(
    candidates: list[Resource], record: PatientRecord, payer_identifiers: Sequence[str]
) -> list[Resource]:
    """The active Coverages of a payer this service answers for; when every one is another
    payer's, a 400 naming them (the call came to the wrong payer)."""
    foreign = [c for c in candidates if not _is_ours(c, record, payer_identifiers)]
    if foreign and len(foreign) == len(candidates):
        raise BadRequest(
            "the Coverage given is not for a payer this service answers for",
            issues=[_foreign_issue(c, record) for c in foreign],
        )
    return [c for c in candidates if c not in foreign]


def payors_to_fetch(record: PatientRecord, payer_identifiers: Sequence[str]) -> list[str]:
    """The payor references of the record's Coverages that are neither in the record nor carry
    an identifier: what must be read to tell whether a Coverage is ours (none when
    PAYER_IDENTIFIERS is empty)."""
    if not payer_identifiers:
        return []
    found = []
    for coverage in record.of_type("Coverage"):
        for payor in coverage.get("payor") or []:
            if not isinstance(payor, dict) or isinstance(payor.get("identifier"), dict):
                continue
            reference = payor.get("reference")
            if not isinstance(reference, str) or not reference.startswith("Organization/"):
                continue
            if record.resolve(payor, within=coverage) is None:
                found.append(reference)
    return found


def _active_on(coverage: Resource, today: date) -> bool:
    if coverage.get("status") != "active":
        return False
    period = coverage.get("period") or {}
    start, end = _day(period.get("start")), _day(period.get("end"))
    return (start is None or start <= today) and (end is None or today <= end)


def _day(value: object) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _named_by_orders(record: PatientRecord, orders: Sequence[Resource]) -> list[Resource]:
    named = []
    for order in orders:
        for reference in order.get("insurance") or []:
            resolved = record.resolve(reference, within=order)
            if resolved is not None and resolved.get("resourceType") == "Coverage":
                named.append(resolved)
    return named


def _is_ours(coverage: Resource, record: PatientRecord, payer_identifiers: Sequence[str]) -> bool:
    wanted = set(payer_identifiers)
    for payor in coverage.get("payor") or []:
        identifiers = [payor.get("identifier")] if isinstance(payor, dict) else []
        organization = record.resolve(payor, within=coverage)
        if organization is not None:
            identifiers.extend(organization.get("identifier") or [])
        for identifier in identifiers:
            if isinstance(identifier, dict) and wanted & _spellings(identifier):
                return True
    return False


def _spellings(identifier: Resource) -> set[str]:
    value, system = identifier.get("value"), identifier.get("system")
    if not isinstance(value, str):
        return set()
    return {value, f"{system}|{value}"} if isinstance(system, str) else {value}


def _foreign_issue(coverage: Resource, record: PatientRecord) -> Issue:
    unread = [
        p["reference"]
        for p in coverage.get("payor") or []
        if isinstance(p, dict)
        and isinstance(p.get("reference"), str)
        and not isinstance(p.get("identifier"), dict)
        and record.resolve(p, within=coverage) is None
    ]
    what = (
        f"its payor {', '.join(unread)} was neither prefetched nor retrievable from fhirServer"
        if unread
        else "it names no payor identifier this endpoint answers for"
    )
    return Issue(
        f"Coverage/{coverage.get('id', '?')} is not known to be ours: {what}",
        code="business-rule",
        expression=("Coverage.payor",),
    )
