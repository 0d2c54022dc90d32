"""DTR's FHIR endpoints under /fhir: the CapabilityStatement, reads and `url` searches of the
published content (`$questionnaire-package` is in questionnaire_package.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from service.dtr.content import TYPES
from service.errors import NotFound
from service.outcomes import fhir_response
from service.runtime import Runtime, get_runtime

router = APIRouter(prefix="/fhir")
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
FHIR_JSON = "application/fhir+json"
# The content reads below (Questionnaire, Library, ValueSet, CodeSystem, metadata) are public:
# they are the payer's published rules, hold no patient data, and DTR clients fetch them by
# canonical URL before any token exists.


@router.get("/{resource_type}/{resource_id}")
async def read(resource_type: str, resource_id: str, runtime: RuntimeDep) -> Response:
    resource = runtime.content.read(resource_type, resource_id) if resource_type in TYPES else None
    if resource is None:
        raise NotFound(f"{resource_type}/{resource_id} is not known here")
    return fhir_response(resource)


@router.get("/{resource_type}")
async def search(resource_type: str, request: Request, runtime: RuntimeDep) -> Response:
    if resource_type not in TYPES:
        raise NotFound(f"{resource_type} is not served here")
    url = request.query_params.get("url")
    if url is not None:
        found = runtime.content.by_url(resource_type, url)
        matches = [found] if found is not None else []
    else:
        matches = runtime.content.all(resource_type)
    return fhir_response(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(matches),
            "entry": [{"resource": m, "search": {"mode": "match"}} for m in matches],
        }
    )
