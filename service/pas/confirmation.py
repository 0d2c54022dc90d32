"""What a reviewer confirms before a final decision is written: the decision restated in words
("Approve <drug> up to <the covered dose> for <patient>"), the period and what is covered, a covered
limit below what was ordered with the difference, the criteria the evaluation found not met,
the reason of a denial; and the exact form the confirmation posts, so what is written is what
was read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from service.errors import UnprocessableEntity
from service.pas.casefile import CaseView
from service.pas.decisions import Choice, approved_period, reasons
from service.policy.folder import Policy
from service.storage.tables import PriorAuthRequest

# Decisions that are final, and so confirmed first.
FINAL_ACTIONS = ("approve", "deny")


@dataclass(frozen=True)
class Confirmation:
    action: str
    headline: str
    details: list[str]
    warnings: list[str]
    fields: dict[str, str]  # what the confirmation posts


def confirmation(
    view: CaseView, row: PriorAuthRequest, policy: Policy | None, choice: Choice, today: date
) -> Confirmation:
    """`UnprocessableEntity` for a choice that could not be recorded (no reason, a period that
    ends before it starts)."""
    fields = {"action": choice.action, "note": choice.note}
    details = []
    if choice.action == "approve":
        start, end = approved_period(choice, row.summary, today)
        fields |= {"start": start.isoformat(), "end": end.isoformat()}
        dose = f" up to {view.covered_dose}" if view.covered_dose else ""
        headline = f"Approve {view.subject.drug}{dose} for {view.patient}"
        details.append(f"Authorized from {start:%Y-%m-%d} to {end:%Y-%m-%d}")
        if view.covered:
            details.append(f"Covered: {'; '.join(view.covered)}")
        warnings = [*view.shortfalls, *_not_met(view)]
    elif choice.action == "deny":
        known = reasons(policy, row.summary.get("evaluation"))
        if choice.reason not in known:
            raise UnprocessableEntity("a denial needs a reason: a criterion or a general reason")
        fields["reason"] = choice.reason
        ordered = f", ordered {view.ordered_dose}," if view.ordered_dose else ""
        headline = f"Deny {view.subject.drug}{ordered} for {view.patient}"
        details.append(f"Reason: {known[choice.reason]}")
        warnings = []
    else:
        raise UnprocessableEntity(f"{choice.action!r} is not a decision to confirm")
    if choice.note.strip():
        details.append(f"Words for the prescriber: {choice.note.strip()}")
    return Confirmation(choice.action, headline, details, warnings, fields)


def _not_met(view: CaseView) -> list[str]:
    missed = [c.label for c in view.criteria if c.status == "not-met"]
    return [f"The evaluation found not met: {'; '.join(missed)}"] if missed else []
