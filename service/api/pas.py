"""Da Vinci PAS STU 2.0.1, the payer's side: `Claim/$submit` takes a PAS request Bundle and
answers synchronously with the PAS response Bundle (ClaimResponse first), pended for clinical
review; `Claim/$inquire` answers with the request's current state. Both need a SMART Backend
Services token (`system/Claim.c` to submit, `system/Claim.r` to inquire, from the one client
registry DTR uses); a client reaches only its own requests, and an unknown request and another
client's read the same. Every request is committed, with its first decision, before the answer
leaves; the same Claim identifier again from the same client is the same request, and an update
or a cancellation of it changes that request (service/pas/intake.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from service.auth.callers import Caller, requires
from service.dtr.prefill import assertion_of
from service.errors import BadRequest, Forbidden, NotFound
from service.openapi_bodies import request_body
from service.outcomes import fhir_response
from service.pas.cases import due_at, evaluate_submission, not_adjudicated, pended_note
from service.pas.claim_response import Decision, claim_response, response_bundle
from service.pas.intake import receive
from service.pas.submission import Submission, read_submission
from service.runtime import Runtime, get_runtime
from service.storage.crd_answers import find_assertion
from service.storage.prior_auth import Received, existing_request, order_key, viewable_request
from service.types import JsonObject, Resource

router = APIRouter(prefix="/fhir")
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
PAS_BUNDLE = {"type": "object", "description": "A Da Vinci PAS request Bundle (FHIR R4)"}


async def _bundle(request: Request) -> object:
    """The Bundle, sent as the body or as the operation's `resource` parameter."""
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"request body is not JSON: {error}") from None
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        given = [p.get("resource") for p in body.get("parameter") or [] if isinstance(p, dict)]
        return given[0] if len(given) == 1 else None
    return body


def _patient_of(submission: Submission) -> str | None:
    patient = submission.patient or {}
    return str(patient["id"]) if patient.get("id") else None


def _fhir_server(runtime: Runtime, submission: Submission, caller: Caller) -> str | None:
    """The FHIR server the request's patient id belongs to: the launch's; else the one the hook
    call behind its DTR response named (that response's coverage-assertion-id); else the
    client's only registered server (service/auth/callers.py)."""
    assertion_id = assertion_of(submission.response) if submission.response else None
    if caller.patient is not None or assertion_id is None:
        return caller.fhir_server
    with runtime.sessions() as session:
        row = find_assertion(session, assertion_id, caller)
        return row.fhir_server if row is not None else caller.fhir_server


@router.post("/Claim/$submit", openapi_extra=request_body(PAS_BUNDLE, "application/fhir+json"))
async def submit(
    request: Request, runtime: RuntimeDep, caller: Annotated[Caller, requires("Claim", "c")]
) -> Response:
    submission = read_submission(await _bundle(request))
    patient = _patient_of(submission)
    if caller.patient is not None and patient != caller.patient:
        raise Forbidden("this token reaches only its launch's patient")
    received = runtime.clock.now()
    policy, summary = await run_in_threadpool(
        evaluate_submission,
        runtime.policy_registry,
        submission,
        lambda canonical: runtime.content.by_url("Questionnaire", canonical),
        runtime.today(),
    )
    fhir_server = await run_in_threadpool(_fhir_server, runtime, submission, caller)
    request_id = str(uuid.uuid4())
    base = runtime.settings.base_url.rstrip("/")
    pended = claim_response(
        submission, request_id, base, _pended(submission, summary, received), received
    )
    stored = Received(
        id=request_id,
        identifier=submission.identifier,
        client_id=caller.client_id,
        fhir_server=fhir_server,
        patient_id=caller.patient or patient,
        policy_id=policy.id if policy else None,
        order_ref=summary.get("order"),
        order_key=_order_key(caller, fhir_server, submission, summary),
        priority=submission.priority,
        received_at=received,
        due_at=due_at(received, submission.priority),
        bundle=submission.bundle,
        summary=summary,
        claim_response=pended,
    )
    answer = await runtime.committer.commit(
        lambda session: receive(session, stored, submission, base, received)
    )
    runtime.record_access(caller, "pas-submit", patient, answer["id"])
    return fhir_response(response_bundle(submission, answer, base))


def _pended(submission: Submission, summary: JsonObject, received: datetime) -> Decision:
    """Every request is pended for review, with its due time and any items not adjudicated."""
    return Decision(
        "pended",
        note=pended_note(due_at(received, submission.priority)),
        not_adjudicated=not_adjudicated(summary),
    )


def _order_key(
    caller: Caller, fhir_server: str | None, submission: Submission, summary: JsonObject
) -> str | None:
    """What makes two requests one (one open request per order): the order and Coverage at the
    caller's EHR site."""
    order_ref = summary.get("order")
    coverage = submission.coverage or {}
    return order_key(
        caller.client_id,
        fhir_server,
        str(order_ref) if order_ref else None,
        f"Coverage/{coverage['id']}" if coverage.get("id") else None,
    )


@router.post("/Claim/$inquire", openapi_extra=request_body(PAS_BUNDLE, "application/fhir+json"))
async def inquire(
    request: Request, runtime: RuntimeDep, caller: Annotated[Caller, requires("Claim", "r")]
) -> Response:
    inquiry = read_submission(await _bundle(request), inquiry=True)

    def load() -> tuple[Resource, Resource] | None:
        with runtime.sessions() as session:
            row = existing_request(session, caller.client_id, inquiry.identifier)
            if row is None or not caller.may_see(row.client_id, row.patient_id, row.fhir_server):
                return None
            return dict(row.claim_response), dict(row.bundle)

    found = await run_in_threadpool(load)
    patient = _patient_of(inquiry)
    if found is None:
        runtime.record_access(
            caller,
            "pas-inquire",
            patient,
            None,
            404,
        )
        raise NotFound(f"no prior-authorization request {inquiry.identifier!r} of yours")
    current, original = found
    runtime.record_access(
        caller,
        "pas-inquire",
        patient,
        current["id"],
    )
    submitted = read_submission(original)
    return fhir_response(response_bundle(submitted, current, runtime.settings.base_url.rstrip("/")))


@router.get("/ClaimResponse/{response_id}")
async def read_claim_response(
    response_id: str, runtime: RuntimeDep, caller: Annotated[Caller, requires("ClaimResponse", "r")]
) -> Response:
    """The current ClaimResponse of a request (a notification's focus); a ClaimResponse's id is
    its request's."""

    def load() -> tuple[Resource, str | None] | None:
        with runtime.sessions() as session:
            row = viewable_request(session, response_id, caller)
            return (dict(row.claim_response), row.patient_id) if row is not None else None

    found = await run_in_threadpool(load)
    if found is None:
        raise NotFound(f"ClaimResponse/{response_id} is not known here")
    runtime.record_access(caller, "pas-read", found[1], response_id)
    return fhir_response(found[0])
