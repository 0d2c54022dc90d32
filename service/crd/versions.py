"""CRD versions this service speaks (CRD "Version declaration", dev-1..dev-3), and every way they
differ in what we send, in one table. STU 2.0.1 is the default: a 2.0 or 2.0.1 client (and the
public conformance kit, which validates against the 2.0.1 package) never sends
`davinci-crd.requestedVersion`, which exists only from 2.2 on; 2.2 when a request asks for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from service.crd.invariants import STU_2_0_1, Rule, stu_2_2
from service.errors import UnprocessableEntity

CRD_TEMP = "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp"
# Card types (both versions use the same codes; the system moved to THO in 2.2).
CARD_TYPE_DISPLAYS = {
    "coverage-info": "Coverage Information",
    "limits": "Limits",
    "guideline": "Guideline",
    "off-guideline": "Off Guideline",
}
# CRD 2.2 ValueSet coverageAssertionReasons.
REASONS_2_2 = frozenset(
    {
        "gold-card",
        "no-member-found",
        "no-active-coverage",
        "coverage-not-found",
        "auth-out-network",
        "technical",
    }
)
# CRD 2.0.1 ValueSet coverageAssertionReasons: the only two codes it has.
REASONS_2_0_1 = frozenset({"gold-card", "detail-code"})


@dataclass(frozen=True)
class CrdVersion:
    label: str
    card_type_system: str
    # 2.0.1 has no `indeterminate`: a technical failure is `conditional` with reason text.
    technical_covered: str
    # 2.0.1 crd-ci-q2: anything but not-covered names pa-needed, a technical answer too.
    technical_pa_needed: bool
    # 2.2 detail entries carry a category; 2.0.1 ones do not, and know fewer detail codes.
    detail_categories: bool
    detail_codes: frozenset[str]
    detail_system: str
    # Reason codes from the version's value set; any other reason goes as text only.
    reason_system: str
    reason_codes: frozenset[str]
    # `expiry-date` exists from 2.1 on.
    expiry_date: bool
    invariants: tuple[Rule, ...]

    def reason_coded(self, code: str) -> bool:
        return code in self.reason_codes


CRD_2_2 = CrdVersion(
    "2.2",
    "http://terminology.hl7.org/CodeSystem/cdshooks-card-type",
    technical_covered="indeterminate",
    technical_pa_needed=False,
    detail_categories=True,
    detail_codes=frozenset({"allowed-quantity", "allowed-period", "policy-link", "instructions"}),
    detail_system="http://terminology.hl7.org/CodeSystem/crd-coverage-detail",
    reason_system=CRD_TEMP,
    reason_codes=REASONS_2_2,
    expiry_date=True,
    invariants=stu_2_2(CRD_TEMP, REASONS_2_2),
)
CRD_2_0 = CrdVersion(
    "2.0",
    CRD_TEMP,
    technical_covered="conditional",
    technical_pa_needed=True,
    detail_categories=False,
    detail_codes=frozenset({"allowed-quantity", "allowed-period"}),
    detail_system=CRD_TEMP,
    reason_system=CRD_TEMP,
    reason_codes=REASONS_2_0_1,
    expiry_date=False,
    invariants=STU_2_0_1,
)
SUPPORTED = {version.label: version for version in (CRD_2_0, CRD_2_2)}
DEFAULT = CRD_2_0


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
