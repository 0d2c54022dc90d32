"""CDS Hooks 2.0 HTTP endpoints: discovery, service calls, feedback. Thin: parse, call one domain
function, shape the answer, audit."""

from __future__ import annotations

import logging
import time
from datetime import date, datetime
from typing import Annotated, TypeVar

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from service.auth.replay import claimed
from service.cdshooks.client_auth import ClientIdentity
from service.cdshooks.models import FeedbackRequest, HookRequest, json_object, parse_model
from service.cdshooks.services import HookService, service_by_id
from service.clock import Clock
from service.crd.answers import OrderAnswers
from service.crd.calls import HookCall
from service.crd.configuration import configuration
from service.crd.order_hook import answer_order_hook
from service.crd.versions import requested_version
from service.errors import BadRequest, NotFound, RequestError, StorageUnavailable, Unauthorized
from service.fhir.ehr_client import is_one_of
from service.openapi_bodies import FEEDBACK, HOOK_REQUEST, request_body
from service.runtime import Runtime, get_runtime
from service.storage.audit import HookAudit, patient_hash
from service.storage.commits import Work
from service.storage.crd_answers import AskedBy, AssertionRow, HookAnswerRow, store_answer
from service.storage.feedback import FeedbackItem, store_feedback
from service.storage.tables import NO_CLIENT

router = APIRouter()
T = TypeVar("T")
log = logging.getLogger(__name__)
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _json(content: object, status_code: int = 200) -> Response:
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")


@router.get("/cds-services")
async def discovery(runtime: RuntimeDep) -> Response:
    return _json(runtime.discovery)


def _service(service_id: str) -> HookService:
    service = service_by_id(service_id)
    if service is None:
        raise NotFound(f"no CDS service with id {service_id!r}")
    return service


async def _json_body(request: Request) -> object:
    body = await request.body()
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"request body is not JSON: {error}") from None


@router.post("/cds-services/{service_id}", openapi_extra=request_body(HOOK_REQUEST))
async def call_service(service_id: str, request: Request, runtime: RuntimeDep) -> Response:
    started = time.perf_counter()
    service = _service(service_id)
    identity = await runtime.authenticate(request, service.id)
    client = identity.client_id if identity is not None else None
    body = json_object(await _json_body(request), "the hook request")
    hook_request = parse_model(HookRequest, body, "request")
    audit = _Audit(runtime, service, hook_request, client, started)
    call = _call(
        service, hook_request, runtime.today(), _fetchable(runtime, identity, hook_request)
    )
    try:
        answer = await answer_order_hook(call, runtime.hook_environment)
    except RequestError as error:
        audit.write([], type(error).__name__, error.status_code)
        raise
    try:
        # Kept before it is sent: DTR finds every assertion id we give out (CRD found-11/37).
        asked_by = _asked_by(runtime, identity, hook_request)
        kept = _kept(hook_request, asked_by, call, answer, runtime.clock.now())
        await runtime.committer.commit(_claimed(identity, runtime.clock, kept))
    except (Unauthorized, StorageUnavailable) as error:
        audit.write(answer.order_references, type(error).__name__, _status(error))
        raise
    audit.write(answer.order_references, answer.outcome, 200)
    return _json(answer.response)


def _status(error: Exception) -> int:
    return 401 if isinstance(error, Unauthorized) else 503


def _claimed(identity: ClientIdentity | None, clock: Clock, work: Work[T]) -> Work[T]:
    """The work, with the durable claim of the caller's jti in the same transaction."""
    if identity is None:  # authentication off
        return work
    return claimed(identity.issuer, identity.jti, identity.expires_at, clock.time, work)


def _asked_by(
    runtime: Runtime, identity: ClientIdentity | None, hook_request: HookRequest
) -> AskedBy:
    """Whose patient the answer is about: the patient id on the FHIR server the call names, or
    on the client's only registered server (a launch from there then finds it; with several
    servers and none named, only the client's system tokens do)."""
    patient = hook_request.context.get("patientId")
    client_id = identity.client_id if identity is not None else NO_CLIENT
    return AskedBy(
        client_id=client_id,
        fhir_server=hook_request.fhir_server or runtime.registry.home_server(client_id),
        patient_id=patient if isinstance(patient, str) else None,
    )


