"""CDS Hooks feedback, committed before the 200 that acknowledges it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from service.storage.commits import Work
from service.storage.tables import FeedbackEntry


@dataclass(frozen=True)
class FeedbackItem:
    """One item of a CDS Hooks feedback request, as the router read it."""

    card: str
    outcome: str
    outcome_timestamp: str | None
    detail: dict[str, Any]


def store_feedback(
    service_id: str, items: Sequence[FeedbackItem], received_at: datetime
) -> Work[int]:
    """The unit of work for the writer: every item of the request, as sent."""

    def work(session: Session) -> int:
        session.add_all(
            FeedbackEntry(
                received_at=received_at,
                service_id=service_id,
                card_uuid=item.card,
                outcome=item.outcome,
                outcome_timestamp=item.outcome_timestamp,
                detail=item.detail,
            )
            for item in items
        )
        return len(items)

    return work
