"""CDS Hooks feedback, committed before the 200 that acknowledges it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from service.cdshooks.models import FeedbackRequest
from service.storage.commits import Work
from service.storage.tables import FeedbackEntry


def store_feedback(service_id: str, body: FeedbackRequest) -> Work[int]:
    """The unit of work for the writer: every item of the request, as sent."""

    def work(session: Session) -> int:
        now = datetime.now(UTC)
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

    return work
