"""CRD versions this service speaks (CRD "Version declaration", dev-1..dev-3): 2.2 by default,
2.0 (STU 2.0.1) when the request's `davinci-crd.requestedVersion` asks for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from service.errors import UnprocessableEntity


@dataclass(frozen=True)
class CrdVersion:
    label: str
    card_type_system: str
    # 2.0.1 has no `indeterminate`: a technical failure is `conditional` with reason `technical`.
    technical_covered: str
    # 2.2 detail entries carry a category; 2.0.1 ones do not, and know fewer detail codes.
    detail_categories: bool
    detail_codes: frozenset[str]
    # `expiry-date` exists from 2.1 on.
    expiry_date: bool


CRD_2_2 = CrdVersion(
    "2.2",
    "http://terminology.hl7.org/CodeSystem/cdshooks-card-type",
    technical_covered="indeterminate",
    detail_categories=True,
    detail_codes=frozenset({"allowed-quantity", "allowed-period", "policy-link", "instructions"}),
    expiry_date=True,
)
CRD_2_0 = CrdVersion(
    "2.0",
    "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp",
    technical_covered="conditional",
    detail_categories=False,
    detail_codes=frozenset({"allowed-quantity", "allowed-period"}),
    expiry_date=False,
)
SUPPORTED = {version.label: version for version in (CRD_2_0, CRD_2_2)}
DEFAULT = CRD_2_2


def requested_version(extension: Mapping[str, object] | None) -> CrdVersion:
    """The version a request asks for; only the first two parts count ("2.0.1" is "2.0")."""
    asked = (extension or {}).get("davinci-crd.requestedVersion")
    if asked is None:
        return DEFAULT
    label = ".".join(str(asked).split(".")[:2])
    if label not in SUPPORTED:
        raise UnprocessableEntity(
            f"davinci-crd.requestedVersion {asked!r} is not supported; "
            f"supported: {', '.join(sorted(SUPPORTED))}"
        )
    return SUPPORTED[label]
