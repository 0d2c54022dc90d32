"""A QuestionnaireResponse read against the DTR QuestionnaireResponse profile of its version
(service/dtr/versions.py) at intake: `subject`, `authored`, the Coverage and order it is about
(2.0.1: two or more `qr-context`; 2.2: `qr-coverage`), `intendedUse` from CRD's documentation
reasons, and on every answer one `information-origin` whose source is a code of the version and
which names its author exactly when a person gave or changed the answer (dtrx-1). When the
response belongs to a CRD assertion, its subject, Coverage and order are the assertion's."""

from __future__ import annotations

from collections.abc import Iterator

from service.dtr.prefill import INFORMATION_ORIGIN, INTENDED_USE, QR_CONTEXT
from service.dtr.responses import answered
from service.dtr.versions import QR_COVERAGE, DtrVersion
from service.errors import Issue
from service.storage.tables import CoverageAssertion
from service.types import JsonObject, Resource

# CRD's DocReason value set (both versions name the same codes; OTH from v3-NullFlavor).
DOC_REASONS = frozenset({"withpa", "withclaim", "withorder", "retain-doc", "OTH"})


def profile_issues(response: Resource, version: DtrVersion) -> list[Issue]:
    issues = [
        Issue(f"QuestionnaireResponse.{field} is required (DTR {version.label})", code="required")
        for field in ("subject", "authored")
        if not response.get(field)
    ]
    issues += _context_issues(response, version)
    for link_id, answer in answered(response):
        issues += [
            Issue(f"{link_id}: {problem}", expression=(_answer_path(link_id),))
            for problem in _origin_problems(answer, version)
        ]
    return issues


def binding_issues(response: Resource, assertion: CoverageAssertion) -> list[Issue]:
    """The response is about what the assertion it names was about."""
    issues = []
    subject = (response.get("subject") or {}).get("reference")
    if assertion.patient_id and subject != f"Patient/{assertion.patient_id}":
        issues.append(Issue("subject is not the patient of the coverage assertion"))
    about = set(_references(response, QR_CONTEXT)) | set(_references(response, QR_COVERAGE))
    for expected in (assertion.coverage_ref, assertion.order_ref):
        if expected not in about:
            issues.append(Issue(f"the response does not name {expected} of its coverage assertion"))
    return issues


def _context_issues(response: Resource, version: DtrVersion) -> list[Issue]:
    contexts = list(_references(response, QR_CONTEXT))
    issues = []
    if version.coverage_in_qr_coverage:
        if not list(_references(response, QR_COVERAGE)):
            issues.append(Issue("the response names no Coverage (qr-coverage, DTR 2.2)"))
    elif len(contexts) < 2:
        issues.append(Issue("the response needs qr-context for its Coverage and its order"))
    uses = [e for e in _extensions(response) if e.get("url") == INTENDED_USE]
    codes = {
        coding.get("code")
        for use in uses
        for coding in (use.get("valueCodeableConcept") or {}).get("coding") or []
        if isinstance(coding, dict)
    }
    if not codes & DOC_REASONS:
        issues.append(Issue("intendedUse (a CRD documentation reason) is required", "required"))
    return issues


def _origin_problems(answer: JsonObject, version: DtrVersion) -> list[str]:
    origins = [e for e in answer.get("extension") or [] if e.get("url") == INFORMATION_ORIGIN]
    if len(origins) != 1:
        return [f"needs one information-origin extension, has {len(origins)}"]
    parts = [p for p in origins[0].get("extension") or [] if isinstance(p, dict)]
    sources = [p.get("valueCode") for p in parts if p.get("url") == "source"]
    if len(sources) != 1 or sources[0] not in version.origin_codes:
        return [f"information-origin source {sources} is not one of {sorted(version.origin_codes)}"]
    authors = [p for p in parts if p.get("url") == "author"]
    return _author_problems(sources[0], authors, version)


def _author_problems(source: str, authors: list[JsonObject], version: DtrVersion) -> list[str]:
    """dtrx-1: an answer a person gave or changed names them; an automatic one names no one."""
    by_person = source in version.human_origins
    if by_person and not any(_names_someone(author) for author in authors):
        return [f"a {source} answer names its author (dtrx-1)"]
    if not by_person and authors:
        return ["an automatic answer has no author (dtrx-1)"]
    return []


def _names_someone(author: JsonObject) -> bool:
    parts = [p for p in author.get("extension") or [] if isinstance(p, dict)]
    return any(
        (p.get("url") == "practitioner" and isinstance(p.get("valueReference"), dict))
        or (p.get("url") == "role" and isinstance(p.get("valueCodeableConcept"), dict))
        for p in parts
    )


def _extensions(response: Resource) -> list[JsonObject]:
    return [e for e in response.get("extension") or [] if isinstance(e, dict)]


def _references(response: Resource, url: str) -> Iterator[str]:
    for extension in _extensions(response):
        reference = (extension.get("valueReference") or {}).get("reference")
        if extension.get("url") == url and isinstance(reference, str):
            yield reference


def _answer_path(link_id: str) -> str:
    return f"QuestionnaireResponse.item.where(linkId='{link_id}').answer"


def named_order(response: Resource) -> str | None:
    """The order the response is about, as its qr-context names it (the reference that is not
    the Coverage)."""
    return next(
        (r for r in _references(response, QR_CONTEXT) if not r.startswith("Coverage/")), None
    )
