"""PAS request Bundles as an EHR builds them after the DTR form: the Claim (use preauthorization)
for the order's billing code, the order as the item's requestedService, the completed
QuestionnaireResponse as additionalInformation, with the Patient, the Coverage, the insurer and
the requesting provider."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

PAS = "http://hl7.org/fhir/us/davinci-pas"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
BASE = "https://ehr.example.org/fhir"
NPI, TIN = "http://hl7.org/fhir/sid/us-npi", "urn:oid:2.16.840.1.113883.4.4"


def pas_bundle(
    folder: Path,
    response: dict[str, Any] | None,
    identifier: str = "claim-1",
    priority: str = "normal",
    billing_code: str = "J9039",
    order_id: str | None = None,
) -> dict[str, Any]:
    """`order_id`: the order under another id (another order of the same patient: the payer keeps
    one open request per order)."""
    record = json.loads((folder / "bundle.json").read_text())
    order = json.loads((folder / "order.json").read_text())
    if order_id is not None:
        order["id"] = order_id
    by_type: dict[str, dict[str, Any]] = {}
    for entry in record["entry"]:
        by_type.setdefault(entry["resource"]["resourceType"], entry["resource"])
    patient, coverage = by_type["Patient"], by_type["Coverage"]
    insurer = by_type.get("Organization") or {"resourceType": "Organization", "id": "payer"}
    provider = {
        "resourceType": "Organization",
        "id": "clinic",
        "name": "Example Oncology Clinic",
        "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}],
    }
    claim: dict[str, Any] = {
        "resourceType": "Claim",
        "id": identifier,
        "meta": {"profile": [f"{PAS}/StructureDefinition/profile-claim"]},
        "identifier": [{"system": "https://ehr.example.org/claims", "value": identifier}],
        "status": "active",
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/claim-type",
                    "code": "professional",
                }
            ]
        },
        "use": "preauthorization",
        "patient": {"reference": f"Patient/{patient['id']}"},
        "created": "2026-11-24T10:00:00Z",
        "insurer": {"reference": f"Organization/{insurer['id']}"},
        "provider": {"reference": "Organization/clinic"},
        "priority": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/processpriority",
                    "code": priority,
                }
            ]
        },
        "insurance": [
            {"sequence": 1, "focal": True, "coverage": {"reference": f"Coverage/{coverage['id']}"}}
        ],
        "item": [
            {
                "extension": [
                    {
                        "url": f"{PAS}/StructureDefinition/extension-requestedService",
                        "valueReference": {"reference": f"{order['resourceType']}/{order['id']}"},
                    },
                    {
                        "url": f"{PAS}/StructureDefinition/extension-itemTraceNumber",
                        "valueIdentifier": {
                            "system": "https://ehr.example.org/trace-numbers",
                            "value": f"{identifier}-1",
                        },
                    },
                ],
                "sequence": 1,
                "category": {
                    "coding": [{"system": "https://codesystem.x12.org/005010/1365", "code": "1"}]
                },
                "productOrService": {"coding": [{"system": HCPCS, "code": billing_code}]},
            }
        ],
    }
    resources = [claim, patient, coverage, insurer, provider, order]
    if response is not None:
        response = copy.deepcopy(response)
        response.setdefault("id", "qr-1")
        claim["supportingInfo"] = [
            {
                "sequence": 1,
                "category": {
                    "coding": [
                        {
                            "system": f"{PAS}/CodeSystem/PASTempCodes",
                            "code": "additionalInformation",
                        }
                    ]
                },
                "valueReference": {"reference": f"QuestionnaireResponse/{response['id']}"},
            }
        ]
        resources.append(response)
    return {
        "resourceType": "Bundle",
        "meta": {"profile": [f"{PAS}/StructureDefinition/profile-pas-request-bundle"]},
        "identifier": {"system": "https://ehr.example.org/bundles", "value": identifier},
        "type": "collection",
        "timestamp": "2026-11-24T10:00:00Z",
        "entry": [
            {"fullUrl": f"{BASE}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources
        ],
    }


def inquiry_bundle(submitted: dict[str, Any]) -> dict[str, Any]:
    """An inquiry about a submitted request: its Claim's identifier, patient, insurer, provider."""
    inquiry = copy.deepcopy(submitted)
    claim = inquiry["entry"][0]["resource"]
    claim["meta"] = {"profile": [f"{PAS}/StructureDefinition/profile-claim-inquiry"]}
    claim.pop("supportingInfo", None)
    inquiry["meta"] = {"profile": [f"{PAS}/StructureDefinition/profile-pas-inquiry-request-bundle"]}
    inquiry["entry"] = [
        e for e in inquiry["entry"] if e["resource"]["resourceType"] != "QuestionnaireResponse"
    ]
    return inquiry


def _must_supports(resource: dict[str, Any]) -> None:
    """A Patient or Organization of a request given its PAS must-support elements (those of
    profile-beneficiary, profile-insurer, profile-requestor; the must-support tests of the PAS kit
    look for each on the answer, which returns them as sent)."""
    address = {"line": ["1 Main St"], "city": "Springfield", "district": "Greene"}
    address |= {"state": "MO", "postalCode": "65801", "country": "US"}
    address |= {"period": {"start": "2020-01-01"}}
    telecom = [{"system": "phone", "value": "555-0100", "use": "work"}]
    resource |= {"address": [address], "telecom": telecom}
    if resource["resourceType"] == "Organization":
        resource |= {"active": True, "type": [{"text": "Provider"}]}
        # Its own identifiers kept (the insurer's is the payer's), an NPI and a TIN added.
        given = resource.setdefault("identifier", [])
        systems = {identifier.get("system") for identifier in given}
        given += [
            {"system": system, "value": value}
            for system, value in ((NPI, "1234567893"), (TIN, "123456789"))
            if system not in systems
        ]
        resource["contact"] = [{"name": {"text": "Prior authorization desk"}, "telecom": telecom}]
        return
    us_core = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-"
    resource["extension"] = [
        {"url": f"{us_core}race", "extension": [{"url": "text", "valueString": "Unknown"}]},
        {"url": f"{us_core}ethnicity", "extension": [{"url": "text", "valueString": "Unknown"}]},
        {"url": f"{us_core}birthsex", "valueCode": "F"},
    ]
    resource["name"][0] |= {"prefix": ["Ms."], "suffix": ["Jr."]}
    resource["multipleBirthInteger"] = 1
    resource["communication"] = [{"language": {"text": "English"}}]
    resource.setdefault("identifier", [{"system": "https://ehr.example.org/mrn", "value": "1"}])


def with_must_supports(bundle: dict[str, Any]) -> dict[str, Any]:
    """The request's Patient and Organizations given their PAS must-support elements (in place)."""
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] in ("Patient", "Organization"):
            _must_supports(entry["resource"])
    return bundle