def _kept(
    hook_request: HookRequest, asked_by: AskedBy, call: HookCall, answer: OrderAnswers, at: datetime
) -> Work[None]:
    row = HookAnswerRow(
        hook=hook_request.hook,
        hook_instance=hook_request.hook_instance,
        service_id=call.service.id,
        crd_version=call.version.label,
        context=hook_request.context,
        response=answer.response,
    )
    assertions = [
        AssertionRow(
            assertion_id=asserted.assertion_id,
            policy_id=asserted.policy_id,
            order_ref=asserted.evaluation.order,
            coverage_ref=asserted.coverage_reference,
            evaluation=asserted.evaluation.as_json(),
            continues=asserted.continues,
        )
        for asserted in answer.evaluations
    ]
    return store_answer(asked_by, row, assertions, at)


def _fetchable(
    runtime: Runtime, identity: ClientIdentity | None, hook_request: HookRequest
) -> str | None:
    """The fhirServer we may read from for this caller. Outside development, only one of the
    caller's registered FHIR servers: the allowlist alone let one EHR's call send its token to
    another EHR's server, and read that EHR's records into its answer."""
    server = hook_request.fhir_server
    if server is None or runtime.settings.is_development or identity is None:
        return server
    client = runtime.registry.by_client_id(identity.client_id)
    registered = client.fhir_servers if client is not None else ()
    return server if is_one_of(server, registered) else None


def _call(
    service: HookService, hook_request: HookRequest, today: date, fhir_server: str | None
) -> HookCall:
    if hook_request.hook != service.hook:
        raise BadRequest(
            f"hook {hook_request.hook!r} sent to the {service.hook!r} service {service.id!r}"
        )
    return HookCall(
        service=service,
        request=hook_request,
        context=parse_model(service.context_model, hook_request.context, "context"),
        version=requested_version(hook_request.extension),
        configuration=configuration(hook_request.extension),
        today=today,
        fhir_server=fhir_server,
    )


class _Audit:
    def __init__(
        self,
        runtime: Runtime,
        service: HookService,
        hook_request: HookRequest,
        client: str | None,
        started: float,
    ) -> None:
        self.runtime, self.service, self.request = runtime, service, hook_request
        self.client, self.started = client, started

    def write(self, orders: list[str], outcome: str, status_code: int) -> None:
        patient = self.request.context.get("patientId")
        self.runtime.audit.record(
            HookAudit(
                at=self.runtime.clock.now(),
                hook=self.request.hook[:64],
                hook_instance=self.request.hook_instance[:128],
                service_id=self.service.id,
                client=self.client,
                patient_hash=patient_hash(
                    patient if isinstance(patient, str) else None, self.runtime.audit_key
                ),
                orders_in_scope=orders,
                outcome=outcome,
                status_code=status_code,
                duration_ms=(time.perf_counter() - self.started) * 1000,
            )
        )


@router.post("/cds-services/{service_id}/feedback", openapi_extra=request_body(FEEDBACK))
async def feedback(service_id: str, request: Request, runtime: RuntimeDep) -> Response:
    service = _service(service_id)
    identity = await runtime.authenticate(request, f"{service.id}/feedback")
    body = parse_model(FeedbackRequest, await _json_body(request), "feedback")
    items = [
        FeedbackItem(
            card=item.card,
            outcome=item.outcome,
            outcome_timestamp=item.outcome_timestamp,
            detail=item.model_dump(mode="json", by_alias=True, exclude_none=True),
        )
        for item in body.feedback
    ]
    stored = await runtime.committer.commit(
        _claimed(identity, runtime.clock, store_feedback(service.id, items, runtime.clock.now()))
    )
    log.info("feedback stored", extra={"service": service.id, "items": stored})
    return _json({})
