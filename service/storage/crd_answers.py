"""What CRD said, kept: each hook answer (CRD found-37) with the coverage assertions in it and the
evaluation behind each (found-11), append-only, committed in one unit before the answer leaves
(with the durable claim of the calling JWT's `jti`, service/auth/replay.py `claimed`). DTR reads
an assertion back only for the client (and, for a launch token, the patient on its FHIR server)
it was given to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from service.storage.commits import Work
from service.storage.tables import NO_CLIENT, CoverageAssertion, HookAnswer


class Viewer(Protocol):
    """Who asks to read a row: service/auth/callers.py Caller."""

    def may_see(self, client_id: str, patient_id: str | None, fhir_server: str | None) -> bool: ...


# Built once: a statement object reused keeps its compiled form cached.
_ANSWERS = insert(HookAnswer.__table__)  # type: ignore[arg-type]
_ASSERTIONS = insert(CoverageAssertion.__table__)  # type: ignore[arg-type]


@dataclass(frozen=True)
class AskedBy:
    """Who made a hook call: the registered client (NO_CLIENT with authentication off), the FHIR
    server and the patient as that EHR names them."""

    client_id: str = NO_CLIENT
    fhir_server: str | None = None
    patient_id: str | None = None


@dataclass(frozen=True)
class AssertionRow:
    assertion_id: str
    policy_id: str
    order_ref: str
    coverage_ref: str
    evaluation: dict[str, Any]
    continues: str | None = None  # the assertion the order still carries (guidance unchanged)


@dataclass(frozen=True)
class HookAnswerRow:
    hook: str
    hook_instance: str
    service_id: str
    crd_version: str
    context: dict[str, Any]
    response: dict[str, Any]


def store_answer(
    asked_by: AskedBy,
    answer: HookAnswerRow,
    assertions: Sequence[AssertionRow],
    at: datetime,
) -> Work[None]:
    """The unit of work for the writer (the caller claims the JWT's jti with it)."""
    binding = {
        "client_id": asked_by.client_id,
        "fhir_server": _cut(asked_by.fhir_server, 512),
        "patient_id": _cut(asked_by.patient_id, 255),
    }
    answer_row = _answer_row(answer, at) | binding
    assertion_rows = [_assertion_row(row, answer, at) | binding for row in assertions]

    def work(session: Session) -> None:
        session.execute(_ANSWERS, [answer_row])
        if assertion_rows:
            session.execute(_ASSERTIONS, assertion_rows)

    return work


def _answer_row(answer: HookAnswerRow, at: datetime) -> dict[str, Any]:
    return {
        "at": at,
        "hook": answer.hook[:64],
        "hook_instance": answer.hook_instance[:128],
        "service_id": answer.service_id,
        "crd_version": answer.crd_version,
        "context": answer.context,
        "response": answer.response,
    }


def _assertion_row(row: AssertionRow, answer: HookAnswerRow, at: datetime) -> dict[str, Any]:
    return {
        "assertion_id": row.assertion_id,
        "created_at": at,
        "policy_id": row.policy_id,
        "order_ref": row.order_ref[:255],
        "coverage_ref": row.coverage_ref[:255],
        "hook_instance": answer.hook_instance[:128],
        "evaluation": row.evaluation,
        "continues": row.continues,
    }


def _cut(value: str | None, length: int) -> str | None:
    return value[:length] if value is not None else None


def find_assertion(session: Session, assertion_id: str, caller: Viewer) -> CoverageAssertion | None:
    """The assertion if it is this caller's; None when unknown or someone else's, alike."""
    row = session.get(CoverageAssertion, assertion_id[:64])
    if row is None or not caller.may_see(row.client_id, row.patient_id, row.fhir_server):
        return None
    return row


def current_evaluation(session: Session, row: CoverageAssertion) -> dict[str, Any]:
    """The evaluation DTR shows for an assertion: the newest re-sign that continued it (guidance
    unchanged, so the order kept this id; CRD resp-35), else its own. An assertion superseded by
    an update keeps its own evaluation, as given."""
    newest = session.scalars(
        select(CoverageAssertion)
        .where(
            CoverageAssertion.continues == row.assertion_id,
            CoverageAssertion.client_id == row.client_id,
            CoverageAssertion.fhir_server.is_not_distinct_from(row.fhir_server),
            CoverageAssertion.patient_id == row.patient_id,
        )
        .order_by(CoverageAssertion.created_at.desc())
        .limit(1)
    ).first()
    return dict((newest or row).evaluation)
