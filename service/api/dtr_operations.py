"""The DTR payer endpoint's capabilities under /fhir (DTR 2.0.1 payer CapabilityStatement): the
CapabilityStatement itself, our OperationDefinitions, `ValueSet/$expand` (SHALL) and
`Questionnaire/$log-questionnaire-errors`. `Questionnaire/$next-question` (SHOULD) is answered
with a refusal that says why: our Questionnaires are not adaptive (docs/decisions/0005).

Included before router.py's `/fhir/{type}/{id}` reads, which would otherwise take these paths."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from service.auth.callers import Caller, requires
from service.dtr.capability import capability_statement, operations
from service.dtr.expand import (
    expanded,
    request_from_parameters,
    request_from_query,
    value_set_to_expand,
)
from service.dtr.operation_definitions import definitions
from service.dtr.questionnaire_errors import error_report, log_report, store_report
from service.errors import Issue, NotFound
from service.fhir.parameters import parameters_of
from service.openapi_bodies import EXPAND_PARAMETERS, LOG_ERRORS_PARAMETERS, request_body
from service.outcomes import fhir_response, operation_outcome
from service.policy.canonical import published_base
from service.runtime import Runtime, get_runtime

router = APIRouter(prefix="/fhir")
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
FHIR_JSON = "application/fhir+json"
# DTR 2.0.1 names system/Questionnaire.rs as what a DTR client needs for the Questionnaire
# operations, so reporting errors asks no more than that. A token all the same: payers SHALL
# require DTR clients to authenticate, and a report is kept only from a registered client.
ERRORS_SCOPE = requires("Questionnaire", "r")


def _canonical_base(runtime: Runtime) -> str:
    return published_base(runtime.settings.base_url)


@router.get("/metadata")
async def metadata(request: Request, runtime: RuntimeDep) -> Response:
    return fhir_response(
        capability_statement(
            runtime.settings, runtime.content, _canonical_base(runtime), request.app.version
        )
    )


@router.get("/OperationDefinition/{definition_id}")
async def operation_definition(definition_id: str, runtime: RuntimeDep) -> Response:
    base = _canonical_base(runtime)
    ours = definitions(base)
    if definition_id in ours:
        return fhir_response(ours[definition_id])
    published = [
        o.definition for o in operations(base) if o.definition.rpartition("/")[2] == definition_id
    ]
    if published:
        raise NotFound(f"OperationDefinition/{definition_id} is published at {published[0]}")
    raise NotFound(f"OperationDefinition/{definition_id} is not known here")


@router.post("/ValueSet/$expand", openapi_extra=request_body(EXPAND_PARAMETERS, FHIR_JSON))
@router.get("/ValueSet/$expand")
async def expand(request: Request, runtime: RuntimeDep) -> Response:
    return await _expand(request, runtime, None)


@router.post(
    "/ValueSet/{value_set_id}/$expand", openapi_extra=request_body(EXPAND_PARAMETERS, FHIR_JSON)
)
@router.get("/ValueSet/{value_set_id}/$expand")
async def expand_instance(value_set_id: str, request: Request, runtime: RuntimeDep) -> Response:
    return await _expand(request, runtime, value_set_id)


async def _expand(request: Request, runtime: Runtime, value_set_id: str | None) -> Response:
    """Public, like the content reads: a ValueSet is published content with no patient data."""
    if request.method == "POST":
        wanted = request_from_parameters(parameters_of(await request.body()))
    else:
        wanted = request_from_query(request.query_params.multi_items())
    value_set = value_set_to_expand(runtime.content, wanted, value_set_id)
    return fhir_response(expanded(value_set, wanted, runtime.clock.now()))


@router.post(
    "/Questionnaire/$log-questionnaire-errors",
    openapi_extra=request_body(LOG_ERRORS_PARAMETERS, FHIR_JSON),
)
async def log_questionnaire_errors(
    request: Request, runtime: RuntimeDep, caller: Annotated[Caller, ERRORS_SCOPE]
) -> Response:
    report = error_report(parameters_of(await request.body()), runtime.content)
    report_id = await runtime.committer.commit(store_report(report, caller, runtime.clock.now()))
    log_report(report, caller, report_id)
    count = len(report.outcome["issue"])
    recorded = f"{count} issue(s) about {report.url} recorded"
    return fhir_response(
        operation_outcome([Issue(recorded, code="informational", severity="information")])
    )


@router.post("/Questionnaire/$next-question")
async def next_question() -> Response:
    """SDC $next-question serves adaptive Questionnaires; we publish none (every package holds a
    standard Questionnaire, DTR std-questionnaire), so no DTR client is sent here. Refused with
    the reason rather than left to a 405 from the read route (docs/decisions/0005)."""
    message = (
        "$next-question is not offered: this payer's Questionnaires are standard, not adaptive; "
        "fill them in from Questionnaire/$questionnaire-package"
    )
    raise NotFound(message, issues=[Issue(message, code="not-supported")])
