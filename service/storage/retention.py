"""Retention: what is older than RETENTION_DAYS is deleted, table by table, in one transaction;
expired `jti` claims and sign-in counts nothing depends on go too. Every durable table with PHI or
audit is named here, so a table added without a retention rule fails its test
(tests/storage/test_retention.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from service.settings import Settings
from service.storage.login_attempts import prune_forgotten
from service.storage.tables import (
    AuditEntry,
    Base,
    CoverageAssertion,
    DtrAccess,
    FeedbackEntry,
    HookAnswer,
    JwtReplay,
    NotificationEvent,
    PriorAuthDecision,
    PriorAuthRequest,
    QuestionnaireErrorReport,
    ReviewerAction,
    ReviewerSession,
    StoredResponse,
    StoredSubscription,
)

# Each table and the column that dates its rows.
DATED: tuple[tuple[type[Base], InstrumentedAttribute[datetime]], ...] = (
    (AuditEntry, AuditEntry.at),
    (FeedbackEntry, FeedbackEntry.received_at),
    (HookAnswer, HookAnswer.at),
    (CoverageAssertion, CoverageAssertion.created_at),
    (StoredResponse, StoredResponse.received_at),
    (DtrAccess, DtrAccess.at),
    (ReviewerAction, ReviewerAction.at),
    (QuestionnaireErrorReport, QuestionnaireErrorReport.received_at),
    # A request and its decisions by their own dates: a decision outlives its request by at
    # most the review time.
    (PriorAuthRequest, PriorAuthRequest.received_at),
    (PriorAuthDecision, PriorAuthDecision.at),
    (StoredSubscription, StoredSubscription.created_at),
    # An event carries its ClaimResponse (PHI); it is tried for a day, kept as its decision is.
    (NotificationEvent, NotificationEvent.created_at),
    # Sessions end after hours and signing in clears the expired ones; prune takes any left.
    (ReviewerSession, ReviewerSession.expires_at),
)


def prune(sessions: sessionmaker[Session], settings: Settings, moment: datetime) -> dict[str, int]:
    """Rows deleted per table."""
    cutoff = moment - timedelta(days=settings.retention_days)
    removed: dict[str, int] = {}
    with sessions.begin() as session:
        for model, dated in DATED:
            result = session.execute(delete(model).where(dated < cutoff))
            removed[model.__tablename__] = int(result.rowcount)  # type: ignore[attr-defined]
        removed["jwt_replay"] = prune_expired(session, moment.timestamp())
        removed["login_attempts"] = prune_forgotten(session, moment.timestamp())
    return removed


def prune_expired(session: Session, now: float) -> int:
    result = session.execute(delete(JwtReplay).where(JwtReplay.expires_at <= now))
    return int(result.rowcount)  # type: ignore[attr-defined]
