"""Prior-authorization requests and their decisions, kept: each request as received with its
pre-review summary, each decision appended (who, when, why, the ClaimResponse sent), never
rewritten. A submitter reads back only its own requests; the reviewers read them all."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, case, select, update
from sqlalchemy.orm import Session

from service.errors import Conflict, NotFound
from service.storage.crd_answers import Viewer
from service.storage.tables import OPEN_STATES, PriorAuthDecision, PriorAuthRequest
from service.types import JsonObject, Resource


@dataclass(frozen=True)
class Received:
    id: str
    identifier: str
    client_id: str
    fhir_server: str | None
    patient_id: str | None
    policy_id: str | None
    order_ref: str | None
    # The order's key (order_key): one open request per order.
    order_key: str | None
    priority: str
    received_at: datetime
    due_at: datetime
    bundle: Resource
    summary: JsonObject
    claim_response: Resource


def existing_request(session: Session, client_id: str, identifier: str) -> PriorAuthRequest | None:
    """The client's request under this Claim identifier, if it sent one before."""
    return session.scalars(
        select(PriorAuthRequest).where(
            PriorAuthRequest.client_id == client_id, PriorAuthRequest.identifier == identifier
        )
    ).first()


def order_key(
    client_id: str, fhir_server: str | None, order_ref: str | None, coverage_ref: str | None
) -> str | None:
    """The same order from the same EHR site (client and FHIR server: an order id means
    something only there) under the same Coverage; None without an order to key on."""
    if not order_ref:
        return None
    parts = (client_id, fhir_server or "", order_ref, coverage_ref or "")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def open_request_for_order(session: Session, key: str) -> PriorAuthRequest | None:
    """The request still open for this order, if one is."""
    return session.scalars(
        select(PriorAuthRequest).where(
            PriorAuthRequest.order_key == key, PriorAuthRequest.status.in_(OPEN_STATES)
        )
    ).first()


def add_request(session: Session, received: Received) -> None:
    """The request, pended, and its first decision (the pend at receipt)."""
    session.add(
        PriorAuthRequest(
            id=received.id,
            identifier=received.identifier,
            client_id=received.client_id,
            fhir_server=received.fhir_server,
            patient_id=received.patient_id,
            policy_id=received.policy_id,
            order_ref=received.order_ref,
            order_key=received.order_key,
            priority=received.priority,
            received_at=received.received_at,
            due_at=received.due_at,
            status="pended",
            preauth_ref=None,
            bundle=received.bundle,
            summary=received.summary,
            claim_response=received.claim_response,
        )
    )
    pend = Decided(
        by="system",
        at=received.received_at,
        action="pend",
        state="pended",
        reason_code=None,
        reason_text="every request is reviewed clinically (policy section 2)",
        details={},
        preauth_ref=None,
        claim_response=received.claim_response,
    )
    session.add(_decision_row(received.id, pend))


def viewable_request(session: Session, request_id: str, viewer: Viewer) -> PriorAuthRequest | None:
    """The request if it is this submitter's; None when unknown or another's, alike."""
    row = session.get(PriorAuthRequest, request_id[:64])
    if row is None or not viewer.may_see(row.client_id, row.patient_id, row.fhir_server):
        return None
    return row


def request_for_review(session: Session, request_id: str) -> PriorAuthRequest | None:
    return session.get(PriorAuthRequest, request_id[:64])


def review_queue(session: Session, limit: int = 200) -> list[PriorAuthRequest]:
    """Open requests, the soonest due first."""
    statement = (
        select(PriorAuthRequest)
        .where(PriorAuthRequest.status.in_(OPEN_STATES))
        .order_by(PriorAuthRequest.due_at, PriorAuthRequest.received_at)
        .limit(limit)
    )
    return list(session.scalars(statement))


def recently_decided(session: Session, limit: int = 50) -> list[PriorAuthRequest]:
    statement = (
        select(PriorAuthRequest)
        .where(PriorAuthRequest.status.not_in(OPEN_STATES))
        .order_by(PriorAuthRequest.received_at.desc())
        .limit(limit)
    )
    return list(session.scalars(statement))


