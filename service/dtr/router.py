"""DTR's FHIR endpoints under /fhir: the CapabilityStatement, reads and `url` searches of the
published content, and `Questionnaire/$questionnaire-package` (DTR STU 2)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from service.auth.callers import Caller, requires
from service.cdshooks.models import json_object
from service.dtr.access_log import record_access, subject_patient
from service.dtr.content import TYPES
from service.dtr.package import package_bundle, package_parameters
from service.errors import BadRequest, Forbidden, NotFound
from service.fhir.record import PatientRecord
from service.fhir.validation import check_resources
from service.openapi_bodies import PARAMETERS, request_body
from service.runtime import Runtime, get_runtime
from service.storage.crd_answers import current_evaluation, find_assertion
from service.types import JsonObject, Resource

router = APIRouter(prefix="/fhir")
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
FHIR_JSON = "application/fhir+json"
# The package carries the patient's pre-filled answers: a token is needed. The content reads
# below (Questionnaire, Library, ValueSet, CodeSystem, metadata) stay public: they are the
# payer's published rules, hold no patient data, and DTR clients fetch them by canonical URL.
PACKAGE_SCOPE = requires("Questionnaire", "r")


def _fhir(content: object, status_code: int = 200) -> Response:
    return Response(orjson.dumps(content), status_code=status_code, media_type=FHIR_JSON)


@router.get("/metadata")
async def metadata(runtime: RuntimeDep) -> Response:
    return _fhir(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2026-11-24",
            "kind": "instance",
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "implementation": {
                "description": "Payer DTR content",
                "url": f"{runtime.settings.base_url}/fhir",
            },
            "rest": [
                {
                    "mode": "server",
                    "resource": [_capability(kind) for kind in TYPES],
                }
            ],
        }
    )


def _capability(kind: str) -> JsonObject:
    found: JsonObject = {
        "type": kind,
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": [{"name": "url", "type": "uri"}],
    }
    if kind == "Questionnaire":
        found["operation"] = [
            {
                "name": "questionnaire-package",
                "definition": "http://hl7.org/fhir/us/davinci-dtr/OperationDefinition/questionnaire-package",
            }
        ]
    return found


@router.post(
    "/Questionnaire/$questionnaire-package",
    openapi_extra=request_body(PARAMETERS, "application/fhir+json"),
)
async def questionnaire_package(
    request: Request, runtime: RuntimeDep, caller: Annotated[Caller, PACKAGE_SCOPE]
) -> Response:
    parameters = _parameters(await request.body())
    questionnaire = _questionnaire(runtime, parameters)
    context = _single(parameters, "context", "valueString")
    if context is not None:
        if not isinstance(context, str):
            raise BadRequest("context must be a valueString (a coverage-assertion-id)")
        prefill, patient = await run_in_threadpool(_stored_prefill, runtime, context, caller)
    else:
        prefill, patient = _fresh_prefill(runtime, parameters, caller)
    record_access(
        runtime.audit, runtime.audit_key, caller, "questionnaire-package", patient, context
    )
    coverage = _single(parameters, "coverage", "resource")
    subject = ((coverage or {}).get("beneficiary") or {}).get("reference")
    bundle = package_bundle(runtime.content, questionnaire, prefill, subject, context)
    return _fhir(package_parameters(bundle))


def _parameters(body: bytes) -> list[JsonObject]:
    try:
        parsed = json_object(orjson.loads(body), "the request body")
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"request body is not JSON: {error}") from None
    if parsed.get("resourceType") != "Parameters":
        raise BadRequest("the body must be a FHIR Parameters resource")
    found = parsed.get("parameter") or []
    if not isinstance(found, list) or not all(isinstance(p, dict) for p in found):
        raise BadRequest("Parameters.parameter must be an array of objects")
    return found


def _single(parameters: list[JsonObject], name: str, key: str) -> Any:
    values = [p.get(key) for p in parameters if p.get("name") == name]
    if len(values) > 1:
        raise BadRequest(f"parameter {name!r} given more than once")
    return values[0] if values else None


def _questionnaire(runtime: Runtime, parameters: list[JsonObject]) -> Resource:
    canonical = _single(parameters, "questionnaire", "valueCanonical")
    if canonical is None:
        canonical = runtime.policies[0].questionnaire
    questionnaire = runtime.content.by_url("Questionnaire", canonical)
    if questionnaire is None:
        raise NotFound(f"no Questionnaire {canonical}")
    return questionnaire


def _stored_prefill(
    runtime: Runtime, assertion_id: str, caller: Caller
) -> tuple[dict[str, Any], str | None]:
    with runtime.sessions() as session:
        row = find_assertion(session, assertion_id, caller)
        evaluation = current_evaluation(session, row) if row is not None else {}
    if row is None:  # unknown, or another client's or patient's: the same answer
        raise NotFound(
            f"no coverage assertion {assertion_id!r}: sign the order again or omit context"
        )
    prefill: dict[str, Any] = dict(evaluation.get("prefill") or {})
    return prefill, row.patient_id


def _fresh_prefill(
    runtime: Runtime, parameters: list[JsonObject], caller: Caller
) -> tuple[dict[str, Any], str | None]:
    """Without a CRD context: what the given order and coverage alone allow."""
    orders = [p.get("resource") for p in parameters if p.get("name") == "order"]
    order = next(
        (o for o in orders if isinstance(o, dict) and o.get("resourceType") == "MedicationRequest"),
        None,
    )
    if order is None or not isinstance(order.get("id"), str):
        raise BadRequest(
            "give a context (coverage-assertion-id) or a MedicationRequest order with an id"
        )
    coverage = _single(parameters, "coverage", "resource")
    # The policy reads these: malformed FHIR is refused here, not met halfway by the evaluation.
    check_resources(
        [order, *([coverage] if isinstance(coverage, dict) else [])], "$questionnaire-package input"
    )
    patient = subject_patient(order)
    if caller.patient is not None and patient != caller.patient:
        raise Forbidden("this token reaches only its launch's patient")
    record = PatientRecord(
        [(order, None), *([(coverage, None)] if isinstance(coverage, dict) else [])]
    )
    engine = runtime.hook_environment.engines[runtime.policies[0].id]
    evaluation = engine.evaluate(record, order["id"], runtime.settings.today())
    return dict(evaluation.prefill), patient


@router.get("/{resource_type}/{resource_id}")
async def read(resource_type: str, resource_id: str, runtime: RuntimeDep) -> Response:
    resource = runtime.content.read(resource_type, resource_id) if resource_type in TYPES else None
    if resource is None:
        raise NotFound(f"{resource_type}/{resource_id} is not known here")
    return _fhir(resource)


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
    return _fhir(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(matches),
            "entry": [{"resource": m, "search": {"mode": "match"}} for m in matches],
        }
    )
