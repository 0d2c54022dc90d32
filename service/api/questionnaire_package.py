"""`Questionnaire/$questionnaire-package` (DTR STU 2.0.1 OperationDefinition questionnaire-package;
2.2 where it differs, service/dtr/versions.py). The package is about one Questionnaire and is
pre-filled from, in this order of preference:

- `context`, a CRD coverage-assertion-id: the evaluation stored with it (or the newest
  continuation of it), bound to the client and patient it was given to;
- an `order` (of a type some policy's trigger names: MedicationRequest, ServiceRequest ...) with
  its `coverage`: evaluated now on what the two say;
- `coverage` with `questionnaire` only (dtr-1 allows it): nothing pre-filled, the form empty.

A requested Questionnaire we do not have is a 200 with a warning in the outcome (oper-9), and a
package unchanged since `changedsince` is a 200 without a Bundle, saying so.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from service.auth.callers import Caller, requires
from service.dtr.access_log import subject_patient
from service.dtr.package import changed_at, package_bundle, package_parameters
from service.dtr.prefill import ResponseContext
from service.dtr.versions import declared_version
from service.errors import BadRequest, Forbidden, NotFound
from service.fhir.parameters import named, parameters_resource, single_value
from service.fhir.record import PatientRecord
from service.fhir.validation import READ_ELEMENTS, check_resources
from service.openapi_bodies import PARAMETERS, request_body
from service.outcomes import fhir_response
from service.policy.folder import Policy
from service.runtime import Runtime, get_runtime
from service.storage.crd_answers import current_evaluation, find_assertion
from service.storage.prior_auth import viewable_request
from service.storage.tables import PriorAuthRequest
from service.types import JsonObject, Resource

router = APIRouter(prefix="/fhir")
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
FHIR_JSON = "application/fhir+json"
# The package carries the patient's pre-filled answers: a token is needed.
PACKAGE_SCOPE = requires("Questionnaire", "r")


@dataclasses.dataclass(frozen=True)
class _Prefill:
    answers: dict[str, Any]
    about: ResponseContext
    policy: Policy | None


@router.post(
    "/Questionnaire/$questionnaire-package",
    openapi_extra=request_body(PARAMETERS, FHIR_JSON),
)
async def questionnaire_package(
    request: Request, runtime: RuntimeDep, caller: Annotated[Caller, PACKAGE_SCOPE]
) -> Response:
    parsed = parameters_resource(await request.body())
    version = declared_version(parsed)
    parameters: list[JsonObject] = parsed.get("parameter") or []
    since = _changed_since(parameters)  # every input is checked before any record is read
    context = _single(parameters, "context", "valueString")
    if context is not None:
        if not isinstance(context, str) or not context:
            raise BadRequest("context must be a valueString (a coverage-assertion-id)")
        prefill = await run_in_threadpool(_stored_prefill, runtime, context, caller)
    else:
        prefill = _fresh_prefill(runtime, parameters, caller)
    canonical = _requested_questionnaire(parameters, prefill.policy, runtime)
    questionnaire = runtime.content.by_url("Questionnaire", canonical)
    nothing = _nothing_to_send(runtime, canonical, questionnaire, since)
    if nothing is not None or questionnaire is None:
        return fhir_response(package_parameters(None, version, [nothing] if nothing else []))
    patient = prefill.about.subject.removeprefix("Patient/") if prefill.about.subject else None
    runtime.record_access(
        caller,
        "questionnaire-package",
        patient,
        context,
    )
    policy = prefill.policy or runtime.policy_registry.by_questionnaire(questionnaire["url"])
    about = dataclasses.replace(
        prefill.about,
        version=version,
        intended_use=policy.prior_authorization.doc_purpose if policy else None,
    )
    bundle = package_bundle(
        runtime.content, questionnaire, prefill.answers, about, runtime.clock.now()
    )
    return fhir_response(package_parameters(bundle, version, []))


def _nothing_to_send(
    runtime: Runtime, canonical: str, questionnaire: Resource | None, since: datetime | None
) -> tuple[str, str, str] | None:
    """Why the package is empty: no such Questionnaire (oper-9: a warning, not an error), or
    nothing changed since `changedsince`."""
    if questionnaire is None:
        return ("warning", "not-found", f"no Questionnaire {canonical} is published here")
    if since is not None and changed_at(runtime.content, questionnaire) <= since:
        note = f"nothing in the package of {canonical} changed since {since.isoformat()}"
        return ("information", "informational", note)
    return None


def _single(parameters: list[JsonObject], name: str, key: str) -> Any:
    return single_value(parameters, (name,), key)


def _requested_questionnaire(
    parameters: list[JsonObject], policy: Policy | None, runtime: Runtime
) -> str:
    canonical = _single(parameters, "questionnaire", "valueCanonical")
    if canonical is not None and not isinstance(canonical, str):
        raise BadRequest("questionnaire must be a valueCanonical")
    if canonical:
        return canonical
    if policy is None:
        raise BadRequest("name the questionnaire: no policy of ours is about this order")
    # Without one named, the questionnaire of the policy the package is about.
    return policy.questionnaire


def _changed_since(parameters: list[JsonObject]) -> datetime | None:
    found = named(parameters, ("changedsince",))
    if len(found) > 1:
        raise BadRequest("parameter 'changedsince' given more than once")
    if not found:
        return None
    # 2.2 types it instant, 2.0.1 dateTime.
    value = found[0].get("valueInstant", found[0].get("valueDateTime"))
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise BadRequest(f"changedsince {value!r} is not an instant") from None
    if moment.tzinfo is None:
        raise BadRequest("changedsince needs a time zone (an instant)")
    return moment


def _stored_prefill(runtime: Runtime, assertion_id: str, caller: Caller) -> _Prefill:
    """`context` is a CRD coverage-assertion-id, or a PAS request's id (its ClaimResponse's): DTR
    relaunched because the reviewer asked for more, pre-filled from that request's evaluation."""
    with runtime.sessions() as session:
        row = find_assertion(session, assertion_id, caller)
        evaluation = current_evaluation(session, row) if row is not None else {}
        request = viewable_request(session, assertion_id, caller) if row is None else None
    if row is None and request is not None:
        return _prior_auth_prefill(runtime, request)
    if row is None:  # unknown, or another client's or patient's: the same answer
        raise NotFound(
            f"no coverage assertion or prior-authorization request {assertion_id!r}: sign the "
            "order again or omit context"
        )
    about = ResponseContext(
        subject=f"Patient/{row.patient_id}" if row.patient_id else None,
        coverage=row.coverage_ref,
        order=row.order_ref,
        assertion_id=assertion_id,
    )
    policy = runtime.policy_registry.by_id(row.policy_id)
    return _Prefill(dict(evaluation.get("prefill") or {}), about, policy)


