"""A reviewer's decision on a pended request, turned into the ClaimResponse the submitter gets:

- approve: a new authorization number, the authorized period (by default the policy's coverage
  period from its start, else a year from the decision), and what is covered (the policy's
  limits as the evaluation found them: the dose, the cycles);
- deny: a reason tied to one of the policy's criteria (or a general one), with the reviewer's
  words, as CMS-0057-F requires a specific reason;
- more information: what is asked, in the reviewer's words; the request stays pended and the
  prescriber can answer through DTR again.

Only an open request (pended, or waiting for more information) can be decided: the write that
records a decision is conditional on it (service/storage/prior_auth.py), so a decision made from
a page read before another reviewer's is refused there. Decisions are appended, never changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from service.errors import UnprocessableEntity
from service.pas.cases import new_preauth_ref, not_adjudicated
from service.pas.claim_response import Decision, claim_response
from service.pas.submission import read_submission
from service.policy.display import status_words
from service.policy.evaluation import covered_period
from service.policy.folder import Policy
from service.storage.prior_auth import Decided
from service.storage.tables import PriorAuthRequest
from service.types import JsonObject

# Reasons not tied to one criterion.
GENERAL_REASONS = {
    "not-medically-necessary": "Not medically necessary for this patient",
    "insufficient-information": "The information given does not support the request",
    "not-covered": "Not a covered benefit under the member's plan",
}


@dataclass(frozen=True)
class Choice:
    """What the reviewer entered on the case page."""

    action: str  # approve | deny | more-info
    note: str = ""
    reason: str = ""  # deny: a criterion id of the policy, or a GENERAL_REASONS key
    start: date | None = None  # approve: the authorized period
    end: date | None = None


def reason_system(base_url: str, policy: Policy | None) -> str:
    """The payer's code system for review reasons: the policy's criteria and the general ones."""
    name = policy.id if policy else "general"
    return f"{base_url}/fhir/CodeSystem/{name}-review-reasons"


@dataclass(frozen=True)
class ReasonGroup:
    """Denial reasons offered together, under a heading, in the order a reviewer weighs them."""

    heading: str
    reasons: dict[str, str]  # code -> words


# A criterion's status in the evaluation -> the heading of its group and its words as a reason.
# Criteria the evaluation found met come last, apart: a reviewer denies on one only when its
# evidence does not hold.
_BY_STATUS = (
    ("not-met", "Not met in the evaluation", "{label}: {not_met}"),
    ("unknown", "Not shown by the request", "{label}: not shown by the information given"),
    ("general", "General reasons", ""),
    (
        "met",
        "Found met by the evaluation (only when its evidence does not hold)",
        "{label}: found met by the evaluation, not supported on review",
    ),
)


def reason_groups(policy: Policy | None, evaluation: object) -> list[ReasonGroup]:
    """The reasons a denial of this case may give, grouped by what the evaluation found."""
    results = (evaluation.get("criteria") if isinstance(evaluation, dict) else None) or {}
    groups = []
    # The policy's own word for a criterion not met (its words block).
    not_met = status_words(policy, "not-met") if policy else "not met"
    for status, heading, words in _BY_STATUS:
        if status == "general":
            groups.append(ReasonGroup(heading, dict(GENERAL_REASONS)))
            continue
        found = {
            c.id: words.format(label=c.label, not_met=not_met)
            for c in (policy.evaluation.criteria if policy else ())
            if _status(results.get(c.id)) == status
        }
        if found:
            groups.append(ReasonGroup(heading, found))
    return groups


def reasons(policy: Policy | None, evaluation: object) -> dict[str, str]:
    """code -> words: every reason a denial of this case may give."""
    return {
        code: words for g in reason_groups(policy, evaluation) for code, words in g.reasons.items()
    }


def _status(result: object) -> str:
    status = result.get("status") if isinstance(result, dict) else None
    return status if status in ("met", "not-met") else "unknown"


def default_period(summary: JsonObject, today: date) -> tuple[date, date]:
    """The policy's coverage period when the evaluation knows its start; else one year."""
    evaluation = summary.get("evaluation") or {}
    for limit in evaluation.get("limits") or []:
        if limit.get("kind") == "period" and limit.get("start") and limit.get("value"):
            return covered_period(date.fromisoformat(str(limit["start"])), int(limit["value"]))
    return covered_period(today, 1)


