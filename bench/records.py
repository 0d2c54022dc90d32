"""Patient records of a chosen size for the benchmark, dated relative to the day of the run (the
service runs with production settings, so "today" is the real today).

The core is an adult in consolidation whose Blincyto order meets the policy (as example 01). The
rest is what a long-treated patient's chart holds and the prefetch queries would return: weights
and heights over the months, other conditions, other drugs ordered and given. Every resource is
one the service must read: nothing is padding the prefetch templates would never ask for.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

Resource = dict[str, Any]

LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
UCUM = "http://unitsofmeasure.org"
PATIENT = {"reference": "Patient/pat"}
# The payer the service answers for (PAYER_IDENTIFIERS in bench/run.py).
PAYER_SYSTEM = "urn:oid:2.16.840.1.113883.3.221.5"
PAYER_VALUE = "EXAMPLE-HEALTH-PLAN"
OTHER_CONDITIONS = [
    ("I10", "Essential hypertension"),
    ("E78.5", "Hyperlipidemia"),
    ("D70.1", "Agranulocytosis secondary to cancer chemotherapy"),
    ("R50.9", "Fever, unspecified"),
    ("E87.6", "Hypokalemia"),
]
OTHER_DRUGS = [
    ("312086", "ondansetron"),
    ("197361", "amlodipine"),
    ("310964", "ibuprofen"),
    ("198211", "simvastatin"),
    ("1658628", "acyclovir"),
]


def _day(today: date, days_ago: int) -> str:
    return (today - timedelta(days=days_ago)).isoformat()


def core(today: date) -> list[Resource]:
    """Patient, payer, coverage, the ALL diagnosis, a recent weight, the Ph result, the order."""
    return [
        {"resourceType": "Patient", "id": "pat", "birthDate": "1980-05-01", "gender": "female"},
        {
            "resourceType": "Organization",
            "id": "payer",
            "name": "Example Health Plan",
            "identifier": [{"system": PAYER_SYSTEM, "value": PAYER_VALUE}],
        },
        {
            "resourceType": "Coverage",
            "id": "cov",
            "status": "active",
            "beneficiary": PATIENT,
            "payor": [{"reference": "Organization/payer"}],
            "period": {"start": f"{today.year}-01-01"},
        },
        {
            "resourceType": "Condition",
            "id": "all",
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": "active",
                    }
                ]
            },
            "code": {"coding": [{"system": ICD10, "code": "C91.01"}]},
            "subject": PATIENT,
            "onsetDateTime": _day(today, 170),
        },
        _observation(
            "wt", "29463-7", today, 3, {"value": 72, "unit": "kg", "system": UCUM, "code": "kg"}
        ),
        {
            "resourceType": "Observation",
            "id": "ph",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "21821-4"}]},
            "subject": PATIENT,
            "effectiveDateTime": _day(today, 140),
            "valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA11883-8"}]},
        },
    ]


def order(today: date) -> Resource:
    return {
        "resourceType": "MedicationRequest",
        "id": "blin",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "1597262"}]},
        "subject": PATIENT,
        "authoredOn": today.isoformat(),
        "requester": {"reference": "Practitioner/prescriber"},
        "insurance": [{"reference": "Coverage/cov"}],
        "dosageInstruction": [
            {
                "text": "28 ug/d continuous IV infusion",
                "doseAndRate": [
                    {"rateQuantity": {"value": 28, "unit": "ug/d", "system": UCUM, "code": "ug/d"}}
                ],
            }
        ],
    }


def _observation(rid: str, code: str, today: date, days_ago: int, value: Resource) -> Resource:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": PATIENT,
        "effectiveDateTime": _day(today, days_ago),
        "valueQuantity": value,
    }


def filler(index: int, today: date) -> Resource:
    """The index-th extra resource: 2 in 5 vital signs, then conditions, orders, administrations."""
    days_ago = 5 + index % 700
    kind = index % 5
    if kind in (0, 1):
        if kind == 0:
            value = {"value": 70 + index % 5, "unit": "kg", "system": UCUM, "code": "kg"}
            return _observation(f"wt-{index}", "29463-7", today, days_ago, value)
        value = {"value": 168, "unit": "cm", "system": UCUM, "code": "cm"}
        return _observation(f"ht-{index}", "8302-2", today, days_ago, value)
    if kind == 2:
        code, text = OTHER_CONDITIONS[index % len(OTHER_CONDITIONS)]
        return {
            "resourceType": "Condition",
            "id": f"cond-{index}",
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": "resolved" if index % 2 else "active",
                    }
                ]
            },
            "code": {"coding": [{"system": ICD10, "code": code}], "text": text},
            "subject": PATIENT,
            "onsetDateTime": _day(today, days_ago),
        }
    code, text = OTHER_DRUGS[index % len(OTHER_DRUGS)]
    medication = {"coding": [{"system": RXNORM, "code": code}], "text": text}
    if kind == 3:
        return {
            "resourceType": "MedicationRequest",
            "id": f"mr-{index}",
            "status": "completed",
            "intent": "order",
            "medicationCodeableConcept": medication,
            "subject": PATIENT,
            "authoredOn": _day(today, days_ago),
        }
    return {
        "resourceType": "MedicationAdministration",
        "id": f"ma-{index}",
        "status": "completed",
        "medicationCodeableConcept": medication,
        "subject": PATIENT,
        "effectiveDateTime": _day(today, days_ago),
    }


KEYS = {
    "Condition": "conditions",
    "Observation": "observations",
    "MedicationRequest": "medicationRequests",
    "MedicationAdministration": "medicationAdministrations",
    "Coverage": "coverage",
    "Organization": "coverage",
}


def record(size: int, today: date) -> list[Resource]:
    """`size` resources in all, the order being signed included."""
    resources = core(today)
    resources += [filler(i, today) for i in range(size - len(resources) - 1)]
    return [*resources, order(today)]


def entries(size: int, today: date) -> tuple[list[tuple[Resource, None]], str]:
    """`record(size, today)` as a PatientRecord's entries (no fullUrls), and the order's id."""
    return [(r, None) for r in record(size, today)], order(today)["id"]


def _searchset(resources: list[Resource]) -> Resource:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {
                "fullUrl": f"https://ehr.example.org/fhir/{r['resourceType']}/{r['id']}",
                "resource": r,
            }
            for r in resources
        ],
    }


def hook_request(
    size: int, today: date, *, prefetch: bool = True, fhir_server: str | None = None
) -> Resource:
    """An order-sign call for a record of `size` resources: with every prefetch key filled, or
    with none (the service fetches the record from `fhir_server`)."""
    resources = record(size, today)
    the_order = resources[-1]
    body: Resource = {
        "hook": "order-sign",
        "hookInstance": f"bench-{size}",
        "context": {
            "userId": "Practitioner/prescriber",
            "patientId": "pat",
            "draftOrders": {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": the_order}],
            },
        },
    }
    if prefetch:
        groups: dict[str, list[Resource]] = {key: [] for key in set(KEYS.values())}
        for resource in resources[:-1]:
            if resource["resourceType"] != "Patient":
                groups[KEYS[resource["resourceType"]]].append(resource)
        body["prefetch"] = {"patient": resources[0]} | {
            key: _searchset(found) for key, found in groups.items()
        }
    if fhir_server:
        body["fhirServer"] = fhir_server
    return body