def requests_in(
    session: Session, states: Sequence[str], limit: int = 500
) -> list[PriorAuthRequest]:
    """Requests in any of `states`: the open ones soonest due first, then the rest newest first."""
    still_open = PriorAuthRequest.status.in_(OPEN_STATES)
    statement = (
        select(PriorAuthRequest)
        .where(PriorAuthRequest.status.in_(states))
        .order_by(
            still_open.desc(),
            case((still_open, PriorAuthRequest.due_at), else_=None),
            PriorAuthRequest.received_at.desc(),
        )
        .limit(limit)
    )
    return list(session.scalars(statement))


def refuse_if_decided(session: Session, request_id: str) -> None:
    """`Conflict` saying who decided it and when, when the request is no longer open: what a
    reviewer about to confirm a decision is told at once (the write that decides is still
    conditional, record_decision)."""
    status = session.scalar(
        select(PriorAuthRequest.status).where(PriorAuthRequest.id == request_id)
    )
    if status not in OPEN_STATES:
        raise _decided_first(session, request_id)


def decisions_of(session: Session, request_id: str) -> list[PriorAuthDecision]:
    statement = (
        select(PriorAuthDecision)
        .where(PriorAuthDecision.request_id == request_id)
        .order_by(PriorAuthDecision.id)
    )
    return list(session.scalars(statement))


@dataclass(frozen=True)
class Decided:
    by: str
    at: datetime
    action: str  # approve | deny | more-info | cancel
    state: str  # approved | denied | more-info | cancelled
    reason_code: str | None
    reason_text: str | None
    details: JsonObject
    preauth_ref: str | None
    claim_response: Resource


def record_decision(
    session: Session,
    request_id: str,
    decided: Decided,
    expected: Sequence[str] = OPEN_STATES,
    changes: Mapping[str, object] | None = None,
) -> None:
    """The decision appended and the request moved to its state, only if the request is still in
    one of the `expected` states: a conditional write (UPDATE ... WHERE status IN ..., its row
    count checked), so of two decisions made at once on any replicas exactly one stands, and the
    other's maker is told who decided first. Every field of the outcome is written, an absent
    authorization number as NULL."""
    statement = (
        update(PriorAuthRequest)
        .where(PriorAuthRequest.id == request_id, PriorAuthRequest.status.in_(expected))
        .values(
            status=decided.state,
            preauth_ref=decided.preauth_ref,
            claim_response=decided.claim_response,
            **(changes or {}),
        )
    )
    # The ORM's execute, so the session's copy of the row follows what was written.
    moved = cast(CursorResult[Any], session.execute(statement))
    if moved.rowcount != 1:
        raise _decided_first(session, request_id)
    session.add(_decision_row(request_id, decided))


def _decided_first(session: Session, request_id: str) -> Conflict | NotFound:
    """Read afresh (not from the session's copy, which is what the refused decision saw)."""
    status = session.scalar(
        select(PriorAuthRequest.status).where(PriorAuthRequest.id == request_id)
    )
    last = session.execute(
        select(PriorAuthDecision.by, PriorAuthDecision.at)
        .where(PriorAuthDecision.request_id == request_id)
        .order_by(PriorAuthDecision.id.desc())
        .limit(1)
    ).first()
    if status is None or last is None:
        return NotFound(f"no request {request_id!r}")
    when = last.at if last.at.tzinfo else last.at.replace(tzinfo=UTC)
    return Conflict(
        f"this request is already {status} by {last.by} at {when:%Y-%m-%d %H:%M:%S} UTC:"
        " a decision is final, and this one was not recorded"
    )


def _decision_row(request_id: str, decided: Decided) -> PriorAuthDecision:
    return PriorAuthDecision(
        request_id=request_id,
        at=decided.at,
        by=decided.by,
        action=decided.action,
        reason_code=decided.reason_code,
        reason_text=decided.reason_text,
        details=decided.details,
        claim_response=decided.claim_response,
    )
