"""FHIR ids (R4 2.24.0.1 "id": 1 to 64 of A-Z, a-z, 0-9, '-' and '.'), as they go into URLs.

The specification's pattern admits "." and "..", which in `Patient/{id}` are dot segments
(RFC 3986 5.2.4): the URL would name the server's base or another type. An id made of dots
alone is refused wherever an id is checked."""

from __future__ import annotations

import re

FHIR_ID_PATTERN = r"[A-Za-z0-9\-.]{1,64}"
_FHIR_ID = re.compile(FHIR_ID_PATTERN)
_REFERENCE = re.compile(rf"([A-Z][A-Za-z]+)/({FHIR_ID_PATTERN})")


def is_fhir_id(value: object) -> bool:
    return isinstance(value, str) and bool(_FHIR_ID.fullmatch(value)) and value.strip(".") != ""


def is_relative_reference(value: str) -> bool:
    """`Type/id`, with a FHIR id."""
    match = _REFERENCE.fullmatch(value)
    return match is not None and is_fhir_id(match.group(2))
