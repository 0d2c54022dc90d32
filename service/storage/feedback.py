"""CDS Hooks feedback, committed before the 200 that acknowledges it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from service.cdshooks.models import FeedbackRequest
from service.storage.tables import FeedbackEntry


def store_feedback(sessions: sessionmaker[Session], service_id: str, body: FeedbackRequest) -> int:
    now = datetime.now(UTC)
    with sessions.begin() as session:
        session.add_all(
            FeedbackEntry(
                received_at=now,
                service_id=service_id,
                card_uuid=item.card,
                outcome=item.outcome,
                outcome_timestamp=item.outcome_timestamp,
                detail=item.model_dump(mode="json", by_alias=True, exclude_none=True),
            )
            for item in body.feedback
        )
    return len(body.feedback)
