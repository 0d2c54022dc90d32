"""CQL 1.5 operators on runtime values, null-propagating as the specification says. Pure
functions of values; the compiler wires them to ELM nodes.

Their operands are typed `Any` on purpose: each operator checks at run time the kinds it takes
(CQL is typed by the translator, and an operator must give null, not fail, on the mixes the
specification allows), and the compiled nodes that call them return `CqlValue`
(service/cql/values.py), the bridge's one named type for what it computes with."""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from service.cql.values import Code, Concept, Interval, Quantity, decimal_of
from service.errors import CqlRuntimeError

Binary = Callable[[Any, Any], Any]
# CQL 1.5 System.Decimal: at most 8 digits after the decimal point.
_DECIMAL_SCALE = Decimal("1e-8")


def scaled(value: Any) -> Any:
    if isinstance(value, Decimal) and value.as_tuple().exponent < -8:  # type: ignore[operator]
        return value.quantize(_DECIMAL_SCALE, rounding=ROUND_HALF_UP)
    return value


# -- logical (three-valued)
def and_(a: Any, b: Any) -> bool | None:
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def or_(a: Any, b: Any) -> bool | None:
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def not_(a: Any) -> bool | None:
    return None if a is None else not a


def implies(a: Any, b: Any) -> bool | None:
    return or_(not_(a), b)


def xor(a: Any, b: Any) -> bool | None:
    return None if a is None or b is None else a != b


# -- comparison
def _comparable(a: Any, b: Any) -> tuple[Any, Any] | None:
    if isinstance(a, Quantity) and isinstance(b, Quantity):
        converted = b.to(a.unit)
        return None if converted is None else (a.value, converted.value)
    if isinstance(a, datetime) and isinstance(b, date) and not isinstance(b, datetime):
        return a.date(), b
    if isinstance(b, datetime) and isinstance(a, date) and not isinstance(a, datetime):
        return a, b.date()
    return a, b


# Values of these types compare as Python compares them (the common case, answered first).
_PLAIN = frozenset({str, int, bool, Decimal, date, datetime})


