"""CQL runtime values (CQL 1.5 "Types"): what the bridge computes with.

FHIR data stays FHIR JSON (dicts, strings, Decimals) until FHIRHelpers turns it into these.
System Integer is `int`, Decimal is `decimal.Decimal`, Boolean `bool`, String `str`; Date and
DateTime are `datetime.date` / `datetime.datetime` (partial FHIR dates are filled to the first
moment of their precision, which is exact for the day-level comparisons the policies make).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TypeAlias, Union

from service.terminology.units import convert, ucum_code


@dataclass(frozen=True)
class Quantity:
    value: Decimal
    unit: str = "1"

    def to(self, unit: str) -> Quantity | None:
        if ucum_code(self.unit) == ucum_code(unit):
            return Quantity(self.value, unit)
        converted = convert(self.value, self.unit, unit)
        return None if converted is None else Quantity(converted, unit)


@dataclass(frozen=True)
class Code:
    code: str
    system: str | None = None
    version: str | None = None
    display: str | None = None


@dataclass(frozen=True)
class Concept:
    codes: tuple[Code, ...]
    display: str | None = None


@dataclass(frozen=True)
class Interval:
    low: object
    high: object
    low_closed: bool = True
    high_closed: bool = True


# A value the bridge computes with or returns: a System type above, a list of values (a CQL List),
# a Tuple (a dict of named values), or FHIR data as its JSON (a resource or an element: a dict, a
# string, a Decimal) until FHIRHelpers converts it. Every compiled node returns one; a define's
# result, read by the policy engine, is one. The operators take and give these dynamically and
# check the kinds they need (CQL is typed by the translator, not by Python).
CqlValue: TypeAlias = Union[  # noqa: UP007 (a recursive alias needs the string form)
    None,
    bool,
    int,
    Decimal,
    str,
    date,
    datetime,
    Quantity,
    Code,
    Concept,
    Interval,
    "list[CqlValue]",
    "dict[str, CqlValue]",
]


def parse_date(text: str) -> date | None:
    try:
        if len(text) == 4:
            return date(int(text), 1, 1)
        if len(text) == 7:
            return date(int(text[:4]), int(text[5:7]), 1)
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def parse_datetime(text: str) -> datetime | None:
    """FHIR dateTime/instant: partial dates allowed; no zone means UTC (CQL would use the
    evaluation's offset; our evaluation offset is UTC)."""
    if len(text) <= 10:
        day = parse_date(text)
        return None if day is None else datetime(day.year, day.month, day.day, tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def decimal_of(value: object) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return None
    return None
