"""`Questionnaire/$log-questionnaire-errors` (DTR 2.0.1 OperationDefinition
log-questionnaire-errors, at [base]/Questionnaire/$log-questionnaire-errors): a DTR client tells
the payer what went wrong with one of its Questionnaires or their CQL (DTR spec-78: a client
SHALL report CQL errors this way). The report is checked against the operation's two required
inputs, kept, and logged.

DTR 2.0.1 spells the inputs two ways: its OperationDefinition names them `Questionnaire`
(canonical, 1..1) and `OperationOutcome` (1..1); its input profile
(dtr-log-errors-input-parameters) and its example say `questionnaire` and `operationOutcome`.
Either spelling is taken; neither may be given twice.

The OperationOutcome SHALL NOT carry PHI (the client's obligation, DTR oper-2); it is kept as
sent, because its diagnostics are what the payer needs to mend a form. The log line never
carries its text: only the client, the Questionnaire and how many issues of which severity."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from service.auth.callers import Caller
from service.dtr.content import ContentStore
from service.errors import BadRequest, NotFound
from service.fhir.parameters import single_value
from service.fhir.validation import check_resources
from service.storage.commits import Work
from service.storage.tables import QuestionnaireErrorReport
from service.types import JsonObject, Resource

QUESTIONNAIRE = ("Questionnaire", "questionnaire")
OUTCOME = ("OperationOutcome", "operationOutcome")
MAX_CANONICAL_CHARS = 512  # the column's width
# R4 IssueSeverity (a required binding): only these are counted in the log line, so nothing a
# client wrote there can reach the log.
SEVERITIES = ("fatal", "error", "warning", "information")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErrorReport:
    questionnaire: str  # the canonical as sent, version and all
    url: str  # ours: the Questionnaire's url, checked
    outcome: Resource

    def severities(self) -> dict[str, int]:
        counted = Counter(str(issue.get("severity")) for issue in self.outcome["issue"])
        return {severity: counted[severity] for severity in SEVERITIES if counted[severity]}


def error_report(parameters: Sequence[JsonObject], content: ContentStore) -> ErrorReport:
    canonical = single_value(parameters, QUESTIONNAIRE, "valueCanonical")
    outcome = single_value(parameters, OUTCOME, "resource")
    missing = [
        "/".join(names)
        for names, value in ((QUESTIONNAIRE, canonical), (OUTCOME, outcome))
        if value is None
    ]
    if missing:
        raise BadRequest(f"$log-questionnaire-errors needs {' and '.join(missing)} (each 1..1)")
    if not isinstance(canonical, str) or not 0 < len(canonical) <= MAX_CANONICAL_CHARS:
        raise BadRequest(f"Questionnaire must be a canonical of 1 to {MAX_CANONICAL_CHARS} chars")
    if not isinstance(outcome, dict) or outcome.get("resourceType") != "OperationOutcome":
        raise BadRequest("the OperationOutcome parameter must carry an OperationOutcome")
    check_resources([outcome], "the OperationOutcome")
    url = canonical.partition("|")[0]
    # Any version of ours: a report about a version no longer published is still worth keeping.
    if content.by_url("Questionnaire", url) is None:
        raise NotFound(f"no Questionnaire {url} is published here: report to its publisher")
    return ErrorReport(canonical, url, outcome)


def store_report(report: ErrorReport, caller: Caller, received_at: datetime) -> Work[int]:
    """The unit of work for the writer, committed before the report is acknowledged."""

    def work(session: Session) -> int:
        row = QuestionnaireErrorReport(
            received_at=received_at,
            client_id=caller.client_id,
            questionnaire=report.questionnaire,
            outcome=report.outcome,
        )
        session.add(row)
        session.flush()
        return row.id

    return work


def log_report(report: ErrorReport, caller: Caller, report_id: int) -> None:
    log.info(
        "questionnaire errors reported",
        extra={
            "report_id": report_id,
            "client": caller.client_id,
            "questionnaire": report.url,
            "issues": len(report.outcome["issue"]),
            "severities": report.severities(),
        },
    )
