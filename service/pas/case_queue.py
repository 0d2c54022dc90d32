"""The reviewers' queue: the cases in the states asked for (open ones by default, the soonest
due first), narrowed by a search for a patient's name, a member id or a case id, each as the
queue shows it (service/pas/casefile.py); with the recently decided cases beside the open ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from service.errors import BadRequest
from service.pas.casefile import CaseView, case_view
from service.policy.registry import PolicyRegistry
from service.storage.prior_auth import recently_decided, requests_in
from service.storage.tables import OPEN_STATES, PriorAuthRequest

# The status filter's choices: its value -> (its words, the states it shows).
STATUS_FILTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "open": ("waiting for a decision", OPEN_STATES),
    "pended": ("pended for review", ("pended",)),
    "more-info": ("waiting for more information", ("more-info",)),
    "approved": ("approved", ("approved",)),
    "denied": ("denied", ("denied",)),
    "cancelled": ("cancelled", ("cancelled",)),
    "all": ("any status", (*OPEN_STATES, "approved", "denied", "cancelled")),
}
_LONGEST_SEARCH = 100


@dataclass(frozen=True)
class QueueQuery:
    search: str = ""
    status: str = "open"

    @classmethod
    def parse(cls, search: str | None, status: str | None) -> QueueQuery:
        """The queue's GET parameters `q` and `status`; `BadRequest` naming a bad one."""
        status = status or "open"
        if status not in STATUS_FILTERS:
            raise BadRequest(f"status {status!r} is not one of {', '.join(STATUS_FILTERS)}")
        search = (search or "").strip()
        if len(search) > _LONGEST_SEARCH:
            raise BadRequest(f"the search is longer than {_LONGEST_SEARCH} characters")
        return cls(search, status)

    @property
    def is_default(self) -> bool:
        return self == QueueQuery()


def queue_views(
    session: Session, registry: PolicyRegistry, query: QueueQuery, now: datetime, today: date
) -> tuple[list[CaseView], list[CaseView]]:
    """The cases the query asks for, and (for the default queue only) those decided lately."""

    def views(rows: list[PriorAuthRequest]) -> list[CaseView]:
        return [case_view(r, registry.by_id(r.policy_id or ""), [], now, today) for r in rows]

    shown = [
        view
        for view in views(requests_in(session, STATUS_FILTERS[query.status][1]))
        if _found(view, query.search)
    ]
    decided = views(recently_decided(session)) if query.is_default else []
    return shown, decided


def _found(view: CaseView, search: str) -> bool:
    if not search:
        return True
    wanted = search.casefold()
    return any(
        wanted in text.casefold()
        for text in (view.subject.patient, view.subject.member_id, view.id)
        if text
    )
