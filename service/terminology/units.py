"""UCUM conversions for the units the policies need, with exact decimal factors.

Only commensurable units within one dimension convert; anything else is `None`, never a guess
(a rate in mL/h is not a dose in ug/d). Annotations in braces (`kg{body}`) are ignored, as UCUM
says they carry no meaning.
"""

from __future__ import annotations

import re
from decimal import Decimal

# unit -> (dimension, factor to the dimension's base unit)
_UNITS: dict[str, tuple[str, Decimal]] = {
    "kg": ("mass", Decimal(1000)),
    "g": ("mass", Decimal(1)),
    "mg": ("mass", Decimal("0.001")),
    "ug": ("mass", Decimal("0.000001")),
    "[lb_av]": ("mass", Decimal("453.59237")),
    "[oz_av]": ("mass", Decimal("28.349523125")),
    "m": ("length", Decimal(100)),
    "cm": ("length", Decimal(1)),
    "mm": ("length", Decimal("0.1")),
    "[in_i]": ("length", Decimal("2.54")),
    "[ft_i]": ("length", Decimal("30.48")),
    "m2": ("area", Decimal(1)),
    "cm2": ("area", Decimal("0.0001")),
    "ug/d": ("mass-rate", Decimal("0.000001")),
    "mg/d": ("mass-rate", Decimal("0.001")),
    "g/d": ("mass-rate", Decimal(1)),
    "ug/h": ("mass-rate", Decimal("0.000024")),
    "a": ("time", Decimal("365.25")),
    "mo": ("time", Decimal("30.4375")),
    "wk": ("time", Decimal(7)),
    "d": ("time", Decimal(1)),
}
_ANNOTATION = re.compile(r"\{[^}]*\}")
# Spellings seen in EHR data for the same UCUM units (after the micro prefix and "/day" below).
_SYNONYMS = {
    "lb": "[lb_av]",
    "lbs": "[lb_av]",
    "in": "[in_i]",
    "kg/m2": "kg/m2",
    "m^2": "m2",
}
# US clinical practice writes the micro prefix "mc" (ISMP's advice against "u"): a "mc" that
# starts a unit is UCUM's "u" (micrograms, microlitres, micromoles).
_MICRO = re.compile(r"(?<![A-Za-z\[])mc(?=[a-zA-Z])")
_PER_DAY = re.compile(r"/day$")


def ucum_code(unit: str) -> str:
    stripped = _ANNOTATION.sub("", unit.strip()) or "1"
    spelled = _PER_DAY.sub("/d", _MICRO.sub("u", stripped))
    return _SYNONYMS.get(spelled, spelled)


def convert(value: Decimal, from_unit: str, to_unit: str) -> Decimal | None:
    source, target = _UNITS.get(ucum_code(from_unit)), _UNITS.get(ucum_code(to_unit))
    if source is None or target is None or source[0] != target[0]:
        return None
    return value * source[1] / target[1]


def is_known(unit: str) -> bool:
    return ucum_code(unit) in _UNITS
