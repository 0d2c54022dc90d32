"""Prior-authorization requests kept: a decision is a conditional write, so one made from a read
of the case taken before another decision was committed is refused, names who decided first, and
changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.errors import Conflict
from service.storage.prior_auth import Decided, Received, add_request, record_decision
from service.storage.tables import PriorAuthDecision, PriorAuthRequest

AT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def _received() -> Received:
    return Received(
        id="case-1",
        identifier="https://ehr.example.org/claims|claim-1",
        client_id="ehr-a",
        fhir_server=None,
        patient_id="pat",
        policy_id=None,
        order_ref=None,
        order_key=None,
        priority="standard",
        received_at=AT,
        due_at=AT,
        bundle={},
        summary={},
        claim_response={"outcome": "queued"},
    )


def _decided(by: str, action: str, state: str, preauth_ref: str | None) -> Decided:
    return Decided(
        by=by,
        at=AT.replace(hour=11),
        action=action,
        state=state,
        reason_code=None,
        reason_text=None,
        details={},
        preauth_ref=preauth_ref,
        claim_response={"outcome": "complete", "by": by},
    )


def test_a_decision_from_a_stale_read_is_refused(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        add_request(session, _received())
    with sessions() as denier, sessions.begin() as approver:
        stale = denier.get(PriorAuthRequest, "case-1")
        assert stale is not None and stale.status == "pended"  # what the second reviewer saw
        record_decision(approver, "case-1", _decided("rn.lee", "approve", "approved", "PA1"))
    with sessions.begin() as denier:
        denier.get(PriorAuthRequest, "case-1")
        with pytest.raises(Conflict) as refused:
            record_decision(denier, "case-1", _decided("md.park", "deny", "denied", None))
    assert refused.value.status_code == 409
    assert "already approved by rn.lee at 2026-11-24 11:00:00 UTC" in refused.value.message
    with sessions() as session:
        row = session.get(PriorAuthRequest, "case-1")
        assert row is not None
        assert (row.status, row.preauth_ref, row.claim_response["by"]) == (
            "approved",
            "PA1",
            "rn.lee",
        )
        actions = session.scalars(select(PriorAuthDecision.action).order_by(PriorAuthDecision.id))
        assert list(actions) == ["pend", "approve"]


def test_every_field_of_the_outcome_is_written(sessions: sessionmaker[Session]) -> None:
    """An update moves a request back to review: the authorization number of the decision it
    replaces is written away (NULL), not left because the session's copy already held None."""
    with sessions.begin() as session:
        add_request(session, _received())
        session.flush()
        record_decision(session, "case-1", _decided("rn.lee", "more-info", "more-info", None))
    with sessions.begin() as session:
        row = session.get(PriorAuthRequest, "case-1")
        assert row is not None and row.preauth_ref is None
        # Another process gave it a number meanwhile, unseen by this session's copy.
        session.execute(
            PriorAuthRequest.__table__.update().values(preauth_ref="PA-OTHER")  # type: ignore[attr-defined]
        )
        record_decision(session, "case-1", _decided("submitter:ehr-a", "update", "pended", None))
    with sessions() as session:
        row = session.get(PriorAuthRequest, "case-1")
        assert row is not None and (row.status, row.preauth_ref) == ("pended", None)
