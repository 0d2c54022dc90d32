from __future__ import annotations

from decimal import Decimal

import pytest

from service.terminology.units import convert


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        pytest.param("45", "kg", "kg", "45", id="kg-identity"),
        pytest.param("45000", "g", "kg", "45", id="g-to-kg"),
        pytest.param("100", "[lb_av]", "kg", "45.359237", id="pounds"),
        pytest.param("99.208", "[lb_av]", "kg", "44.99999", id="pounds-just-under-45"),
        pytest.param("1.62", "m", "cm", "162", id="m-to-cm"),
        pytest.param("64", "[in_i]", "cm", "162.56", id="inches"),
        pytest.param("28", "ug/d", "ug/d", "28", id="ug-per-day"),
        pytest.param("0.028", "mg/d", "ug/d", "28", id="mg-per-day"),
        pytest.param("28", "mcg/d", "ug/d", "28", id="mcg-spelling"),
        pytest.param("70", "kg{body}", "kg", "70", id="annotation-ignored"),
        pytest.param("10000", "cm2", "m2", "1", id="area-by-exponent"),
        pytest.param("7", "mo", "a", "0.58333", id="months-to-years"),
        pytest.param("5", "10*3/uL", "10*9/L", "5", id="counts-per-volume"),
    ],
)
def test_conversions(value: str, source: str, target: str, expected: str) -> None:
    result = convert(Decimal(value), source, target)
    assert result is not None
    assert result.quantize(Decimal("0.00001")) == Decimal(expected).quantize(Decimal("0.00001"))


@pytest.mark.parametrize(
    ("source", "target"),
    [
        pytest.param("mL/h", "ug/d", id="infusion-rate-is-not-a-dose"),
        pytest.param("kg", "cm", id="mass-to-length"),
        pytest.param("furlong", "cm", id="unknown-unit"),
        pytest.param("ug", "ug/d", id="amount-is-not-a-rate"),
    ],
)
def test_incommensurable_units_do_not_convert(source: str, target: str) -> None:
    assert convert(Decimal(1), source, target) is None


# Every UCUM mass per time, by UCUM arithmetic (prefix x atom / time atom), to mcg/day: the
# amount that is 28.5 mcg/day written in each (SPEC section 2, DOSE: 28 500 ng/d = 28.5 mcg/day).
MASS_PER_TIME = [
    ("28500", "ng/d"),
    ("28.5", "ug/d"),
    ("0.0285", "mg/d"),
    ("1187.5", "ng/h"),
    ("1.1875", "ug/h"),
    ("0.0011875", "mg/h"),
    ("19.791666666666666666666666667", "ng/min"),
    ("0.0197916666666666666666666667", "ug/min"),
    ("28.5", "mcg/d"),
    ("28.5", "ug.d-1"),
    ("0.0000285", "g/d"),
]


@pytest.mark.parametrize(("value", "unit"), MASS_PER_TIME, ids=[u for _, u in MASS_PER_TIME])
def test_every_mass_per_time_converts_to_mcg_per_day(value: str, unit: str) -> None:
    result = convert(Decimal(value), unit, "ug/d")
    assert result is not None
    assert abs(result - Decimal("28.5")) < Decimal("1e-20")


@pytest.mark.parametrize(
    ("unit", "per_day"),
    [
        pytest.param("ng/d", "0.001", id="ng-per-day"),
        pytest.param("ng/h", "0.024", id="ng-per-hour"),
        pytest.param("ng/min", "1.44", id="ng-per-minute"),
        pytest.param("mg/min", "1440000", id="mg-per-minute"),
        pytest.param("ug/s", "86400", id="ug-per-second"),
        pytest.param("ug/wk", "0.142857142857142857142857142857", id="ug-per-week"),
    ],
)
def test_conversion_factors_are_exact(unit: str, per_day: str) -> None:
    result = convert(Decimal(1), unit, "ug/d")
    assert result is not None
    assert abs(result - Decimal(per_day)) < Decimal("1e-25")