def _prior_auth_prefill(runtime: Runtime, request: PriorAuthRequest) -> _Prefill:
    entries: list[JsonObject] = list(request.bundle.get("entry") or [])  # type: ignore[call-overload]
    claim: JsonObject = (entries[0].get("resource") if entries else None) or {}
    focal: JsonObject = next(
        (i for i in claim.get("insurance") or [] if i.get("focal") is True), {}
    )
    about = ResponseContext(
        subject=f"Patient/{request.patient_id}" if request.patient_id else None,
        coverage=(focal.get("coverage") or {}).get("reference"),
        order=request.order_ref,
    )
    evaluation = request.summary.get("evaluation") or {}
    prefill = dict(evaluation.get("prefill") or {}) if isinstance(evaluation, dict) else {}
    return _Prefill(prefill, about, runtime.policy_registry.by_id(request.policy_id or ""))


def _fresh_prefill(runtime: Runtime, parameters: list[JsonObject], caller: Caller) -> _Prefill:
    """Without a CRD context: what the given order and coverage alone allow."""
    order, coverage = _order_and_coverage(runtime, parameters)
    # The policy reads these: malformed FHIR is refused here, not met halfway by the evaluation.
    check_resources(
        [r for r in (order, coverage) if r is not None],
        "$questionnaire-package input",
        READ_ELEMENTS,
    )
    patient = subject_patient(order) if order is not None else _beneficiary(coverage)
    if caller.patient is not None and patient != caller.patient:
        raise Forbidden("this token reaches only its launch's patient")
    about = ResponseContext(
        subject=f"Patient/{patient}" if patient else None,
        coverage=f"Coverage/{coverage['id']}" if coverage and coverage.get("id") else None,
        order=f"{order['resourceType']}/{order['id']}" if order is not None else None,
    )
    if order is None:
        return _Prefill({}, about, None)
    answers, policy = _evaluated(runtime, order, coverage)
    return _Prefill(answers, about, policy)


def _order_and_coverage(
    runtime: Runtime, parameters: list[JsonObject]
) -> tuple[Resource | None, Resource | None]:
    """The first order of a type our policies' triggers name, and the Coverage; at least one,
    each of the right shape."""
    kinds = runtime.policy_registry.order_types()
    orders = [p.get("resource") for p in parameters if p.get("name") == "order"]
    order = next(
        (o for o in orders if isinstance(o, dict) and o.get("resourceType") in kinds), None
    )
    coverage = _single(parameters, "coverage", "resource")
    if coverage is not None and not (
        isinstance(coverage, dict) and coverage.get("resourceType") == "Coverage"
    ):
        raise BadRequest("coverage must be a Coverage resource")
    if order is None and coverage is None:
        raise BadRequest(
            f"give a context (coverage-assertion-id), an order ({' or '.join(kinds)}), or a "
            "coverage with the questionnaire"
        )
    if order is not None and not isinstance(order.get("id"), str):
        raise BadRequest("the order needs an id")
    return order, coverage


def _evaluated(
    runtime: Runtime, order: Resource, coverage: Resource | None
) -> tuple[dict[str, Any], Policy | None]:
    record = PatientRecord([(order, None), *([(coverage, None)] if coverage else [])])
    policy = runtime.policy_registry.for_order(order, record)
    if policy is None:  # an order no policy of ours is about: nothing to pre-fill from
        return {}, None
    engine = runtime.policy_registry.engine(policy)
    reference = f"{order['resourceType']}/{order['id']}"
    evaluation = engine.evaluate(record, reference, runtime.today())
    return dict(evaluation.prefill), policy


def _beneficiary(coverage: Resource | None) -> str | None:
    reference = ((coverage or {}).get("beneficiary") or {}).get("reference")
    if isinstance(reference, str) and reference.startswith("Patient/"):
        return reference.removeprefix("Patient/")
    return None
