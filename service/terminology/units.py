"""UCUM conversions by UCUM's own arithmetic (The Unified Code for Units of Measure, sections 2-4):
a unit is a product of prefixed atoms with exponents (`ug/d`, `ng.min-1`, `cm2`, `10*3/uL`), each
reduced to a factor on the base units and a dimension; two units convert when their dimensions are
equal, by the ratio of their factors, exactly (fractions, not floats).

Anything else is `None`, never a guess (a rate in mL/h is not a dose in ug/d). Annotations in
braces (`kg{body}`) are ignored, as UCUM says they carry no meaning. A few spellings EHRs send
that are not UCUM (the micro prefix `mc`, `/day`, `lb`) are read as the UCUM unit they mean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

# Base dimensions: mass (g), length (m), time (s), amount of substance (mol).
_BASES = ("g", "m", "s", "mol")
Dimension = tuple[int, int, int, int]


@dataclass(frozen=True)
class Term:
    """A unit reduced to its factor on the base units and its dimension."""

    factor: Fraction
    dimension: Dimension

    def times(self, other: Term, power: int = 1) -> Term:
        mass, length, time, amount = (
            a + b * power for a, b in zip(self.dimension, other.dimension, strict=True)
        )
        return Term(self.factor * other.factor**power, (mass, length, time, amount))


def _base(name: str) -> Dimension:
    index = _BASES.index(name)
    return (int(index == 0), int(index == 1), int(index == 2), int(index == 3))


_SECOND = Term(Fraction(1), _base("s"))
_DAY = Term(Fraction(86400), _base("s"))
_YEAR = Term(Fraction(31557600), _base("s"))  # UCUM `a` is the Julian year, 365.25 d
# atom -> (term, metric: takes a prefix)
_ATOMS: dict[str, tuple[Term, bool]] = {
    "g": (Term(Fraction(1), _base("g")), True),
    "m": (Term(Fraction(1), _base("m")), True),
    "s": (_SECOND, True),
    "mol": (Term(Fraction(1), _base("mol")), True),
    "L": (Term(Fraction(1, 1000), (0, 3, 0, 0)), True),
    "l": (Term(Fraction(1, 1000), (0, 3, 0, 0)), True),
    "min": (Term(Fraction(60), _base("s")), False),
    "h": (Term(Fraction(3600), _base("s")), False),
    "d": (_DAY, False),
    "wk": (Term(Fraction(604800), _base("s")), False),
    "mo": (Term(_YEAR.factor / 12, _base("s")), False),  # UCUM `mo` is the Julian month
    "a": (_YEAR, False),
    "[lb_av]": (Term(Fraction("453.59237"), _base("g")), False),
    "[oz_av]": (Term(Fraction("28.349523125"), _base("g")), False),
    "[in_i]": (Term(Fraction("0.0254"), _base("m")), False),
    "[ft_i]": (Term(Fraction("0.3048"), _base("m")), False),
}
_PREFIXES: dict[str, Fraction] = {
    "G": Fraction(10**9),
    "M": Fraction(10**6),
    "k": Fraction(1000),
    "h": Fraction(100),
    "da": Fraction(10),
    "d": Fraction(1, 10),
    "c": Fraction(1, 100),
    "m": Fraction(1, 1000),
    "u": Fraction(1, 10**6),
    "n": Fraction(1, 10**9),
    "p": Fraction(1, 10**12),
    "f": Fraction(1, 10**15),
}
_UNITY = Term(Fraction(1), (0, 0, 0, 0))
_ANNOTATION = re.compile(r"\{[^}]*\}")
# A component: a number (`10*3`, `1000`) or an atom (bracketed or letters), then an exponent.
_COMPONENT = re.compile(r"(?:(\d+)(?:\*(-?\d+))?|(\[[^\]]+\]|[A-Za-z]+))(-?\d+)?")
# Spellings seen in EHR data for the same UCUM units (after the micro prefix and "/day" below).
_SYNONYMS = {"lb": "[lb_av]", "lbs": "[lb_av]", "in": "[in_i]", "m^2": "m2"}
# US clinical practice writes the micro prefix "mc" (ISMP's advice against "u"): a "mc" that
# starts a unit is UCUM's "u" (micrograms, microlitres, micromoles).
_MICRO = re.compile(r"(?<![A-Za-z\[])mc(?=[a-zA-Z])")
_PER_DAY = re.compile(r"/day$")


def ucum_code(unit: str) -> str:
    stripped = _ANNOTATION.sub("", unit.strip()) or "1"
    spelled = _PER_DAY.sub("/d", _MICRO.sub("u", stripped))
    return _SYNONYMS.get(spelled, spelled)


def term(unit: str) -> Term | None:
    """The unit's factor and dimension, or None when it is not a unit this module reads."""
    code = ucum_code(unit)
    if code == "1":
        return _UNITY
    found, position, power = _UNITY, 0, 1
    if code.startswith("/"):
        position, power = 1, -1
    while position < len(code):
        match = _COMPONENT.match(code, position)
        component = _component(match) if match else None
        if match is None or component is None:
            return None
        found, position = found.times(component, power), match.end()
        if position == len(code):
            break
        if code[position] not in "./":
            return None
        power, position = (1 if code[position] == "." else -1), position + 1
    return found if position == len(code) else None


def _component(match: re.Match[str]) -> Term | None:
    number, ten_power, atom, exponent = match.groups()
    if atom is None:
        base = int(number) ** (int(ten_power) if ten_power else 1)
        found: Term | None = Term(Fraction(base), (0, 0, 0, 0))
    else:
        found = _atom(atom)
    if found is None:
        return None
    return _UNITY.times(found, int(exponent)) if exponent else found


def _atom(text: str) -> Term | None:
    if text in _ATOMS:
        return _ATOMS[text][0]
    for prefix, scale in _PREFIXES.items():
        rest = text.removeprefix(prefix)
        if rest != text and rest in _ATOMS and _ATOMS[rest][1]:
            atom = _ATOMS[rest][0]
            return Term(atom.factor * scale, atom.dimension)
    return None


def convert(value: Decimal, from_unit: str, to_unit: str) -> Decimal | None:
    source, target = term(from_unit), term(to_unit)
    if source is None or target is None or source.dimension != target.dimension:
        return None
    ratio = source.factor / target.factor
    return value * Decimal(ratio.numerator) / Decimal(ratio.denominator)


def is_known(unit: str) -> bool:
    return term(unit) is not None
