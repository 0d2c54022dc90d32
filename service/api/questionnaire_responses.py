"""QuestionnaireResponse intake (`POST /fhir/QuestionnaireResponse`, idempotent on the response's
identifier, committed before the 201), read by id, and `QuestionnaireResponse/$evaluate`: the
answers evaluated by the same policy engine as CRD, answers overriding record evidence."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session
from starlette.responses import Response

from service.auth.callers import Caller, requires
from service.dtr.access_log import patient_of, subject_patient
from service.dtr.evaluate import evaluate_response
from service.dtr.prefill import assertion_of
from service.dtr.response_profile import binding_issues, profile_issues
from service.dtr.responses import response_issues
from service.dtr.versions import declared_version
from service.errors import BadRequest, Forbidden, NotFound, UnprocessableEntity
from service.fhir.validation import check_resources
from service.openapi_bodies import QUESTIONNAIRE_RESPONSE, request_body
from service.outcomes import fhir_response
from service.runtime import Runtime, get_runtime
from service.storage.commits import Work
from service.storage.crd_answers import find_assertion
from service.storage.responses import Sender, read_response, save_response, search_responses
from service.storage.tables import CoverageAssertion
from service.types import Resource

router = APIRouter(prefix="/fhir/QuestionnaireResponse")
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
QR = "QuestionnaireResponse"


async def _response_and_questionnaire(
    request: Request, runtime: Runtime
) -> tuple[Resource, Resource]:
    try:
        response = orjson.loads(await request.body())
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"request body is not JSON: {error}") from None
    if not isinstance(response, dict) or response.get("resourceType") != "QuestionnaireResponse":
        raise BadRequest("the body must be a FHIR QuestionnaireResponse")
    if response.get("status") not in ("in-progress", "completed", "amended"):
        raise BadRequest("QuestionnaireResponse.status must be in-progress, completed or amended")
    check_resources([response], "the QuestionnaireResponse")  # FHIR R4 structure first
    canonical = response.get("questionnaire")
    questionnaire = (
        runtime.content.by_url("Questionnaire", canonical) if isinstance(canonical, str) else None
    )
    if questionnaire is None:
        raise BadRequest(
            f"QuestionnaireResponse.questionnaire {canonical!r} is not a questionnaire of ours"
        )
    issues = response_issues(response, questionnaire, runtime.content)
    if issues:
        raise UnprocessableEntity("the response does not fit its Questionnaire", issues=issues)
    return response, questionnaire


@router.post("", openapi_extra=request_body(QUESTIONNAIRE_RESPONSE, "application/fhir+json"))
async def submit(
    request: Request, runtime: RuntimeDep, caller: Annotated[Caller, requires(QR, "c")]
) -> Response:
    response, _ = await _response_and_questionnaire(request, runtime)
    issues = profile_issues(response, declared_version(response))
    if issues:
        raise UnprocessableEntity("the response does not meet DTR's profile", issues=issues)
    subject = subject_patient(response)
    if caller.patient is not None and subject not in (None, caller.patient):
        raise Forbidden("this token reaches only its launch's patient")
    stored, created, patient = await runtime.committer.commit(
        _store(response, subject, caller, runtime.clock.now())
    )
    runtime.record_access(
        caller,
        "response-create",
        patient,
        stored["id"],
    )
    location = f"{runtime.settings.base_url}/fhir/QuestionnaireResponse/{stored['id']}"
    return fhir_response(stored, 201 if created else 200, {"Location": location})


def _store(
    response: Resource, subject: str | None, caller: Caller, received_at: datetime
) -> Work[tuple[Resource, bool, str | None]]:
    """The unit of work for the writer, committed before acknowledging. The response is bound to
    the caller, and to its assertion's patient. (Two workers racing on one identifier: the
    loser's batch fails on the unique constraint, a 503, and its retry gets the stored one.)"""
    assertion_id = assertion_of(response)

    def work(session: Session) -> tuple[Resource, bool, str | None]:
        assertion = find_assertion(session, assertion_id, caller) if assertion_id else None
        if assertion_id is not None and assertion is None:
            raise UnprocessableEntity(f"coverage-assertion-id {assertion_id!r} is not known here")
        mismatched = binding_issues(response, assertion) if assertion is not None else []
        if mismatched:
            raise UnprocessableEntity("the response is not about its assertion", issues=mismatched)
        sender = Sender(
            client_id=caller.client_id,
            # A launch's assertion is on the launch's server (find_assertion); a system token's
            # names the server its hook call came from.
            fhir_server=assertion.fhir_server if assertion else caller.fhir_server,
            patient_id=caller.patient or (assertion.patient_id if assertion else None) or subject,
        )
        return save_response(session, response, sender, assertion_id, received_at)

    return work


@router.post(
    "/$evaluate", openapi_extra=request_body(QUESTIONNAIRE_RESPONSE, "application/fhir+json")
)
async def evaluate(
    request: Request, runtime: RuntimeDep, caller: Annotated[Caller, requires(QR, "r")]
) -> Response:
    response, questionnaire = await _response_and_questionnaire(request, runtime)
    assertion = await run_in_threadpool(_assertion, runtime, assertion_of(response), caller)
    patient = assertion.patient_id if assertion is not None else None
    runtime.record_access(
        caller,
        "evaluate",
        patient,
        assertion_of(response),
    )
    policy = runtime.policy_registry.by_questionnaire(questionnaire["url"])
    if policy is None:
        raise UnprocessableEntity(f"no policy of ours reads {questionnaire['url']}")
    engine = runtime.policy_registry.engine(policy)
    today = runtime.today()
    return fhir_response(evaluate_response(engine, response, questionnaire, assertion, today))


def _assertion(
    runtime: Runtime, assertion_id: str | None, caller: Caller
) -> CoverageAssertion | None:
    """Another client's assertion reads as none at all, like an unknown id."""
    if assertion_id is None:
        return None
    with runtime.sessions() as session:
        return find_assertion(session, assertion_id, caller)


@router.get("")
async def search(
    request: Request, runtime: RuntimeDep, caller: Annotated[Caller, requires(QR, "s")]
) -> Response:
    """`subject` (or `patient`) and `status`; only the caller's own responses ever match."""
    query = request.query_params
    unknown = sorted(set(query) - {"subject", "patient", "status", "_count"})
    if unknown:
        raise BadRequest(f"search parameters not supported: {', '.join(unknown)}")
    patient = patient_of(query.get("subject")) or query.get("patient")
    rows = await run_in_threadpool(_search, runtime, caller, patient, query.get("status"))
    runtime.record_access(caller, "response-search", patient, None)
    return fhir_response(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(rows),
            "entry": [
                {
                    "fullUrl": f"{runtime.settings.base_url}/fhir/QuestionnaireResponse/{r['id']}",
                    "resource": r,
                    "search": {"mode": "match"},
                }
                for r in rows
            ],
        }
    )


def _search(
    runtime: Runtime, caller: Caller, patient: str | None, status: str | None
) -> list[Resource]:
    with runtime.sessions() as session:
        return search_responses(session, caller, patient, status)


@router.get("/{response_id}")
async def read(
    response_id: str, runtime: RuntimeDep, caller: Annotated[Caller, requires(QR, "r")]
) -> Response:
    def load() -> tuple[Resource, str | None] | None:
        with runtime.sessions() as session:
            return read_response(session, response_id, caller)  # unknown or not ours: None

    found = await run_in_threadpool(load)
    if found is None:
        raise NotFound(f"QuestionnaireResponse/{response_id} is not known here")
    runtime.record_access(
        caller,
        "response-read",
        found[1],
        response_id,
    )
    return fhir_response(found[0])
