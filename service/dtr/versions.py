"""What differs between DTR STU 2.0.1 (the baseline: the version CMS cites and the public DTR
conformance kit checks) and DTR 2.2, in one place: the `$questionnaire-package` output names, the
information-origin codes, and where a response names its Coverage.

DTR has no `requestedVersion`. A client asks for 2.2 by the profile it declares: the operation's
input Parameters (or a QuestionnaireResponse) with `meta.profile` naming a DTR profile with version
2.2 (`...|2.2.0`); a response that carries 2.2's `qr-coverage` extension is read as 2.2. Anything
else is 2.0.1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DTR_PROFILES = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/"
QR_COVERAGE = f"{DTR_PROFILES}qr-coverage"


@dataclass(frozen=True)
class DtrVersion:
    label: str
    package_parameter: str  # the Bundle's output parameter
    outcome_parameter: str  # the OperationOutcome's output parameter
    auto_origin: str  # information-origin source of what the payer pre-filled
    origin_codes: frozenset[str]
    coverage_in_qr_coverage: bool  # 2.2: the Coverage in qr-coverage, orders in qr-context
    intended_use_system: str  # the CRD DocReason codes (withpa ...) the version binds

    @property
    def human_origins(self) -> frozenset[str]:
        """The sources that need an author (dtrx-1)."""
        return frozenset({"override", "manual"})


DTR_2_0_1 = DtrVersion(
    label="2.0.1",
    package_parameter="PackageBundle",
    # The 2.0.1 output profile fixes the slice's name to `operationOutcome`.
    outcome_parameter="operationOutcome",
    auto_origin="auto",
    origin_codes=frozenset({"auto", "override", "manual"}),
    coverage_in_qr_coverage=False,
    intended_use_system="http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp",
)
DTR_2_2 = DtrVersion(
    label="2.2",
    package_parameter="packagebundle",
    outcome_parameter="outcome",
    auto_origin="auto-server",
    origin_codes=frozenset({"auto-client", "auto-server", "override", "manual"}),
    coverage_in_qr_coverage=True,
    intended_use_system="http://hl7.org/fhir/us/davinci-crd/CodeSystem/coverage-information-codes",
)
DEFAULT = DTR_2_0_1


def declared_version(resource: Mapping[str, object]) -> DtrVersion:
    meta = resource.get("meta")
    profiles = meta.get("profile") if isinstance(meta, Mapping) else None
    for profile in profiles if isinstance(profiles, list) else []:
        if isinstance(profile, str) and profile.startswith(DTR_PROFILES):
            version = profile.partition("|")[2]
            if version.startswith("2.2"):
                return DTR_2_2
    extensions = resource.get("extension")
    if isinstance(extensions, list) and any(
        isinstance(e, Mapping) and e.get("url") == QR_COVERAGE for e in extensions
    ):
        return DTR_2_2
    return DEFAULT
