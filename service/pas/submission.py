"""A Da Vinci PAS request Bundle (STU 2.0.1 profile-pas-request-bundle), read and checked: the Claim
first (profile-claim: `use` preauthorization, status active, an identifier, patient, insurer,
provider, priority, a focal insurance, items with sequence, category and productOrService), every
reference it makes resolved inside the Bundle, the ordered service (an item's requestedService
extension) and the DTR QuestionnaireResponse (a supportingInfo of category additionalInformation
whose value references it). What is wrong is said, all of it, in one OperationOutcome (422); a
Bundle that is not one at all is a 400.

An update (profile-claim-update) is the same Claim again, its identifier the original's, with
the changes marked: items or supportingInfo with infoChanged (changed, added), items with the
infoCancelled modifier extension or certificationType 3 (cancel). A Claim whose `related` names
the one it replaces (relationship `replaces` or `prior`) updates that one. Every item cancelled
cancels the request.

PAS 2.0.1 is the baseline. STU 2.1 and 2.2 keep these elements; they add a subscription topic of
their own, not read here.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.errors import BadRequest, Issue, UnprocessableEntity
from service.fhir.ids import is_fhir_id
from service.fhir.shape import Kind, ShapeRule, shape_issues
from service.types import Resource

PAS = "http://hl7.org/fhir/us/davinci-pas"
REQUEST_BUNDLE = f"{PAS}/StructureDefinition/profile-pas-request-bundle"
INQUIRY_BUNDLE = f"{PAS}/StructureDefinition/profile-pas-inquiry-request-bundle"
REQUESTED_SERVICE = f"{PAS}/StructureDefinition/extension-requestedService"
INFO_CHANGED = f"{PAS}/StructureDefinition/extension-infoChanged"
INFO_CANCELLED = f"{PAS}/StructureDefinition/modifierextension-infoCancelled"
CERTIFICATION_TYPE = f"{PAS}/StructureDefinition/extension-certificationType"
X12_1322 = "https://codesystem.x12.org/005010/1322"
PAS_TEMP_CODES = f"{PAS}/CodeSystem/PASTempCodes"
PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"
# What a priority is reviewed as: `stat` is an expedited request (a decision within 72 hours),
# anything else standard (7 calendar days), from receipt (CMS-0057-F timeframes).
EXPEDITED_PRIORITIES = frozenset({"stat"})
# The request's key, `system|value` of Claim.identifier, is kept in a column of this width
# (prior_auth_request.identifier): a longer one is refused here, before anything is written, not
# by the database in the middle of other clients' writes (PostgreSQL refuses it, SQLite keeps it).
IDENTIFIER_MAX_CHARS = 255
# FHIR R4 datatypes: `id` is 1 to 64 letters, digits, '-' and '.'.


@dataclass(frozen=True)
class Submission:
    bundle: Resource
    claim: Resource
    # `system|value` of Claim.identifier: the request's key for its submitter.
    identifier: str
    patient: Resource | None
    # The requesting provider (Claim.provider): whose Subscriptions hear of the decision.
    provider: Resource | None
    order: Resource | None
    response: Resource | None
    coverage: Resource | None
    priority: str  # "expedited" | "standard"
    # An update: the changes it marks, the request it replaces (`system|value`; None: the one
    # under its own identifier), whether every item is cancelled.
    marks_changes: bool = False
    replaces: str | None = None
    cancels_all: bool = False
    # Each item's sequence and the service it asks for (its requestedService, resolved; None
    # when it names none): what the payer adjudicates item by item.
    services: tuple[tuple[int, Resource | None], ...] = ()

    @property
    def is_update(self) -> bool:
        return self.marks_changes or self.replaces is not None

    def resources(self) -> list[Resource]:
        return [e["resource"] for e in self.bundle.get("entry") or [] if "resource" in e]


# The Claim's elements this module walks, and the JSON shape FHIR gives each.
CLAIM_SHAPE: tuple[ShapeRule, ...] = (
    ("priority", Kind.OBJECT),
    ("priority.coding", Kind.OBJECTS),
    ("insurance", Kind.OBJECTS),
    ("item.extension", Kind.OBJECTS),
    ("item.modifierExtension", Kind.OBJECTS),
    ("item.extension.valueCodeableConcept", Kind.OBJECT),
    ("item.extension.valueCodeableConcept.coding", Kind.OBJECTS),
    ("supportingInfo", Kind.OBJECTS),
    ("supportingInfo.extension", Kind.OBJECTS),
    ("supportingInfo.modifierExtension", Kind.OBJECTS),
    ("related", Kind.OBJECTS),
    ("related.relationship", Kind.OBJECT),
    ("related.relationship.coding", Kind.OBJECTS),
    ("related.claim", Kind.OBJECT),
    ("related.claim.identifier", Kind.OBJECT),
)


def read_submission(bundle: object, *, inquiry: bool = False) -> Submission:
    """The request (or, with `inquiry`, an inquiry) Bundle as a Submission; 400 / 422 otherwise."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise BadRequest("the body must be a PAS request Bundle")
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        raise UnprocessableEntity("the Bundle has no entries", issues=[_issue("Bundle.entry")])
    issues: list[Issue] = []
    if bundle.get("type") != "collection":
        issues.append(_issue("Bundle.type", "must be collection"))
    if not bundle.get("timestamp"):
        issues.append(_issue("Bundle.timestamp", "is required"))
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            issues.append(_issue(f"Bundle.entry[{number}].resource", "is required"))
        elif not isinstance(entry.get("fullUrl"), str) or not entry["fullUrl"]:
            issues.append(_issue(f"Bundle.entry[{number}].fullUrl", "is required"))
        else:
            issues += _id_issues(number, entry["resource"])
    if issues:
        raise UnprocessableEntity("the Bundle is not a PAS request Bundle", issues=issues)
    claim = entries[0]["resource"]
    if claim.get("resourceType") != "Claim":
        where = "Bundle.entry[0].resource"
        raise UnprocessableEntity(
            "the first entry must be the Claim",
            issues=[_issue(where, "must be the Claim: the first entry of a PAS request Bundle")],
        )
    malformed = shape_issues(claim, "Claim", CLAIM_SHAPE)
    if malformed:
        raise UnprocessableEntity("the Claim is not well-formed FHIR JSON", issues=malformed)
    index = _Index(entries)
    issues += _claim_issues(claim, index, inquiry)
    if issues:
        raise UnprocessableEntity("the Claim does not meet PAS's profile", issues=issues)
    order = _requested_service(claim, index)
    return Submission(
        bundle=bundle,
        claim=claim,
        identifier=_identifier(claim),
        patient=index.resolve(claim["patient"]),
        provider=index.resolve(claim["provider"]),
        order=order,
        response=_questionnaire_response(claim, index),
        coverage=index.resolve(_focal_insurance(claim)["coverage"]),
        priority=_priority(claim),
        marks_changes=_marks_changes(claim),
        replaces=_replaces(claim),
        cancels_all=all(_cancelled(item) for item in claim["item"]),
        services=tuple((item["sequence"], _item_service(item, index)) for item in claim["item"]),
    )


