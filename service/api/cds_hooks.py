"""CDS Hooks 2.0 HTTP endpoints: discovery, service calls, feedback. Thin: parse, call one domain
function, shape the answer, audit."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Annotated, TypeVar

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from service.auth.replay import claim, claimed
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
    service = _service(service_id)
    audit = _Audit(runtime, service, time.perf_counter())
    try:
        identity = await runtime.authenticate(request, service.id)
    except (RequestError, Unauthorized) as refused:
        # Refused before it was understood: audited all the same, with what is known of it.
        audit.write([], type(refused).__name__, _status(refused))
        raise
    audit.client = identity.client_id if identity is not None else None
    async with _jti_used(runtime, identity):
        return await _answered(request, runtime, service, identity, audit)


async def _answered(
    request: Request,
    runtime: Runtime,
    service: HookService,
    identity: ClientIdentity | None,
    audit: _Audit,
) -> Response:
    try:
        body = json_object(await _json_body(request), "the hook request")
        hook_request = audit.request = parse_model(HookRequest, body, "request")
    except RequestError as refused:
        audit.write([], type(refused).__name__, refused.status_code)
        raise
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
    if isinstance(error, RequestError):
        return error.status_code
    return 401 if isinstance(error, Unauthorized) else 503


@asynccontextmanager
async def _jti_used(runtime: Runtime, identity: ClientIdentity | None) -> AsyncIterator[None]:
    """A call that fails before its answer is stored used its jti all the same (CDS Hooks: never
    reused): it is claimed alone, so the table refuses a replay on every worker whatever the
    worker's cache holds (service/auth/replay.py)."""
    try:
        yield
    except (Unauthorized, StorageUnavailable):
        raise  # the claim itself refused the jti, or could not be made
    except Exception:
        if identity is not None:
            await runtime.committer.commit(
                claim(identity.issuer, identity.jti, identity.expires_at, runtime.clock.time)
            )
        raise


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
    """One hook call's audit entry: the caller once authenticated, the hook once parsed (a call
    refused before either is audited with neither; never a token, never a patient id)."""

    def __init__(self, runtime: Runtime, service: HookService, started: float) -> None:
        self.runtime, self.service, self.started = runtime, service, started
        self.client: str | None = None
        self.request: HookRequest | None = None

    def write(self, orders: list[str], outcome: str, status_code: int) -> None:
        request = self.request
        patient = request.context.get("patientId") if request is not None else None
        self.runtime.audit.record(
            HookAudit(
                at=self.runtime.clock.now(),
                hook=request.hook[:64] if request is not None else "",
                hook_instance=request.hook_instance[:128] if request is not None else "",
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
    async with _jti_used(runtime, identity):
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
