"""The result of evaluating one order against a policy: each criterion met / not-met / unknown
with the evidence it used, each indication path, the overall outcome, and each limit the policy
declares (a quantity, a count or a period, with the ordered value and how the limit was set).

Cards, coverage information, pre-filled answers and determinations are all read from this one
object. It knows no drug: what the criteria, paths and limits are is the policy's contract
(`service/policy/contract.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

import orjson

from service.policy.contract import LimitKind


class Status(StrEnum):
    MET = "met"
    NOT_MET = "not-met"
    UNKNOWN = "unknown"


class Outcome(StrEnum):
    CRITERIA_MET = "criteria-met"
    CRITERIA_NOT_MET = "criteria-not-met"
    INCOMPLETE = "incomplete"


class EvidenceKind(StrEnum):
    ANSWER = "answer"
    RESOURCE = "resource"


@dataclass(frozen=True)
class Evidence:
    """What a criterion's value rests on: a questionnaire answer (its `link_id`) or a resource of
    the record (its `reference`, "Condition/abc")."""

    kind: EvidenceKind
    link_id: str | None = None
    reference: str | None = None

    @classmethod
    def answer(cls, link_id: str) -> Evidence:
        return cls(EvidenceKind.ANSWER, link_id=link_id)

    @classmethod
    def resource(cls, reference: str) -> Evidence:
        return cls(EvidenceKind.RESOURCE, reference=reference)

    @classmethod
    def from_json(cls, stored: object) -> Evidence:
        """As `Evaluation.as_json` stores it. Evaluations stored before evidence was typed hold
        the CQL's own text ("answer:<linkId>", else a reference): read here, and nowhere else."""
        if isinstance(stored, dict):
            kind = EvidenceKind(str(stored.get("kind")))
            return cls(kind, link_id=stored.get("link_id"), reference=stored.get("reference"))
        text = str(stored)
        if text.startswith("answer:"):
            return cls.answer(text.removeprefix("answer:"))
        return cls.resource(text)


@dataclass(frozen=True)
class CriterionResult:
    id: str
    status: Status
    value: str | Decimal | bool | int | date | dict[str, str] | None = None
    evidence: tuple[Evidence, ...] = ()
    # Set when a recorded value disagrees with what the rest of the record implies (the
    # contract's `discrepancy` define for the criterion).
    discrepancy: bool = False


@dataclass(frozen=True)
class PathResult:
    id: str
    status: Status


@dataclass(frozen=True)
class LimitResult:
    """One of the policy's limits for this order. `value`: a quantity's amount (a Decimal in
    `unit`, UCUM), a count (int), a period's length in years (int); None when the limit is not
    known yet (`basis` may say why)."""

    id: str
    kind: LimitKind
    criterion: str
    label: str
    value: Decimal | int | None
    unit: str | None = None
    ordered: Decimal | None = None
    basis: str | None = None
    start: date | None = None

    def exceeded(self) -> bool:
        return self.ordered is not None and self.value is not None and self.ordered > self.value

    def period(self) -> tuple[date, date] | None:
        """A period limit's first and last covered day, when its start is known."""
        if self.kind is not LimitKind.PERIOD or self.start is None or self.value is None:
            return None
        return covered_period(self.start, int(self.value))


@dataclass(frozen=True)
class Evaluation:
    # The order evaluated, as a reference ("MedicationRequest/abc").
    order: str
    criteria: dict[str, CriterionResult]
    paths: dict[str, PathResult]
    outcome: Outcome
    limits: tuple[LimitResult, ...] = ()
    # Questionnaire linkId -> the value the record (or an answer) gives it; None: the form asks.
    prefill: dict[str, str | Decimal | bool | int | date | dict[str, str] | None] = field(
        default_factory=dict
    )

    def limit(self, limit_id: str) -> LimitResult | None:
        return next((x for x in self.limits if x.id == limit_id), None)

    def as_json(self) -> dict[str, object]:
        """Plain JSON: decimals as strings (exact), dates in ISO form. orjson walks the
        dataclasses in C; `dataclasses.asdict` and a Python walk cost about 0.2 ms on every
        order-sign (the evaluation is stored for DTR)."""
        plain = orjson.loads(orjson.dumps(self, default=_decimal))
        assert isinstance(plain, dict)
        return plain

    def unknown_criteria(self) -> list[str]:
        return [c.id for c in self.criteria.values() if c.status is Status.UNKNOWN]


def covered_period(start: date, years: int) -> tuple[date, date]:
    """`years` from `start` as a FHIR Period, whose end is inclusive: the last covered day is the
    day before the same date `years` later (a policy's "within N years of the first cycle")."""
    return start, years_after(start, years) - timedelta(days=1)


def years_after(day: date, years: int) -> date:
    """The same day `years` later (28 February for a 29 February in a common year)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 2, 28)


def _decimal(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