def equal(a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    if a.__class__ is b.__class__ and a.__class__ in _PLAIN:
        return bool(a == b)
    if isinstance(a, Code) and isinstance(b, Code):
        return a.code == b.code and a.system == b.system
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return False
        results = [equal(x, y) for x, y in zip(a, b, strict=True)]
        return False if False in results else (None if None in results else True)
    pair = _comparable(a, b)
    return None if pair is None else pair[0] == pair[1]


def equivalent(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    return bool(equal(a, b))


def _ordered(compare: Callable[[Any, Any], bool]) -> Binary:
    def operator(a: Any, b: Any) -> bool | None:
        if a is None or b is None:
            return None
        pair = _comparable(a, b)
        return None if pair is None else compare(*pair)

    return operator


less = _ordered(lambda a, b: a < b)
less_or_equal = _ordered(lambda a, b: a <= b)
greater = _ordered(lambda a, b: a > b)
greater_or_equal = _ordered(lambda a, b: a >= b)


def in_(element: Any, container: Any) -> bool | None:
    if element.__class__ is str and container.__class__ is list:
        return element in container  # equal(a string, x) is True only for that same string
    if container is None:
        return None if element is None else False
    if isinstance(container, Interval):
        if element is None:
            return None
        low_value, high_value = container.low, container.high
        kind = element.__class__
        if (
            kind is date or kind is datetime
        ) and low_value.__class__ is high_value.__class__ is date:
            # A day or a dated event in a window of days (the common case): compared on its day,
            # as _comparable compares a DateTime with a Date.
            day: date = element if kind is date else element.date()
            above = day >= low_value if container.low_closed else day > low_value
            below = day <= high_value if container.high_closed else day < high_value
            return bool(above and below)
        low = greater_or_equal if container.low_closed else greater
        high = less_or_equal if container.high_closed else less
        after = _unbounded(container.low_closed) if low_value is None else low(element, low_value)
        before = (
            _unbounded(container.high_closed) if high_value is None else high(element, high_value)
        )
        return and_(after, before)
    if element is None:
        return any(item is None for item in container)
    return any(equal(element, item) is True for item in container)


def _unbounded(closed: bool) -> bool | None:
    """An element against a null bound: within it when the bound is closed (the interval starts
    or ends at the type's extreme), unknown when it is open (CQL "Interval Values")."""
    return True if closed else None


# -- arithmetic
def _numbers(a: Any, b: Any) -> tuple[Any, Any] | None:
    if a is None or b is None:
        return None
    if isinstance(a, int) and isinstance(b, int):
        return a, b
    da, db = decimal_of(a), decimal_of(b)
    return None if da is None or db is None else (da, db)


def add(a: Any, b: Any) -> Any:
    if isinstance(a, date) and isinstance(b, Quantity):
        return shift_date(a, b, 1)
    pair = _numbers(a, b)
    return None if pair is None else scaled(pair[0] + pair[1])


def subtract(a: Any, b: Any) -> Any:
    if isinstance(a, date) and isinstance(b, Quantity):
        return shift_date(a, b, -1)
    pair = _numbers(a, b)
    return None if pair is None else scaled(pair[0] - pair[1])


def multiply(a: Any, b: Any) -> Any:
    pair = _numbers(a, b)
    return None if pair is None else scaled(pair[0] * pair[1])


def divide(a: Any, b: Any) -> Decimal | None:
    da, db = decimal_of(a), decimal_of(b)
    if da is None or db is None or db == 0:
        return None
    quotient: Decimal = scaled(da / db)
    return quotient


def power(a: Any, b: Any) -> Any:
    pair = _numbers(a, b)
    if pair is None:
        return None
    try:
        return scaled(pair[0] ** pair[1])
    except (InvalidOperation, ZeroDivisionError):
        return None


def round_(value: Any, precision: Any) -> Decimal | None:
    number = decimal_of(value)
    if number is None:
        return None
    places = 0 if precision is None else int(precision)
    # A half rounds up, toward positive infinity (CQL: Round(-0.5) is 0), not away from zero.
    step = Decimal(1).scaleb(-places)
    return (number + step / 2).quantize(step, rounding=ROUND_FLOOR)


def floor(value: Any) -> int | None:
    """CQL Floor: the greatest Integer not above the value."""
    number = decimal_of(value)
    return None if number is None else int(number.to_integral_value(rounding=ROUND_FLOOR))


def abs_(value: Any) -> Any:
    return None if value is None else abs(value)


def negate(value: Any) -> Any:
    return None if value is None else -value


def concatenate(*parts: Any) -> str | None:
    return None if any(part is None for part in parts) else "".join(parts)


# -- dates
_DAYS_PER_UNIT = {"day": 1, "days": 1, "d": 1, "week": 7, "weeks": 7, "wk": 7}
_MONTHS_PER_UNIT = {"month": 1, "months": 1, "mo": 1, "year": 12, "years": 12, "a": 12}


def shift_date(day: date, amount: Quantity, sign: int) -> date | None:
    whole = int(amount.value) * sign
    if amount.unit in _DAYS_PER_UNIT:
        return day + timedelta(days=whole * _DAYS_PER_UNIT[amount.unit])
    if amount.unit in _MONTHS_PER_UNIT:
        return _plus_months(day, whole * _MONTHS_PER_UNIT[amount.unit])
    return None


def _plus_months(day: date, months: int) -> date:
    """`day + months`: the same day of the month, or the month's last day when it has fewer."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return day.replace(year=year, month=month + 1, day=min(day.day, last))


def date_from(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def duration_between(precision: str, start: Any, end: Any) -> int | None:
    """Whole calendar periods from start to end (CQL "duration in ... between"). A month has
    passed when the later day of the month is reached: January 31 to February 29 is no month,
    February 29 to February 28 a year later no year (the infant boundary test holds the second;
    cql-execution counts one of each, docs/decisions/0011)."""
    a, b = date_from(start), date_from(end)
    if a is None or b is None:
        return None
    if precision in ("Day", "Days"):
        return (b - a).days
    months = (b.year - a.year) * 12 + (b.month - a.month)
    if months > 0 and b.day < a.day:
        months -= 1
    elif months < 0 and b.day > a.day:
        months += 1
    if precision in ("Month", "Months"):
        return months
    if precision in ("Year", "Years"):
        return int(months / 12)
    return None


def convert_quantity(value: Any, target: Any) -> Quantity | None:
    """`convert q to 'unit'`: null in, null out (the translator types the operands); a
    conversion UCUM does not define is null."""
    if not isinstance(value, Quantity) or not isinstance(target, str):
        return None
    converted = value.to(target)
    return None if converted is None else Quantity(scaled(converted.value), converted.unit)


# -- lists
def first(items: Any) -> Any:
    return items[0] if items else None


def last(items: Any) -> Any:
    return items[-1] if items else None


def exists(items: Any) -> bool:
    return bool(items) and any(item is not None for item in items)


def count(items: Any) -> int:
    return 0 if items is None else sum(1 for item in items if item is not None)


def flatten(items: Any) -> list[Any] | None:
    if items is None:
        return None
    return [
        x
        for item in items
        if item is not None
        for x in (item if isinstance(item, list) else [item])
    ]


def distinct(items: Iterable[Any]) -> list[Any]:
    kept: list[Any] = []
    for item in items:
        if not any(equivalent(item, seen) for seen in kept):
            kept.append(item)
    return kept


def union(a: Any, b: Any) -> list[Any]:
    return distinct([*(a or []), *(b or [])])


def minimum(items: Any) -> Any:
    values = [item for item in items or [] if item is not None]
    return min(values) if values else None


def maximum(items: Any) -> Any:
    values = [item for item in items or [] if item is not None]
    return max(values) if values else None


def coalesce_list(items: Any) -> Any:
    """`Coalesce` over one List operand: its first non-null element."""
    return next((x for x in listed(items) if x is not None), None)


def singleton_from(items: Any, where: str) -> Any:
    """`singleton from`: null for none, the element for one, an error (at `where`, the CQL
    file and line) for more."""
    found = listed(items)
    if not found:
        return None
    if len(found) > 1:
        raise CqlRuntimeError(f"{where}: singleton from a list of {len(found)}")
    return found[0]


def listed(value: Any) -> list[Any]:
    """A List operand's value: null is the empty list (CQL: list operators skip nulls); the
    translator makes sure anything else is a list."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise CqlRuntimeError(f"a list was expected, not {type(value).__name__}")
    return value


def query_result(source: Any, results: list[Any]) -> Any:
    """A query over a single value gives a single value (its first result, or null)."""
    if isinstance(source, list):
        return results
    return results[0] if results else None


def codes_of(value: Any) -> list[Code]:
    if isinstance(value, Code):
        return [value]
    if isinstance(value, Concept):
        return list(value.codes)
    if isinstance(value, list):
        return [code for item in value for code in codes_of(item)]
    return []
