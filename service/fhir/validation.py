"""FHIR R4 structural validation of the resources we act on, with `fhir.resources` models.

Its `R4B` package is the closest to R4 it ships; R4B changed no element of the resources we
validate here (MedicationRequest, ServiceRequest, Coverage, Patient). Only the resources a
decision rests on are validated: a full model of every prefetch resource would cost the hot path
more than it protects (the policy reads the rest defensively).

Strict about what we read, liberal about the rest: for the orders and Coverages an EHR sends, a
structural fault in an element neither the policy's CQL nor the service reads (an order's
`category` sent as one object instead of a list, say) is logged at debug level and passed over;
the answer must not depend on elements the policy never looks at. A fault in an element we read,
or one the model cannot place (a missing `medication[x]`), is a 400 naming the element.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from service.errors import BadRequest, Issue
from service.types import Resource

_LOG = logging.getLogger(__name__)

# The elements of an order or Coverage that the policy's CQL (cql/, policies/*/cql/) or the service
# reads, by resource type. A type not named here is validated whole. Adding a read of a new element
# means adding it here, or a malformed one is passed over (tests/fhir/test_validation.py).
# Modifier elements (doNotPerform) change what the resource means: always read.
_COMMON = frozenset({"id", "meta", "extension", "modifierExtension", "contained", "identifier"})
READ_ELEMENTS: Mapping[str, frozenset[str]] = {
    "MedicationRequest": _COMMON
    | {
        "status",
        "intent",
        "medicationCodeableConcept",
        "medicationReference",
        "subject",
        "authoredOn",
        "dosageInstruction",
        "insurance",
        "dispenseRequest",
        "doNotPerform",
        "requester",
    },
    "ServiceRequest": _COMMON
    | {
        "status",
        "intent",
        "code",
        "subject",
        "authoredOn",
        "occurrenceDateTime",
        "occurrencePeriod",
        "occurrenceTiming",
        "quantityQuantity",
        "locationCode",
        "insurance",
        "doNotPerform",
        "requester",
    },
    "Coverage": _COMMON
    | {"status", "period", "payor", "beneficiary", "subscriberId", "class", "type"},
}

# The library imports the model's module on every call (about 20 us); the names are few.
_model_class = lru_cache(maxsize=256)(get_fhir_model_class)


def resource_issues(
    resource: Resource, where: str, read: Mapping[str, frozenset[str]] | None = None
) -> list[Issue]:
    """Structural faults of `resource`; with `read`, only those in elements read (see above)."""
    resource_type = str(resource.get("resourceType"))
    try:
        model = _model_class(resource_type)
    except ValueError:
        return [Issue(f"{where}: unknown resourceType {resource_type!r}", expression=(where,))]
    too_deep = _deeper_than(resource, MAX_DEPTH)
    if too_deep:
        return [Issue(f"{where}: nested more than {MAX_DEPTH} levels deep", expression=(where,))]
    try:
        model.model_validate(resource)
    except ValidationError as error:
        details = error.errors(include_url=False)
        elements = (read or {}).get(resource_type)
        if elements is not None:
            details = _read_only(details, elements, where)
        return [_issue(where, resource_type, detail) for detail in details]
    return []


def _read_only(details: list[Any], elements: frozenset[str], where: str) -> list[Any]:
    kept = []
    for detail in details:
        location = detail.get("loc", ())
        if location and isinstance(location[0], str) and location[0] not in elements:
            _LOG.debug("%s: element %s not read, its fault passed over", where, location[0])
        else:
            kept.append(detail)
    return kept


# No FHIR resource we take nests this deep (a QuestionnaireResponse's item/answer/item chains
# included); the models validate recursively, so deeper input would exhaust the stack.
MAX_DEPTH = 64


def _deeper_than(value: object, limit: int) -> bool:
    """Iteratively, so the check itself cannot overflow."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        current, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(current, dict):
            stack.extend((child, depth + 1) for child in current.values())
        elif isinstance(current, list):
            stack.extend((child, depth + 1) for child in current)
    return False


def check_resources(
    resources: Sequence[Resource], what: str, read: Mapping[str, frozenset[str]] | None = None
) -> None:
    """400 naming every structural fault (with `read`: in the elements read) of `resources`."""
    issues: list[Issue] = []
    for resource in resources:
        label = f"{resource.get('resourceType')}/{resource.get('id', '?')}"
        issues.extend(resource_issues(resource, label, read))
    if issues:
        raise BadRequest(f"{what} is not valid FHIR R4", issues=issues)


def _issue(where: str, resource_type: str, detail: object) -> Issue:
    assert isinstance(detail, dict)
    path = ".".join(str(part) for part in detail.get("loc", ()))
    expression = f"{resource_type}.{path}" if path else resource_type
    return Issue(
        f"{where}: {expression}: {detail.get('msg')}", code="structure", expression=(expression,)
    )
