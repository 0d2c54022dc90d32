"""The operators (service/cql/operators.py, compiled by codegen): their shortcuts for common values
give what their general rule gives, and each operator, on ordinary values, at its boundaries and
on null, gives what the official engine (cql-execution) gives for the same CQL."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.cql import operators as op
from service.cql.engine import CqlEngine
from service.cql.runtime import EvaluationContext
from service.cql.values import Interval
from service.settings import PROJECT_ROOT
from tests.cql.test_oracle import differences, run_oracle
from tests.support.clock import EXAMPLES_DATE
from tests.support.policies import SHARED_CQL

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
    """CQL `in` on an interval as the general rule states it (the ordered comparisons; a null
    end is no bound when closed, an unknown one when open)."""
    low = op.greater_or_equal if window.low_closed else op.greater
    high = op.less_or_equal if window.high_closed else op.less
    above = (
        (True if window.low_closed else None) if window.low is None else low(element, window.low)
    )
    below = (
        (True if window.high_closed else None)
        if window.high is None
        else high(element, window.high)
    )
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


# ---------------------------------------------------------------- against the official engine

# Days the date operators are tried on: month ends, a leap day, a year apart.
DATES = {
    "Early": "2019-01-15",
    "EarlyMarch": "2019-03-15",
    "Later": "2020-06-01",
    "JanEnd": "2024-01-31",
    "LeapDay": "2024-02-29",
    "MarLate": "2024-03-30",
    "LeapNext": "2025-02-28",
}
_TRUTH = {"T": "true", "F": "false", "N": "(null as Boolean)"}
# Each operator of the bridge on ordinary values, at its boundaries and on null: the official
# engine's answer is the expected one. Names are the defines of the library below.
EXPRESSIONS: dict[str, str] = {
    **{
        f"{a} {word} {b}": f"{_TRUTH[a]} {word} {_TRUTH[b]}"
        for word in ("and", "or", "implies", "xor")
        for a in _TRUTH
        for b in _TRUTH
    },
    **{f"not {a}": f"not {_TRUTH[a]}" for a in _TRUTH},
    **{f"{a} is {t}": f"{_TRUTH[a]} is {t}" for a in _TRUTH for t in ("null", "true", "false")},
    "less at": "3 < 3",
    "less below": "2 < 3",
    "less or equal at": "3 <= 3",
    "less or equal above": "4 <= 3",
    "greater at": "3 > 3",
    "greater above": "4 > 3",
    "greater or equal at": "3 >= 3",
    "greater or equal below": "2 >= 3",
    "less null": "(null as Integer) < 3",
    "greater or equal null": "3 >= (null as Integer)",
    "decimals less at": "1.5 < 1.50",
    "equal null": "(null as Integer) = 3",
    "not equal null": "3 != (null as Integer)",
    "not equal": "3 != 4",
    "equal lists": "{1, 2} = {1, 2}",
    "equal lists of other lengths": "{1, 2} = {1, 2, 3}",
    "equal lists with a null": "{1, null} = {1, null}",
    "equivalent strings": "'Ab' ~ 'aB'",
    "equivalent nulls": "(null as String) ~ (null as String)",
    "quantities equal across units": "1 'g' = 1000 'mg'",
    "quantity less across units": "999 'mg' < 1 'g'",
    "date less": '"Early" < "Later"',
    "date less or equal at": '"Early" <= "Early"',
    "date less null": '"Early" < (null as Date)',
    "add": "7 + 10",
    "add null": "7 + (null as Integer)",
    "subtract": "7 - 10",
    "multiply decimals": "1.5 * 3",
    "divide": "7 / 2",
    "divide to eight places": "1 / 3",
    "divide by zero": "1 / 0",
    "power": "2 ^ 10",
    "negate": "-(3)",
    "abs": "Abs(-3)",
    "floor negative": "Floor(-2.5)",
    "round half": "Round(2.5)",
    "round to places": "Round(3.14159, 2)",
    "round half negative": "Round(-2.5)",
    "concatenate": "'a' + 'b'",
    "concatenate null": "'a' + (null as String)",
    "to decimal": "ToDecimal(2)",
    "to string": "ToString(3)",
    "convert quantity": "convert 1500 'mg' to 'g'",
    "days between": 'days between "Early" and "Later"',
    "days between backwards": 'days between "Later" and "Early"',
    "months between": 'months between "Early" and "Later"',
    "months between backwards": 'months between "Later" and "Early"',
    "months between on the same day": 'months between "Early" and "EarlyMarch"',
    "months between to a later day": 'months between "LeapDay" and "MarLate"',
    "years between a day short": 'years between "LeapNext" and "JanEnd"',
    "years between": 'years between "Early" and "Later"',
    "years between backwards": 'years between "Later" and "Early"',
    "years between null": 'years between "Early" and (null as Date)',
    "month added at a month end": '"JanEnd" + 1 month',
    "month subtracted at a month end": '"JanEnd" - 1 month',
    "year added to a leap day": '"LeapDay" + 1 year',
    "weeks added": '"Early" + 2 weeks',
    "days subtracted": '"Early" - 10 days',
    "in closed window at its start": '"Early" in Interval["Early", "Later"]',
    "in open window at its start": '"Early" in Interval("Early", "Later"]',
    "in closed window at its end": '"Later" in Interval["Early", "Later"]',
    "in half-open window at its end": '"Later" in Interval["Early", "Later")',
    "null in window": '(null as Date) in Interval["Early", "Later"]',
    "in window from a closed null": '"Early" in Interval[null as Date, "Later"]',
    "in window to an open null": '"Later" in Interval["Early", null as Date)',
    "in window of numbers from an open null": "2 in Interval(null as Integer, 3]",
    "in integer interval at its open end": "3 in Interval[1, 3)",
    "in integer interval at its closed end": "3 in Interval[1, 3]",
    "string in list": "'x' in {'y', 'x'}",
    "integer in list": "2 in {1, 3}",
    "exists only null": "exists {null as Integer}",
    "exists one": "exists {1}",
    "exists empty": "exists (List<Integer>{})",
    "count skips nulls": "Count({1, null, 2})",
    "count empty": "Count(List<Integer>{})",
    "first": "First({1, 2, 3})",
    "last": "Last({1, 2, 3})",
    "min skips nulls": "Min({3, null, 1})",
    "max skips nulls": "Max({3, null, 1})",
    "coalesce": "Coalesce(null as Integer, 2, 3)",
    "coalesce of a list": "Coalesce({null as Integer, 4, 5})",
    "flatten": "Flatten({{1, 2}, {3}})",
    "union": "{1, 2, 2} union {2, 3}",
    "singleton from one": "singleton from {7}",
    "singleton from none": "singleton from (List<Integer>{})",
    "if on null": "if (null as Boolean) then 1 else 2",
    "case on a comparand": "case 2 when 1 then 'a' when 2 then 'b' else 'c' end",
    "case on conditions": "case when 1 > 2 then 'a' when (null as Boolean) then 'b' else 'c' end",
    "query where": "({3, 1, 2}) X where X > 1 return X * 2",
    "query where on null": "({3, null, 2}) X where X > 2",
    "query distinct": "({1, 1, 2}) X return X",
    "query sorted descending": "({3, 1, 2}) X sort desc",
    "query sorted ascending": "({3, 1, 2}) X sort asc",
}


# Where the two engines count otherwise, on purpose: a month end to a shorter month's end.
# cql-execution (Luxon) counts a whole month once the earlier day plus a month, clamped to the
# month's end, is reached; the bridge once the later day of the month is
# (tests/policy/test_boundaries.py: born February 29, still an infant on February 28). The pair
# each gives, so a change in either engine is seen (docs/decisions/0011).
DIFFERENT: dict[str, tuple[str, int, int]] = {
    "months between month ends": ('months between "JanEnd" and "LeapDay"', 0, 1),
    "months between month ends backwards": ('months between "LeapDay" and "JanEnd"', 0, -1),
    "years between from a leap day": ('years between "LeapDay" and "LeapNext"', 0, 1),
    "years between to a leap day": ('years between "LeapNext" and "LeapDay"', 0, -1),
}


def _operator_library() -> str:
    lines = ["library Operators version '1'", "using FHIR version '4.0.1'"]
    lines += [f'parameter "{name}" Date' for name in DATES]
    lines += ["context Patient"]
    defines = {**EXPRESSIONS, **{name: case[0] for name, case in DIFFERENT.items()}}
    lines += [f'define "{name}": {expression}' for name, expression in defines.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def operator_values(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Any]:
    """Every define of the library, by our engine and by the official one (translated by the
    official translator, tools/cql/translate.mjs --stdin)."""
    translated = subprocess.run(
        ["node", PROJECT_ROOT / "tools" / "cql" / "translate.mjs", "--stdin"],
        input=_operator_library(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert translated.returncode == 0, translated.stderr[-3000:]
    elm = json.loads(translated.stdout)
    folder = tmp_path_factory.mktemp("operators")
    (folder / "elm").mkdir()
    (folder / "elm" / "Operators.json").write_text(translated.stdout)
    patient = {"resourceType": "Patient", "id": "p"}
    bundle = {"resourceType": "Bundle", "entry": [{"resource": patient}]}
    (theirs,) = run_oracle(
        [
            {
                "elm": elm,
                "library": "Operators",
                "bundle": bundle,
                "parameters": DATES,
                "defines": [*EXPRESSIONS, *DIFFERENT],
                "today": EXAMPLES_DATE.isoformat(),
            }
        ]
    )
    engine = CqlEngine([SHARED_CQL, folder])
    days = {name: date.fromisoformat(value) for name, value in DATES.items()}
    context = EvaluationContext(None, None, days, EXAMPLES_DATE)  # type: ignore[arg-type]
    return engine.evaluate("Operators", [*EXPRESSIONS, *DIFFERENT], context), theirs


@pytest.mark.parametrize("name", list(EXPRESSIONS))
def test_each_operator_gives_what_the_official_engine_gives(
    operator_values: tuple[dict[str, Any], dict[str, Any]], name: str
) -> None:
    ours, theirs = operator_values
    assert differences({name: ours[name]}, {name: theirs[name]}) == {}, EXPRESSIONS[name]


@pytest.mark.parametrize("name", list(DIFFERENT))
def test_where_the_engines_count_month_ends_otherwise(
    operator_values: tuple[dict[str, Any], dict[str, Any]], name: str
) -> None:
    ours, theirs = operator_values
    _, bridge, official = DIFFERENT[name]
    assert (ours[name], theirs[name]) == (bridge, {"decimal": str(official)})
