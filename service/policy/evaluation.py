"""The result of evaluating one order against a policy: each criterion met / not-met / unknown
with the evidence it used, each indication path, the overall outcome and the dose limit.

Cards, coverage information, pre-filled answers and determinations are all read from this one
object (SPEC sections 2-5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

import orjson


class Status(StrEnum):
    MET = "met"
    NOT_MET = "not-met"
    UNKNOWN = "unknown"


class Outcome(StrEnum):
    CRITERIA_MET = "criteria-met"
    CRITERIA_NOT_MET = "criteria-not-met"
    INCOMPLETE = "incomplete"


@dataclass(frozen=True)
class CriterionResult:
    id: str
    status: Status
    value: str | Decimal | bool | int | date | dict[str, str] | None = None
    evidence: tuple[str, ...] = ()
    # Set when a recorded value disagrees with what the record implies (BSA: >10% off Mosteller).
    discrepancy: bool = False


@dataclass(frozen=True)
class PathResult:
    id: str
    status: Status


@dataclass(frozen=True)
class DoseLimit:
    mcg_per_day: Decimal | None
    step_mcg_per_day: Decimal | None
    basis: str


@dataclass(frozen=True)
class CycleLimit:
    max_cycles: int | None
    coverage_period_years: int | None


@dataclass(frozen=True)
class Evaluation:
    order: str
    criteria: dict[str, CriterionResult]
    paths: dict[str, PathResult]
    outcome: Outcome
    dose_limit: DoseLimit
    cycle_limit: CycleLimit
    first_cycle_date: date | None = None
    # Relapsed cycle 1: the days 1-7 dose ordered or answered.
    step_dose_mcg: Decimal | None = None
    # Questionnaire linkId -> the value the record (or an answer) gives it; None: the form asks.
    prefill: dict[str, str | Decimal | bool | int | date | dict[str, str] | None] = field(
        default_factory=dict
    )

    def as_json(self) -> dict[str, object]:
        """Plain JSON: decimals as strings (exact), dates in ISO form. orjson walks the
        dataclasses in C; `dataclasses.asdict` and a Python walk cost about 0.2 ms on every
        order-sign (the evaluation is stored for DTR)."""
        plain = orjson.loads(orjson.dumps(self, default=_decimal))
        assert isinstance(plain, dict)
        return plain

    def unknown_criteria(self) -> list[str]:
        return [c.id for c in self.criteria.values() if c.status is Status.UNKNOWN]


def _decimal(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
