"""The operators' shortcuts for common values give what their general rule gives."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from service.cql import operators as op
from service.cql.values import Interval

DAYS = st.dates(min_value=date(2024, 1, 1), max_value=date(2024, 1, 10))
MOMENTS = st.builds(
    lambda day, minutes, offset: (
        datetime(day.year, day.month, day.day, tzinfo=offset) + timedelta(minutes=minutes)
    ),
    DAYS,
    st.integers(min_value=0, max_value=24 * 60 - 1),
    st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9))]),
)


def general_in(element: Any, window: Interval) -> bool | None:
    """CQL `in` on an interval as the general rule states it (the ordered comparisons; an open
    end is no bound)."""
    low = op.greater_or_equal if window.low_closed else op.greater
    high = op.less_or_equal if window.high_closed else op.less
    above = True if window.low is None else low(element, window.low)
    below = True if window.high is None else high(element, window.high)
    return op.and_(above, below)


@given(st.one_of(MOMENTS, DAYS), DAYS, DAYS, st.booleans(), st.booleans())
def test_a_day_or_moment_in_a_window_of_days_is_compared_on_its_day(
    moment: date, low: date, high: date, low_closed: bool, high_closed: bool
) -> None:
    window = Interval(low, high, low_closed, high_closed)
    assert op.in_(moment, window) is general_in(moment, window)


BOUNDS = st.one_of(DAYS, MOMENTS, st.none())


@given(st.one_of(DAYS, MOMENTS), BOUNDS, BOUNDS, st.booleans(), st.booleans())
def test_other_windows_keep_the_general_rule(
    element: date, low: date | None, high: date | None, low_closed: bool, high_closed: bool
) -> None:
    window = Interval(low, high, low_closed, high_closed)
    assert op.in_(element, window) is general_in(element, window)


PLAIN = [
    st.text(max_size=2),
    st.integers(-3, 3),
    st.booleans(),
    st.decimals(allow_nan=False, allow_infinity=False, places=1, min_value=-3, max_value=3),
    DAYS,
    MOMENTS,
]


@given(st.one_of(*(st.tuples(kind, kind) for kind in PLAIN)))
def test_equal_on_two_plain_values_of_one_type_is_their_equality(pair: tuple[Any, Any]) -> None:
    a, b = pair
    assert op.equal(a, b) is (a == b)


@given(
    st.text(max_size=2),
    st.lists(st.one_of(st.text(max_size=2), st.none(), st.just(Decimal(1)))),
)
def test_a_string_in_a_list_is_list_membership(element: str, container: list[Any]) -> None:
    assert op.in_(element, container) is any(op.equal(element, item) is True for item in container)
