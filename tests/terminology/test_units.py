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