def covered(summary: JsonObject) -> list[JsonObject]:
    """The limits the evaluation set, as the authorization covers them."""
    evaluation = summary.get("evaluation") or {}
    return [
        {k: limit.get(k) for k in ("id", "kind", "label", "value", "unit")}
        for limit in evaluation.get("limits") or []
        if limit.get("value") is not None and limit.get("kind") in ("quantity", "count")
    ]


@dataclass(frozen=True)
class _Outcome:
    """What one reviewer action decides: the ClaimResponse's decision and the row's fields."""

    decision: Decision
    state: str
    preauth_ref: str | None = None
    reason_code: str | None = None
    reason_text: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def decide(
    row: PriorAuthRequest,
    policy: Policy | None,
    choice: Choice,
    reviewer: str,
    base_url: str,
    at: datetime,
    reconsideration: str | None = None,
) -> Decided:
    """`reconsideration`: whom a denied prescriber asks to reconsider (a note of its own)."""
    submission = read_submission(row.bundle)
    note = choice.note.strip() or None
    if choice.action == "approve":
        outcome = _approval(row, choice, note, at)
    elif choice.action == "deny":
        outcome = _denial(row, policy, choice, note, base_url, reconsideration)
    elif choice.action == "more-info":
        outcome = _asking_for_more(row, note)
    else:
        raise UnprocessableEntity(f"unknown action {choice.action!r}")
    decision = replace(outcome.decision, not_adjudicated=not_adjudicated(row.summary))
    return Decided(
        by=reviewer,
        at=at,
        action=choice.action,
        state=outcome.state,
        reason_code=outcome.reason_code,
        reason_text=outcome.reason_text,
        details=outcome.details,
        preauth_ref=outcome.preauth_ref,
        claim_response=claim_response(submission, row.id, base_url, decision, at),
    )


def _approval(row: PriorAuthRequest, choice: Choice, note: str | None, at: datetime) -> _Outcome:
    start, end = approved_period(choice, row.summary, at.date())
    reference = new_preauth_ref(at.date())
    details = {"period": [start.isoformat(), end.isoformat()], "covered": covered(row.summary)}
    decision = Decision("approved", note=note, preauth_ref=reference, period=(start, end))
    return _Outcome(decision, "approved", reference, None, note, details)


def _denial(
    row: PriorAuthRequest,
    policy: Policy | None,
    choice: Choice,
    note: str | None,
    base_url: str,
    reconsideration: str | None,
) -> _Outcome:
    known = reasons(policy, row.summary.get("evaluation"))
    if choice.reason not in known:
        raise UnprocessableEntity("a denial needs a reason: a criterion or a general reason")
    words = known[choice.reason]
    system = reason_system(base_url, policy)
    contact = (f"To ask for reconsideration: {reconsideration}.",) if reconsideration else ()
    decision = Decision(
        "denied", note=note, reason=(system, choice.reason, words), notes_after=contact
    )
    return _Outcome(decision, "denied", None, choice.reason, note or words, {"reason": words})


def _asking_for_more(row: PriorAuthRequest, note: str | None) -> _Outcome:
    if not note:
        raise UnprocessableEntity("say what more information is needed")
    relaunch = (
        "Answer through the prior-authorization form: DTR's $questionnaire-package with "
        f"context {row.id} opens it again, then submit the request again as an update."
    )
    return _Outcome(Decision("more-info", asks=(note, relaunch)), "more-info", reason_text=note)


def approved_period(choice: Choice, summary: JsonObject, today: date) -> tuple[date, date]:
    """The period the reviewer gave, else the policy's coverage period."""
    start, end = default_period(summary, today)
    start, end = choice.start or start, choice.end or end
    if end < start:
        raise UnprocessableEntity("the authorized period ends before it starts")
    return start, end
