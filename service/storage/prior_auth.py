"""Prior-authorization requests and their decisions, kept: each request as received with its
pre-review summary, each decision appended (who, when, why, the ClaimResponse sent), never
rewritten. A submitter reads back only its own requests; the reviewers read them all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.storage.crd_answers import Viewer
from service.storage.tables import PriorAuthDecision, PriorAuthRequest
from service.types import JsonObject, Resource

# What a reviewer still has to decide.
OPEN_STATES = ("pended", "more-info")


@dataclass(frozen=True)
class Received:
    id: str
    identifier: str
    client_id: str
    fhir_server: str | None
    patient_id: str | None
    policy_id: str | None
    order_ref: str | None
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


def record_decision(session: Session, row: PriorAuthRequest, decided: Decided) -> None:
    """The decision appended; the request's current state follows it."""
    session.add(_decision_row(row.id, decided))
    row.status = decided.state
    row.preauth_ref = decided.preauth_ref
    row.claim_response = decided.claim_response


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