class _Index:
    """The Bundle's resources by every way a reference may name them: fullUrl, Type/id, and the
    fullUrl's last two segments."""

    def __init__(self, entries: list[Resource]) -> None:
        self._by: dict[str, Resource] = {}
        for entry in entries:
            resource = entry["resource"]
            full_url = str(entry["fullUrl"])
            self._by[full_url] = resource
            if resource.get("id"):
                self._by[f"{resource.get('resourceType')}/{resource['id']}"] = resource
            parts = full_url.rstrip("/").split("/")
            if len(parts) >= 2:
                self._by.setdefault("/".join(parts[-2:]), resource)

    def resolve(self, reference: object) -> Resource | None:
        target = reference.get("reference") if isinstance(reference, dict) else None
        return self._by.get(target) if isinstance(target, str) else None


def _claim_issues(claim: Resource, index: _Index, inquiry: bool) -> list[Issue]:
    """What the PAS Claim must carry for us to read it (PAS 2.0.1 profile-claim)."""
    return [
        *_header_issues(claim, inquiry),
        *_party_issues(claim, index),
        *_item_issues(claim, index),
        *_supporting_info_issues(claim, index),
    ]


def _header_issues(claim: Resource, inquiry: bool) -> list[Issue]:
    issues: list[Issue] = []
    if claim.get("use") != "preauthorization":
        issues.append(_issue("Claim.use", "must be preauthorization"))
    if claim.get("status") != "active":
        issues.append(_issue("Claim.status", "must be active"))
    identifiers = claim.get("identifier")
    if not isinstance(identifiers, list) or len(identifiers) != 1 or not _identifier(claim):
        issues.append(_issue("Claim.identifier", "needs exactly one, with a value"))
    elif len(_identifier(claim)) > IDENTIFIER_MAX_CHARS:
        limit = f"is too long: system and value together may have {IDENTIFIER_MAX_CHARS} characters"
        issues.append(_issue("Claim.identifier", limit))
    # An inquiry names the request it asks about; its priority is the original's.
    for element in ("type", "created") + (() if inquiry else ("priority",)):
        if not claim.get(element):
            issues.append(_issue(f"Claim.{element}", "is required"))
    return issues


# Who the Claim is about, to and from: each must be an entry of the Bundle, of these types.
_PARTIES = (
    ("patient", ("Patient",)),
    ("insurer", ("Organization",)),
    ("provider", ("Organization", "Practitioner", "PractitionerRole")),
)


def _party_issues(claim: Resource, index: _Index) -> list[Issue]:
    issues: list[Issue] = []
    for element, kinds in _PARTIES:
        target = index.resolve(claim.get(element))
        if target is None:
            issues.append(_issue(f"Claim.{element}", "must reference an entry of the Bundle"))
        elif target.get("resourceType") not in kinds:
            issues.append(_issue(f"Claim.{element}", f"must be a {' or '.join(kinds)}"))
    focal = _focal_insurance(claim)
    if not focal:
        issues.append(_issue("Claim.insurance", "needs a focal insurance"))
    else:
        coverage = index.resolve(focal.get("coverage"))
        if coverage is None or coverage.get("resourceType") != "Coverage":
            issues.append(_issue("Claim.insurance.coverage", "must reference a Coverage entry"))
    return issues


