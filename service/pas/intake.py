"""What a PAS request does to the requests already kept, in the writer's transaction:

- a new identifier (for this client): a new request, pended;
- the same Claim again, unchanged: the same request (the stored answer, no second case);
- the same identifier with changes marked (an update): the request is reviewed again from the
  changed Claim, pended, its due time counted from now; what it was is kept in the decision;
- every item cancelled: the request is cancelled;
- a Claim that replaces another (`related`): the other is closed as replaced, the new one pended;
- a new identifier for an order whose request is still open (the same order from the same EHR site
  under the same Coverage): a 409 naming the open request. PAS 2.0.1 has one request per need,
  changed by updates ("clients SHOULD submit an update to the previously submitted Claim"); a
  second request would be a second case for one order. Decided, the order may be asked again.

An update, cancel or replace naming a request this client never sent is a 422, not a new request.
A denied or cancelled request is final: changing it is a 422 (PAS: submit a new request).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.errors import Conflict, Issue, UnprocessableEntity
from service.pas.cases import not_adjudicated, pended_note
from service.pas.claim_response import Decision, claim_response
from service.pas.submission import Submission, read_submission
from service.storage.prior_auth import (
    Decided,
    Received,
    add_request,
    existing_request,
    open_request_for_order,
    record_decision,
)
from service.storage.tables import PriorAuthRequest
from service.types import Resource

FINAL = ("denied", "cancelled")


def receive(
    session: Session, received: Received, submission: Submission, base_url: str, at: datetime
) -> Resource:
    """The ClaimResponse to answer with."""
    key = submission.replaces or submission.identifier
    existing = existing_request(session, received.client_id, key)
    if existing is None:
        _refuse_an_update_of_nothing(submission, key)
        return _new_request(session, received)
    if not submission.is_update:
        return dict(existing.claim_response)
    if existing.status in FINAL:
        raise UnprocessableEntity(
            f"this request is {existing.status}, which is final: submit a new request"
        )
    by = f"submitter:{received.client_id or 'development'}"
    if submission.cancels_all:
        return _close(existing, "cancel", "cancelled at the submitter's request", by, base_url, at)
    if submission.replaces is not None:
        _close(existing, "replace", f"replaced by {submission.identifier}", by, base_url, at)
        return _new_request(session, received)
    return _updated(session, existing, received, submission, by, base_url, at)


def _refuse_an_update_of_nothing(submission: Submission, key: str) -> None:
    if submission.replaces is not None:
        raise UnprocessableEntity(f"the request this one replaces ({key}) is not known")
    if submission.cancels_all:
        raise UnprocessableEntity(f"nothing to cancel: no request {key} is known")
    if submission.marks_changes:
        # PAS: an update carries the original's identifier; a new request marks no changes.
        raise UnprocessableEntity(f"nothing to update: no request {key} is known")


def _updated(
    session: Session,
    existing: PriorAuthRequest,
    received: Received,
    submission: Submission,
    by: str,
    base_url: str,
    at: datetime,
) -> Resource:
    """The request as updated by its submitter, pended again."""
    pended = claim_response(
        submission,
        existing.id,
        base_url,
        Decision(
            "pended",
            note=pended_note(received.due_at, updated=True),
            not_adjudicated=not_adjudicated(received.summary),
        ),
        at,
    )
    # Conditional on the state the update was made from: a reviewer's decision committed meanwhile
    # is not overwritten unseen (a 409 says who decided; the submitter sends it again).
    record_decision(
        session,
        existing.id,
        Decided(
            by=by,
            at=at,
            action="update",
            state="pended",
            reason_code=None,
            reason_text="updated by the submitter",
            details={"before": {"bundle": existing.bundle, "summary": existing.summary}},
            preauth_ref=None,
            claim_response=pended,
        ),
        expected=(existing.status,),
        changes=_what_changes(received),
    )
    return pended


def _what_changes(received: Received) -> dict[str, object]:
    """The request's columns an update replaces: what it asks, and when it is due."""
    return {
        "bundle": received.bundle,
        "summary": received.summary,
        "policy_id": received.policy_id,
        "order_ref": received.order_ref,
        "order_key": received.order_key,
        "priority": received.priority,
        "due_at": received.due_at,
    }


def _new_request(session: Session, received: Received) -> Resource:
    """The request added; when another process added the same Claim first (its transaction was
    not yet committed when this one looked), the one it stored: the same Claim identifier from
    the same client is the same request (PAS), not a failure. The database's unique indexes
    decide, not a look beforehand: of two requests for one order sent at once, one is kept and
    the other refused, on any number of replicas."""
    try:
        with session.begin_nested():
            add_request(session, received)
    except IntegrityError:
        stored = existing_request(session, received.client_id, received.identifier)
        if stored is not None:
            return dict(stored.claim_response)
        open_one = open_request_for_order(session, received.order_key or "")
        if open_one is None:
            raise
        raise _duplicate(open_one) from None
    return received.claim_response


def _duplicate(open_one: PriorAuthRequest) -> Conflict:
    system, _, value = open_one.identifier.partition("|")
    due = open_one.due_at if open_one.due_at.tzinfo else open_one.due_at.replace(tzinfo=UTC)
    said = (
        f"a prior-authorization request for this order is already open: Claim {value}"
        f" ({system}), ClaimResponse/{open_one.id}, {open_one.status}, decision due"
        f" {due:%Y-%m-%d %H:%M} UTC. Send changes as an update to that Claim (its identifier,"
        " changes marked) or cancel it; a new request for this order is taken once it is decided"
    )
    where = ("Claim.item[0].extension",)
    return Conflict(said, issues=[Issue(said, code="duplicate", expression=where)])


def _close(
    row: PriorAuthRequest, action: str, why: str, by: str, base_url: str, at: datetime
) -> Resource:
    original = read_submission(row.bundle)
    decision = Decision(
        "cancelled", note=why.capitalize() + ".", not_adjudicated=not_adjudicated(row.summary)
    )
    response = claim_response(original, row.id, base_url, decision, at)
    session = Session.object_session(row)
    assert session is not None
    record_decision(
        session,
        row.id,
        Decided(
            by=by,
            at=at,
            action=action,
            state="cancelled",
            reason_code=None,
            reason_text=why,
            details={},
            preauth_ref=row.preauth_ref,
            claim_response=response,
        ),
        expected=(row.status,),
    )
    return response
