"""A period limit as a FHIR Period: its end is the last covered day (FHIR's end is inclusive),
the day before the same date N years on, as the policy's "within N years" reads in the CQL."""

from __future__ import annotations

from datetime import date

import pytest

from service.policy.contract import LimitKind
from service.policy.evaluation import LimitResult


@pytest.mark.parametrize(
    ("start", "years", "end"),
    [
        (date(2026, 11, 1), 1, date(2027, 10, 31)),
        (date(2026, 9, 1), 2, date(2028, 8, 31)),
        (
            date(2028, 2, 29),
            1,
            date(2029, 2, 27),
        ),  # no 29 February in 2029: the 28th is not covered
    ],
)
def test_a_period_ends_on_its_last_covered_day(start: date, years: int, end: date) -> None:
    limit = LimitResult("p", LimitKind.PERIOD, "CYCLES", "coverage period", years, start=start)
    assert limit.period() == (start, end)


def test_a_period_without_its_start_is_not_known() -> None:
    assert LimitResult("p", LimitKind.PERIOD, "CYCLES", "coverage period", 1).period() is None