def _item_issues(claim: Resource, index: _Index) -> list[Issue]:
    items = claim.get("item")
    if not isinstance(items, list) or not items:
        return [_issue("Claim.item", "needs at least one item")]
    issues: list[Issue] = []
    for number, item in enumerate(items):
        where = f"Claim.item[{number}]"
        if not isinstance(item, dict):
            issues.append(_issue(where, "must be an object"))
            continue
        if not isinstance(item.get("sequence"), int):
            issues.append(_issue(f"{where}.sequence", "is required (a positive integer)"))
        for element in ("category", "productOrService"):
            if not isinstance(item.get(element), dict):
                issues.append(_issue(f"{where}.{element}", "is required"))
        service = _extension(item, REQUESTED_SERVICE)
        if service is not None and index.resolve(service.get("valueReference")) is None:
            issues.append(_issue(f"{where}.extension", "requestedService must reference an entry"))
    return issues


def _supporting_info_issues(claim: Resource, index: _Index) -> list[Issue]:
    issues: list[Issue] = []
    for number, info in enumerate(claim.get("supportingInfo") or []):
        value = info.get("valueReference") if isinstance(info, dict) else None
        if value is not None and index.resolve(value) is None:
            where = f"Claim.supportingInfo[{number}].valueReference"
            issues.append(_issue(where, "must reference an entry of the Bundle"))
    return issues


def _id_issues(number: int, resource: Resource) -> list[Issue]:
    """A resource's id, when it has one, must be a FHIR id (the request keeps the Patient's and
    the order's ids)."""
    given = resource.get("id")
    if given is None or is_fhir_id(given):
        return []
    where = f"Bundle.entry[{number}].resource.id"
    kind = resource.get("resourceType")
    problem = f"({kind}.id) is not a FHIR id: 1 to 64 letters, digits, '-' or '.'"
    return [_issue(where, problem)]


def _identifier(claim: Resource) -> str:
    identifiers = claim.get("identifier")
    first = identifiers[0] if isinstance(identifiers, list) and identifiers else None
    if not isinstance(first, dict) or not isinstance(first.get("value"), str):
        return ""
    return f"{first.get('system', '')}|{first['value']}"


def _focal_insurance(claim: Resource) -> Resource:
    for insurance in claim.get("insurance") or []:
        if isinstance(insurance, dict) and insurance.get("focal") is True:
            return insurance
    return {}


def _extension(element: Resource, url: str) -> Resource | None:
    return next((e for e in element.get("extension") or [] if e.get("url") == url), None)


def _requested_service(claim: Resource, index: _Index) -> Resource | None:
    for item in claim.get("item") or []:
        if _extension(item, REQUESTED_SERVICE) is not None:
            return _item_service(item, index)
    return None


def _item_service(item: Resource, index: _Index) -> Resource | None:
    service = _extension(item, REQUESTED_SERVICE)
    return index.resolve(service.get("valueReference")) if service is not None else None


def _questionnaire_response(claim: Resource, index: _Index) -> Resource | None:
    for info in claim.get("supportingInfo") or []:
        target = index.resolve(info.get("valueReference"))
        if target is not None and target.get("resourceType") == "QuestionnaireResponse":
            return target
    return None


def _marks_changes(claim: Resource) -> bool:
    parts = [*(claim.get("item") or []), *(claim.get("supportingInfo") or [])]
    return any(
        isinstance(part, dict) and (_extension(part, INFO_CHANGED) or _cancelled(part))
        for part in parts
    )


def _cancelled(item: Resource) -> bool:
    flagged = any(
        e.get("url") == INFO_CANCELLED and e.get("valueBoolean") is True
        for e in item.get("modifierExtension") or []
    )
    certification = _extension(item, CERTIFICATION_TYPE) or {}
    codings = (certification.get("valueCodeableConcept") or {}).get("coding") or []
    return flagged or any(c.get("system") == X12_1322 and c.get("code") == "3" for c in codings)


def _replaces(claim: Resource) -> str | None:
    for related in claim.get("related") or []:
        codes = {c.get("code") for c in (related.get("relationship") or {}).get("coding") or []}
        identifier = (related.get("claim") or {}).get("identifier") or {}
        if codes & {"replaces", "prior"} and isinstance(identifier.get("value"), str):
            return f"{identifier.get('system', '')}|{identifier['value']}"
    return None


def _priority(claim: Resource) -> str:
    codings = (claim.get("priority") or {}).get("coding") or []
    codes = {c.get("code") for c in codings if c.get("system") == PRIORITY}
    return "expedited" if codes & EXPEDITED_PRIORITIES else "standard"


def _issue(expression: str, problem: str = "is required") -> Issue:
    return Issue(f"{expression} {problem}", expression=(expression,))
