"""FHIR R4 structural validation of the resources we act on, with `fhir.resources` models.

Its `R4B` package is the closest to R4 it ships; R4B changed no element of the resources we
validate here (MedicationRequest, ServiceRequest, Coverage, Patient). Only the resources a
decision rests on are validated: a full model of every prefetch resource would cost the hot path
more than it protects (the policy reads the rest defensively).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from service.errors import BadRequest, Issue
from service.types import Resource

# The library imports the model's module on every call (about 20 us); the names are few.
_model_class = lru_cache(maxsize=256)(get_fhir_model_class)


def resource_issues(resource: Resource, where: str) -> list[Issue]:
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
        return [_issue(where, resource_type, detail) for detail in error.errors(include_url=False)]
    return []


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


def check_resources(resources: Sequence[Resource], what: str) -> None:
    issues: list[Issue] = []
    for resource in resources:
        label = f"{resource.get('resourceType')}/{resource.get('id', '?')}"
        issues.extend(resource_issues(resource, label))
    if issues:
        raise BadRequest(f"{what} is not valid FHIR R4", issues=issues)


def _issue(where: str, resource_type: str, detail: object) -> Issue:
    assert isinstance(detail, dict)
    path = ".".join(str(part) for part in detail.get("loc", ()))
    expression = f"{resource_type}.{path}" if path else resource_type
    return Issue(
        f"{where}: {expression}: {detail.get('msg')}", code="structure", expression=(expression,)
    )
