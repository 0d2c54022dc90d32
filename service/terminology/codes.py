"""Code normalisation: one spelling per (system, code), so index lookups and ValueSet membership
agree whatever spelling the EHR sent.

- NDC: the 10-digit hyphenated forms (4-4-2, 5-3-2, 5-4-1) become the 11-digit 5-4-2 form without
  hyphens (the HIPAA standard spelling). A bare 10-digit NDC is ambiguous and is left as sent.
- ICD-10-CM: upper case, dot removed for comparison ("c91.00" and "C9100" are the same code).
- HCPCS: upper case.
- System URIs: known aliases (OIDs, other publishers' URIs) map to the URI our content uses.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import NamedTuple

NDC = "http://hl7.org/fhir/sid/ndc"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"

_NDC_SEGMENTS = {
    (4, 4, 2): (1, 0, 0),
    (5, 3, 2): (0, 1, 0),
    (5, 4, 1): (0, 0, 1),
    (5, 4, 2): (0, 0, 0),
}
_DIGITS = re.compile(r"^\d+$")


class CodeKey(NamedTuple):
    system: str
    code: str


@lru_cache(maxsize=1)
def _aliases() -> dict[str, str]:
    text = resources.files("service.terminology").joinpath("system_aliases.json").read_text()
    aliases: dict[str, str] = json.loads(text)["aliases"]
    return aliases


def canonical_system(system: str) -> str:
    trimmed = system.strip()
    return _aliases().get(trimmed, trimmed)


def normalize_ndc(code: str) -> str:
    parts = code.strip().split("-")
    if len(parts) == 3 and all(_DIGITS.match(part) for part in parts):
        padding = _NDC_SEGMENTS.get((len(parts[0]), len(parts[1]), len(parts[2])))
        if padding is not None:
            return "".join("0" * pad + part for pad, part in zip(padding, parts, strict=True))
    return code.strip()


# Pure, and asked again for the same few codes on every call (each record's codings, each value
# set check); bounded, so a caller sending new codes cannot grow it.
@lru_cache(maxsize=4096)
def normalize_code(system: str, code: str) -> CodeKey:
    canonical = canonical_system(system)
    if canonical == NDC:
        return CodeKey(canonical, normalize_ndc(code))
    if canonical == ICD10CM:
        return CodeKey(canonical, code.strip().upper().replace(".", ""))
    if canonical == HCPCS:
        return CodeKey(canonical, code.strip().upper())
    return CodeKey(canonical, code.strip())
