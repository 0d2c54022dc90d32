"""Writes fhir_examples/<NN-name>/{bundle.json, order.json, expected.json}.

The scenarios are written here compactly; each one's expectations are written BY HAND from
SPEC sections 2-4 (never computed by the engine), so a test that compares the engine with them
can fail. Run `python tools/examples/build_examples.py` after changing a scenario and review the
diff of fhir_examples/.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2] / "fhir_examples"
EVALUATION_DATE = "2026-11-24"
UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
SCT = "http://snomed.info/sct"
RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
NDC = "http://hl7.org/fhir/sid/ndc"
CPT = "http://www.ama-assn.org/go/cpt"
POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
ROLE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
CRITERIA = (
    "DX",
    "LINEAGE",
    "PH",
    "PHASE",
    "REGIMEN",
    "WEIGHT",
    "BSA",
    "DOSE",
    "CYCLES",
    "INFANT",
    "SITE",
)
PATHS = ("consolidation", "maintenance", "relapsed-refractory", "infant")
Resource = dict[str, Any]


def _id(prefix: str, n: int) -> str:
    return f"{prefix}-{n}"


def patient(birth: str = "1980-05-01") -> Resource:
    return {
        "resourceType": "Patient",
        "id": "pat",
        "birthDate": birth,
        "gender": "female",
        "name": [{"family": "Example", "given": ["Alex"]}],
    }


def payer() -> list[Resource]:
    return [
        {
            "resourceType": "Organization",
            "id": "payer",
            "name": "Example Health Plan",
            "identifier": [
                {"system": "urn:oid:2.16.840.1.113883.3.221.5", "value": "EXAMPLE-HEALTH-PLAN"}
            ],
        },
        {
            "resourceType": "Coverage",
            "id": "cov",
            "status": "active",
            "beneficiary": {"reference": "Patient/pat"},
            "payor": [{"reference": "Organization/payer"}],
            "period": {"start": "2026-01-01"},
        },
    ]


def condition(
    cid: str,
    icd: str | None = None,
    snomed: str | None = None,
    onset: str = "2026-06-01",
    clinical: str = "active",
    verification: str = "confirmed",
) -> Resource:
    codings = []
    if icd:
        codings.append({"system": ICD, "code": icd})
    if snomed:
        codings.append({"system": SCT, "code": snomed})
    return {
        "resourceType": "Condition",
        "id": cid,
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": clinical,
                }
            ]
        },
        "verificationStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": verification,
                }
            ]
        },
        "code": {"coding": codings},
        "subject": {"reference": "Patient/pat"},
        "onsetDateTime": onset,
    }


def onset_as(resource: Resource, **onset: Any) -> Resource:
    """The condition with its onset written in another onset[x] form (onsetAge=..., ...)."""
    found = {k: v for k, v in resource.items() if k != "onsetDateTime"}
    return {**found, **onset}


def age(amount: float, unit: str) -> Resource:
    return {"value": amount, "unit": unit, "system": UCUM, "code": unit}


def observation(
    oid: str,
    loinc: str,
    when: str,
    value: Any,
    status: str = "final",
    category: str = "vital-signs",
) -> Resource:
    resource: Resource = {
        "resourceType": "Observation",
        "id": oid,
        "status": status,
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": category,
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "subject": {"reference": "Patient/pat"},
        "effectiveDateTime": when,
    }
    if isinstance(value, tuple):
        amount, unit = value
        resource["valueQuantity"] = {"value": amount, "unit": unit, "system": UCUM, "code": unit}
    else:
        resource["valueCodeableConcept"] = {"coding": [value]}
    return resource


def weight(
    oid: str, amount: float, unit: str = "kg", when: str = "2026-11-18", status: str = "final"
) -> Resource:
    return observation(oid, "29463-7", when, (amount, unit), status)


def height(oid: str, amount: float, unit: str = "cm", when: str = "2026-11-18") -> Resource:
    return observation(oid, "8302-2", when, (amount, unit))


def bsa(oid: str, amount: float, when: str = "2026-11-18") -> Resource:
    return observation(oid, "8277-6", when, (amount, "m2"))


def ph(
    oid: str, answer: tuple[str, str], when: str = "2026-07-01", status: str = "final"
) -> Resource:
    return observation(
        oid, "21821-4", when, {"system": answer[0], "code": answer[1]}, status, "laboratory"
    )


DETECTED = (LOINC, "LA11882-0")
NOT_DETECTED = (LOINC, "LA11883-8")
SCT_NOT_DETECTED = (SCT, "260415000")


def companion(mid: str, rxnorm: str, status: str = "active") -> Resource:
    return {
        "resourceType": "MedicationRequest",
        "id": mid,
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": RX, "code": rxnorm}]},
        "subject": {"reference": "Patient/pat"},
        "authoredOn": "2026-11-01",
    }


def rate(amount: float, unit: str = "ug/d", sequence: int | None = None) -> Resource:
    dosage: Resource = {
        "text": f"{amount} {unit} continuous IV infusion",
        "route": {"coding": [{"system": SCT, "code": "47625008", "display": "Intravenous route"}]},
        "doseAndRate": [
            {"rateQuantity": {"value": amount, "unit": unit, "system": UCUM, "code": unit}}
        ],
    }
    if sequence is not None:
        dosage["sequence"] = sequence
    return dosage


def prior_course(mid: str, authored: str) -> Resource:
    return {**companion(mid, "1597262", status="completed"), "authoredOn": authored}


def order(
    code: tuple[str, str] = (RX, "1597262"), dosages: list[Resource] | None = None, **extra: Any
) -> Resource:
    resource: Resource = {
        "resourceType": "MedicationRequest",
        "id": "blin",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": code[0], "code": code[1]}]},
        "subject": {"reference": "Patient/pat"},
        "authoredOn": "2026-11-24",
        "requester": {"reference": "Practitioner/prescriber"},
        "insurance": [{"reference": "Coverage/cov"}],
        "dosageInstruction": dosages if dosages is not None else [rate(28)],
    }
    resource.update(extra)
    if not resource["dosageInstruction"]:
        del resource["dosageInstruction"]
    return resource


def infusion(sid: str, location: tuple[str, str, str]) -> Resource:
    """The infusion the order is based on (CPT 96416: a prolonged infusion started with a pump),
    with where it is given as the EHR codes it (SPEC section 2, SITE: a ServiceRequest's
    locationCode)."""
    system, code, display = location
    return {
        "resourceType": "ServiceRequest",
        "id": sid,
        "status": "draft",
        "intent": "order",
        "code": {"coding": [{"system": CPT, "code": "96416"}], "text": "Prolonged infusion"},
        "subject": {"reference": "Patient/pat"},
        "authoredOn": "2026-11-24",
        "locationCode": [{"coding": [{"system": system, "code": code, "display": display}]}],
    }


def based_on(request: Resource, service_request_id: str) -> Resource:
    return {**request, "basedOn": [{"reference": f"ServiceRequest/{service_request_id}"}]}


def medication(mid: str, rxnorm: str) -> Resource:
    return {
        "resourceType": "Medication",
        "id": mid,
        "code": {"coding": [{"system": RX, "code": rxnorm}]},
    }


def by_reference(request: Resource, medication_id: str) -> Resource:
    """The same order written with `medicationReference` to a Medication in the record."""
    found = {k: v for k, v in request.items() if k != "medicationCodeableConcept"}
    return {**found, "medicationReference": {"reference": f"Medication/{medication_id}"}}


def administration(aid: str, day: str, medication_id: str | None = None) -> Resource:
    given: Resource = {
        "resourceType": "MedicationAdministration",
        "id": aid,
        "status": "completed",
        "subject": {"reference": "Patient/pat"},
        "effectivePeriod": {"start": f"{day}T09:00:00Z", "end": f"{day}T21:00:00Z"},
    }
    if medication_id:
        given["medicationReference"] = {"reference": f"Medication/{medication_id}"}
    else:
        given["medicationCodeableConcept"] = {"coding": [{"system": RX, "code": "1597262"}]}
    return given


def bag_changes(prefix: str, start: str, days: int = 28, every: int = 4) -> list[Resource]:
    """One cycle's infusion: an administration at each bag change."""
    first = date.fromisoformat(start)
    return [
        administration(f"{prefix}-{n}", (first + timedelta(days=n * every)).isoformat())
        for n in range(days // every)
    ]


def unrelated_history(count: int) -> list[Resource]:
    """Plausible resources the policy does not read: labs, vitals, other problems and drugs."""
    labs = [
        ("6690-2", "10*3/uL", 5.2),
        ("718-7", "g/dL", 11.8),
        ("777-3", "10*3/uL", 180),
        ("2160-0", "mg/dL", 0.9),
    ]
    found: list[Resource] = [
        condition("htn", "I10", "38341003", onset="2019-01-01"),
        companion("amlo", "17767"),
    ]
    n = 0
    while len(found) < count:
        code, unit, base = labs[n % len(labs)]
        day = f"2026-{1 + (n // 28) % 11:02d}-{1 + n % 28:02d}"
        found.append(
            observation(
                f"lab-{n}",
                code,
                day,
                (round(base * (1 + (n % 7 - 3) / 50), 2), unit),
                category="laboratory",
            )
        )
        n += 1
    return found


def unknown(evidence: list[str] | None = None, value: Any = None) -> dict[str, Any]:
    return {"status": "unknown", "value": value, "evidence": evidence or []}


def met(value: Any, evidence: list[str]) -> dict[str, Any]:
    return {"status": "met", "value": value, "evidence": evidence}


def not_met(value: Any, evidence: list[str]) -> dict[str, Any]:
    return {"status": "not-met", "value": value, "evidence": evidence}


@dataclass
class Expectation:
    criteria: dict[str, dict[str, Any]]
    paths: dict[str, str]
    outcome: str
    dose_limit: tuple[float | None, float | None]
    answers: dict[str, Any] = field(default_factory=dict)
    bsa_discrepancy: bool = False

    def as_json(self) -> dict[str, Any]:
        criteria = {c: self.criteria.get(c, unknown()) for c in CRITERIA}
        criteria["BSA"] = {**criteria["BSA"], "discrepancy": self.bsa_discrepancy}
        found = {
            "criteria": criteria,
            "paths": {p: self.paths.get(p, "unknown") for p in PATHS},
            "outcome": self.outcome,
            "doseLimit": {"mcgPerDay": self.dose_limit[0], "stepMcgPerDay": self.dose_limit[1]},
        }
        return {"answers": self.answers, **found} if self.answers else found


@dataclass
class Scenario:
    name: str
    description: str
    resources: list[Resource]
    order: Resource
    record: Expectation
    with_answers: list[Expectation] = field(default_factory=list)
    birth: str = "1980-05-01"


ALL_B = "277571004"
# Where the drug is given, when no record says it: the prescriber answers (SPEC section 2, SITE).
SITE_ANSWER = {"administration-setting": "infusion-center"}
SITE_ANSWERED = {"SITE": met("infusion-center", ["answer:administration-setting"])}
NO_PATHS = {p: "not-met" for p in PATHS}
INFANT_NOT_MET = {"infant": "not-met"}
ADULT_INFANT = met(False, ["Patient/pat", "Condition/all"])


def adult_relapsed_record(extra: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    criteria = {
        "DX": met("C91.02", ["Condition/all"]),
        "LINEAGE": met("b-precursor", ["Condition/all"]),
        "PHASE": met("relapsed-refractory", ["Condition/all"]),
        "INFANT": ADULT_INFANT,
        "PH": unknown(value="unknown"),
    }
    criteria.update(extra or {})
    return criteria


RELAPSED_OTHER_PATHS = {"consolidation": "not-met", "maintenance": "not-met", "infant": "not-met"}


def consolidation_adult_record() -> Expectation:
    """An adult with B-ALL in remission (C91.01), 72 kg, Ph-negative, the 28 mcg/day order: what
    the record alone shows (phase, regimen and cycle are asked)."""
    return Expectation(
        {
            "DX": met("C91.01", ["Condition/all"]),
            "LINEAGE": met("b-precursor", ["Condition/all"]),
            "PH": met("negative", ["Observation/ph"]),
            "WEIGHT": met(72, ["Observation/wt"]),
            "DOSE": unknown(["MedicationRequest/blin"], 28),
            "INFANT": ADULT_INFANT,
        },
        INFANT_NOT_MET,
        "incomplete",
        (None, None),
    )


def inotuzumab_relapsed_expectations(
    recorded_site: dict[str, Any] | None = None,
) -> tuple[Expectation, list[Expectation]]:
    """Relapsed Ph-negative B-ALL, 74 kg, an inotuzumab order and one earlier course: what the
    record shows, and the same submitted with the form's suggestions confirmed (path c). With
    `recorded_site` (SITE as the record shows it) the place of service is confirmed too; without,
    the prescriber answers it."""
    site = {"SITE": recorded_site} if recorded_site else {}
    return (
        Expectation(
            adult_relapsed_record(
                {
                    **site,
                    "WEIGHT": met(74, ["Observation/wt"]),
                    "PH": met("negative", ["Observation/ph"]),
                    "REGIMEN": unknown(["MedicationRequest/ino"], "inotuzumab-mini-hypercvd"),
                    "DOSE": unknown(["MedicationRequest/blin"], 28),
                    "CYCLES": unknown(["MedicationRequest/course-1"], 2),
                }
            ),
            RELAPSED_OTHER_PATHS,
            "incomplete",
            (28.0, None),
        ),
        [
            Expectation(
                adult_relapsed_record(
                    {
                        **(site or SITE_ANSWERED),
                        "WEIGHT": met(74, ["Observation/wt"]),
                        "PH": met("negative", ["Observation/ph"]),
                        "REGIMEN": met("inotuzumab-mini-hypercvd", ["answer:regimen"]),
                        "DOSE": met(28, ["MedicationRequest/blin"]),
                        "CYCLES": met(2, ["answer:cycle-number"]),
                    }
                ),
                {**RELAPSED_OTHER_PATHS, "relapsed-refractory": "met"},
                "criteria-met",
                (28.0, None),
                answers={
                    **({} if recorded_site else SITE_ANSWER),
                    "regimen": "inotuzumab-mini-hypercvd",
                    "cycle-number": 2,
                    "first-cycle-date": "2026-09-01",
                },
            )
        ],
    )


def scenarios() -> list[Scenario]:  # noqa: PLR0915 (a table of cases)
    return [
        Scenario(
            "consolidation-adult-record",
            "Adult B-ALL in remission with a recent weight and a "
            "Ph-negative result: the record proves DX, LINEAGE, PH, WEIGHT; phase, regimen and cycle "
            "must be asked. With the prescriber's answers (consolidation, single agent, cycle 2) every "
            "criterion of path a is met.",
            [condition("all", "C91.01", ALL_B), weight("wt", 72), ph("ph", NOT_DETECTED)],
            order(),
            consolidation_adult_record(),
            [
                Expectation(
                    {
                        **SITE_ANSWERED,
                        "DX": met("C91.01", ["Condition/all"]),
                        "LINEAGE": met("b-precursor", ["Condition/all"]),
                        "PH": met("negative", ["Observation/ph"]),
                        "WEIGHT": met(72, ["Observation/wt"]),
                        "PHASE": met("consolidation", ["answer:phase"]),
                        "REGIMEN": met("single-agent", ["answer:regimen"]),
                        "DOSE": met(28, ["MedicationRequest/blin"]),
                        "CYCLES": met(2, ["answer:cycle-number"]),
                        "INFANT": ADULT_INFANT,
                    },
                    {
                        "consolidation": "met",
                        "maintenance": "not-met",
                        "relapsed-refractory": "not-met",
                        "infant": "not-met",
                    },
                    "criteria-met",
                    (28.0, None),
                    answers={
                        **SITE_ANSWER,
                        "phase": "consolidation",
                        "regimen": "single-agent",
                        "cycle-number": 2,
                        "first-cycle-date": "2026-06-15",
                    },
                )
            ],
        ),
        Scenario(
            "relapsed-adult-record",
            "C91.02 (in relapse) answers PHASE from the record; Ph detected. "
            "Cycle unknown, so the step dose cannot be judged: DOSE unknown; adult limit 28 mcg/day.",
            [condition("all", "C91.02", ALL_B), weight("wt", 80), ph("ph", DETECTED)],
            order(),
            Expectation(
                adult_relapsed_record(
                    {
                        "PH": met("positive", ["Observation/ph"]),
                        "WEIGHT": met(80, ["Observation/wt"]),
                        "DOSE": unknown(["MedicationRequest/blin"], 28),
                    }
                ),
                RELAPSED_OTHER_PATHS,
                "incomplete",
                (28.0, None),
            ),
            [
                Expectation(
                    adult_relapsed_record(
                        {
                            **SITE_ANSWERED,
                            "PH": met("positive", ["Observation/ph"]),
                            "WEIGHT": met(80, ["Observation/wt"]),
                            "REGIMEN": met("with-tki", ["answer:regimen"]),
                            "CYCLES": met(1, ["answer:cycle-number"]),
                            "DOSE": met(28, ["answer:daily-dose-mcg"]),
                        }
                    ),
                    {**RELAPSED_OTHER_PATHS, "relapsed-refractory": "met"},
                    "criteria-met",
                    (28.0, 9.0),
                    answers={
                        **SITE_ANSWER,
                        "regimen": "with-tki",
                        "cycle-number": 1,
                        "first-cycle-date": "2026-11-20",
                        "daily-dose-mcg": 28,
                        "step-dose-mcg": 9,
                    },
                )
            ],
        ),
        Scenario(
            "other-malignancy-aml",
            "The record names acute myeloid leukemia (C92.00), not ALL: DX is "
            "not met and no path can be met (coverage only through section 1367.21 review).",
            [condition("aml", "C92.00", onset="2026-05-01"), weight("wt", 66)],
            order(),
            Expectation(
                {
                    "DX": not_met("C92.00", ["Condition/aml"]),
                    "WEIGHT": met(66, ["Observation/wt"]),
                    "DOSE": unknown(["MedicationRequest/blin"], 28),
                    "PH": unknown(value="unknown"),
                },
                {**NO_PATHS, "infant": "not-met"},
                "criteria-not-met",
                (None, None),
            ),
        ),
        Scenario(
            "lymphoblastic-lymphoma-c8350",
            "C83.50 (lymphoblastic lymphoma) sits next to ALL but is "
            "not in the policy's codes: DX not met.",
            [condition("lbl", "C83.50")],
            order(),
            Expectation(
                {
                    "DX": not_met("C83.50", ["Condition/lbl"]),
                    "PH": unknown(value="unknown"),
                    "DOSE": unknown(["MedicationRequest/blin"], 28),
                },
                NO_PATHS,
                "criteria-not-met",
                (None, None),
            ),
        ),
        Scenario(
            "cll-c9110-is-not-all",
            "C91.10 (chronic lymphocytic leukemia) shares the C91 category with "
            "ALL and is not ALL: DX not met.",
            [condition("cll", "C91.10")],
            order(),
            Expectation(
                {
                    "DX": not_met("C91.10", ["Condition/cll"]),
                    "PH": unknown(value="unknown"),
                    "DOSE": unknown(["MedicationRequest/blin"], 28),
                },
                NO_PATHS,
                "criteria-not-met",
                (None, None),
            ),
        ),
        Scenario(
            "no-diagnosis-recorded",
            "Only hypertension is recorded: absence of evidence is unknown, "
            "never not-met; everything is asked.",
            [condition("htn", "I10", "38341003", onset="2019-01-01")],
            order(),
            Expectation(
                {
                    "DX": unknown(),
                    "PH": unknown(value="unknown"),
                    "DOSE": unknown(["MedicationRequest/blin"], 28),
                },
                {},
                "incomplete",
                (None, None),
            ),
        ),
        Scenario(
            "icd-written-without-dot",
            "The EHR writes C91.00 as C9100: the same code; DX met. No "
            "lineage evidence (ICD-10 does not tell B from T).",
            [condition("all", "C9100"), weight("wt", 61)],
            order(),
            Expectation(
                {
                    "DX": met("C9100", ["Condition/all"]),
                    "WEIGHT": met(61, ["Observation/wt"]),
                    "PH": unknown(value="unknown"),
                    "DOSE": unknown(["MedicationRequest/blin"], 28),
                    "INFANT": ADULT_INFANT,
                },
                INFANT_NOT_MET,
                "incomplete",
                (None, None),
            ),
        ),
        Scenario(
            "snomed-only-all",
            "ALL recorded with SNOMED 91857003 only: DX met, no ICD-10 value to show; "
            "lineage unknown.",
            [condition("all", None, "91857003")],
            order(),
            Expectation(
                {
                    "DX": met(None, ["Condition/all"]),
                    "PH": unknown(value="unknown"),
                    "DOSE": unknown(["MedicationRequest/blin"], 28),
                    "INFANT": ADULT_INFANT,
                },
                INFANT_NOT_MET,
                "incomplete",
                (None, None),
            ),
        ),
        Scenario(
            "weight-exactly-45-kg",
            "45.0 kg exactly is the adult rule: flat 28 mcg/day limit.",
            [condition("all", "C91.02", ALL_B), weight("wt", 45.0)],
            order(),
            Expectation(
                adult_relapsed_record(
                    {
                        "WEIGHT": met(45, ["Observation/wt"]),
                        "DOSE": unknown(["MedicationRequest/blin"], 28),
                    }
                ),
                RELAPSED_OTHER_PATHS,
                "incomplete",
                (28.0, None),
            ),
        ),
        Scenario(
            "weight-44-9-kg-bsa-limit",
            "44.9 kg is under 45: 15 mcg/m2/day capped at 28. Mosteller "
            "sqrt(150 x 44.9 / 3600) = 1.368 m2, limit 20.5 mcg/day; the order's 28 mcg/day exceeds it.",
            [condition("all", "C91.02", ALL_B), weight("wt", 44.9), height("ht", 150)],
            order(),
            Expectation(
                adult_relapsed_record(
                    {
                        "WEIGHT": met(44.9, ["Observation/wt"]),
                        "BSA": met(1.368, ["Observation/wt", "Observation/ht"]),
                        "DOSE": not_met(28, ["MedicationRequest/blin"]),
                    }
                ),
                {p: "not-met" for p in PATHS},
                "criteria-not-met",
                (20.5, None),
            ),
        ),
        Scenario(
            "weight-in-pounds",
            "99.2 [lb_av] is 44.996 kg: under 45 kg. Height 155 cm gives BSA "
            "sqrt(155 x 44.996 / 3600) = 1.392 m2, limit 20.9 mcg/day; 20 mcg/day ordered.",
            [condition("all", "C91.02", ALL_B), weight("wt", 99.2, "[lb_av]"), height("ht", 155)],
            order(dosages=[rate(20)]),
            Expectation(
                adult_relapsed_record(
                    {
                        "WEIGHT": met(44.996, ["Observation/wt"]),
                        "BSA": met(1.392, ["Observation/wt", "Observation/ht"]),
                        "DOSE": unknown(["MedicationRequest/blin"], 20),
                    }
                ),
                RELAPSED_OTHER_PATHS,
                "incomplete",
                (20.9, None),
            ),
        ),
        Scenario(
            "weight-in-grams",
            "70000 g is 70 kg: adult.",
            [condition("all", "C91.02", ALL_B), weight("wt", 70000, "g")],
            order(),
            Expectation(
                adult_relapsed_record(
                    {
                        "WEIGHT": met(70, ["Observation/wt"]),
                        "DOSE": unknown(["MedicationRequest/blin"], 28),
                    }
                ),
                RELAPSED_OTHER_PATHS,
                "incomplete",
                (28.0, None),
            ),
        ),
        Scenario(
            "stale-weight",
            "The only weight is 40 days old (window 30 days): WEIGHT unknown, so no dose limit.",
            [condition("all", "C91.02", ALL_B), weight("wt", 70, when="2026-10-15")],
            order(),
            Expectation(
                adult_relapsed_record({"DOSE": unknown(["MedicationRequest/blin"], 28)}),
                RELAPSED_OTHER_PATHS,
                "incomplete",
                (None, None),
            ),
        ),
        Scenario(
            "height-in-inches",
            "60 [in_i] = 152.4 cm, 40 kg: BSA sqrt(152.4 x 40 / 3600) = 1.301 m2, "
            "limit round(19.52) = 19.5 mcg/day; 19.5 ordered.",
            [condition("all", "C91.02", ALL_B), weight("wt", 40), height("ht", 60, "[in_i]")],
            order(dosages=[rate(19.5)]),
            Expectation(
                adult_relapsed_record(
                    {
                        "WEIGHT": met(40, ["Observation/wt"]),
                        "BSA": met(1.301, ["Observation/wt", "Observation/ht"]),
                        "DOSE": unknown(["MedicationRequest/blin"], 19.5),
                    }
                ),
                RELAPSED_OTHER_PATHS,
                "incomplete",
                (19.5, None),
            ),
        ),
        Scenario(
            "recorded-bsa-only",
            "No height: the recorded BSA 1.2 m2 (8277-6) is used; limit 18.0.",
            [condition("all", "C91.02", ALL_B), weight("wt", 38), bsa("bsa", 1.2)],
            order(dosages=[rate(15)]),
            Expectation(
                adult_relapsed_record(
                    {
                        "WEIGHT": met(38, ["Observation/wt"]),
                        "BSA": met(1.2, ["Observation/bsa"]),
                        "DOSE": unknown(["MedicationRequest/blin"], 15),
                    }
                ),
                RELAPSED_OTHER_PATHS,
                "incomplete",
                (18.0, None),
            ),
        ),
        Scenario(
            "recorded-bsa-far-from-computed",
            "Recorded BSA 1.40 m2 against Mosteller "
            "sqrt(140 x 35 / 3600) = 1.167 m2 (20% off): flagged; the computed value is used.",
            [
                condition("all", "C91.02", ALL_B),
                weight("wt", 35),
                height("ht", 140),
                bsa("bsa", 1.40),
            ],
            order(dosages=[rate(17)]),
            Expectation(
                adult_relapsed_record(
                    {
                        "WEIGHT": met(35, ["Observation/wt"]),
                        "BSA": met(1.167, ["Observation/wt", "Observation/ht"]),
                        "DOSE": unknown(["MedicationRequest/blin"], 17),
                    }
                ),
                RELAPSED_OTHER_PATHS,
                "incomplete",
                (17.5, None),
                bsa_discrepancy=True,
            ),
        ),
        Scenario(
            "infant-11-months-at-diagnosis",
            "Born 2025-03-10, ALL onset 2026-03-05: 11 whole months, "
            "infant ALL. With the Interfant regimen answered, path d and the infant dose rule apply.",
            [
                condition("all", "C91.00", ALL_B, onset="2026-03-05"),
                weight("wt", 9.5),
                height("ht", 76),
            ],
            order(dosages=[rate(3)]),
            Expectation(
                {
                    "DX": met("C91.00", ["Condition/all"]),
                    "LINEAGE": met("b-precursor", ["Condition/all"]),
                    "PH": unknown(value="unknown"),
                    "WEIGHT": met(9.5, ["Observation/wt"]),
                    "BSA": met(0.448, ["Observation/wt", "Observation/ht"]),
                    "DOSE": unknown(["MedicationRequest/blin"], 3),
                    "INFANT": met(True, ["Patient/pat", "Condition/all"]),
                },
                {"consolidation": "unknown"},
                "incomplete",
                # The limit waits for the phase: maintenance is 28 mcg/day for every weight.
                (None, None),
            ),
            [
                Expectation(
                    {
                        **SITE_ANSWERED,
                        "DX": met("C91.00", ["Condition/all"]),
                        "LINEAGE": met("b-precursor", ["Condition/all"]),
                        "PH": unknown(value="unknown"),
                        "WEIGHT": met(9.5, ["Observation/wt"]),
                        "BSA": met(0.448, ["Observation/wt", "Observation/ht"]),
                        "PHASE": met("infant", ["answer:phase"]),
                        "REGIMEN": met("interfant", ["answer:regimen"]),
                        "DOSE": met(3, ["MedicationRequest/blin"]),
                        "CYCLES": met(1, ["answer:cycle-number"]),
                        "INFANT": met(True, ["Patient/pat", "Condition/all"]),
                    },
                    {
                        "consolidation": "not-met",
                        "maintenance": "not-met",
                        "relapsed-refractory": "not-met",
                        "infant": "met",
                    },
                    "criteria-met",
                    (6.7, None),
                    answers={
                        **SITE_ANSWER,
                        "phase": "infant",
                        "regimen": "interfant",
                        "cycle-number": 1,
                        "first-cycle-date": "2026-11-01",
                    },
                )
            ],
            birth="2025-03-10",
        ),
        Scenario(
            "infant-diagnosed-on-first-birthday",
            "Born 2025-03-10, onset 2026-03-10: exactly 12 months, "
            "not under 1 year: not infant ALL.",
            [condition("all", "C91.00", ALL_B, onset="2026-03-10"), weight("wt", 10)],
            order(dosages=[rate(3)]),
            Expectation(
                {
                    "DX": met("C91.00", ["Condition/all"]),
                    "LINEAGE": met("b-precursor", ["Condition/all"]),
                    "PH": unknown(value="unknown"),
                    "WEIGHT": met(10, ["Observation/wt"]),
                    "DOSE": unknown(["MedicationRequest/blin"], 3),
                    "INFANT": met(False, ["Patient/pat", "Condition/all"]),
                },
                INFANT_NOT_MET,
                "incomplete",
                (None, None),
            ),
            birth="2025-03-10",
        ),
        Scenario(
            "tki-order-without-ph-result",
            "An active dasatinib order suggests 'with a TKI' (REGIMEN "
            "stays unknown until the prescriber confirms) and says nothing about Ph status.",
            [condition("all", "C91.01", ALL_B), weight("wt", 75), companion("tki", "475342")],
            order(),
            Expectation(
                {
                    "DX": met("C91.01", ["Condition/all"]),
                    "LINEAGE": met("b-precursor", ["Condition/all"]),
                    "PH": unknown(value="unknown"),
                    "WEIGHT": met(75, ["Observation/wt"]),
                    "REGIMEN": unknown(["MedicationRequest/tki"], "with-tki"),
                    "DOSE": unknown(["MedicationRequest/blin"], 28),
                    "INFANT": ADULT_INFANT,
                },
                INFANT_NOT_MET,
                "incomplete",
                (None, None),
            ),
        ),
        Scenario(
            "ph-ratio-positive",
            "A BCR-ABL1/ABL1 ratio (46434-7) above 0 means Ph-positive.",
            [
                condition("all", "C91.01", ALL_B),
                observation("ratio", "46434-7", "2026-08-01", (0.05, "%"), category="laboratory"),
            ],
            order(),
            Expectation(
                {
                    "DX": met("C91.01", ["Condition/all"]),
                    "LINEAGE": met("b-precursor", ["Condition/all"]),
                    "PH": met("positive", ["Observation/ratio"]),
                    "DOSE": unknown(["MedicationRequest/blin"], 28),
                    "INFANT": ADULT_INFANT,
                },
                {"maintenance": "not-met", "infant": "not-met"},
                "incomplete",
                (None, None),
            ),
        ),
        Scenario(
            "preliminary-ph-result-ignored",
            "A newer preliminary 'detected' result does not count; the "
            "older final 'not detected' (SNOMED 260415000) does.",
            [
                condition("all", "C91.01", ALL_B),
                ph("ph-final", SCT_NOT_DETECTED, "2026-05-01"),
                ph("ph-prelim", DETECTED, "2026-10-01", status="preliminary"),
            ],
            order(),
            Expectation(
                {
                    "DX": met("C91.01", ["Condition/all"]),
                    "LINEAGE": met("b-precursor", ["Condition/all"]),
                    "PH": met("negative", ["Observation/ph-final"]),
                    "DOSE": unknown(["MedicationRequest/blin"], 28),
                    "INFANT": ADULT_INFANT,
                },
                INFANT_NOT_MET,
                "incomplete",
                (None, None),
            ),
        ),
        Scenario(
            "ph-positive-once-names-the-disease",
            "Two final results: detected in January, not detected in September (a molecular "
            "response on a TKI). Ph status names the disease: positive, from the January result "
            "(SPEC section 2, PH, December 2026).",
            [
                condition("all", "C91.01", ALL_B),
                ph("ph-jan", DETECTED, "2026-01-10"),
                ph("ph-sep", NOT_DETECTED, "2026-09-10"),
            ],
            order(),
            Expectation(
                {
                    "DX": met("C91.01", ["Condition/all"]),
                    "LINEAGE": met("b-precursor", ["Condition/all"]),
                    "PH": met("positive", ["Observation/ph-jan"]),
                    "DOSE": unknown(["MedicationRequest/blin"], 28),
                    "INFANT": ADULT_INFANT,
                },
                {**INFANT_NOT_MET, "maintenance": "not-met"},  # maintenance is for Ph-negative
                "incomplete",
                (None, None),
            ),
        ),
        Scenario(
            "resolved-condition-ignored",
            "An ALL Condition with clinical status 'resolved' is history, "
            "not evidence: DX unknown.",
            [condition("all-old", "C91.00", ALL_B, clinical="resolved")],
            order(),
            Expectation(
                {"PH": unknown(value="unknown"), "DOSE": unknown(["MedicationRequest/blin"], 28)},
                {},
                "incomplete",
                (None, None),
            ),
        ),
        Scenario(
            "entered-in-error-weight-ignored",
            "The newest weight (30 kg) was entered in error; the "
            "final 68 kg from 2026-11-05 counts.",
            [
                condition("all", "C91.02", ALL_B),
                weight("wt-ok", 68, when="2026-11-05"),
                weight("wt-bad", 30, when="2026-11-20", status="entered-in-error"),
            ],
            order(),
            Expectation(
                adult_relapsed_record(
                    {
                        "WEIGHT": met(68, ["Observation/wt-ok"]),
                        "DOSE": unknown(["MedicationRequest/blin"], 28),
                    }
                ),
                RELAPSED_OTHER_PATHS,
                "incomplete",
                (28.0, None),
            ),
        ),
        Scenario(
            "rate-in-ml-per-hour",
            "The order gives an infusion rate of 10 mL/h: a pump rate, not a "
            "dose. DOSE unknown (the form asks for mcg/day).",
            [condition("all", "C91.02", ALL_B), weight("wt", 70)],
            order(dosages=[rate(10, "mL/h")]),
            Expectation(
                adult_relapsed_record({"WEIGHT": met(70, ["Observation/wt"])}),
                RELAPSED_OTHER_PATHS,
                "incomplete",
                (28.0, None),
            ),
        ),
        Scenario(
            "order-without-dosage",
            "No dosageInstruction: DOSE unknown; NDC in the 10-digit "
            "5-3-2 spelling triggers the policy.",
            [condition("all", "C91.02", ALL_B), weight("wt", 70)],
            order(code=(NDC, "55513-160-01"), dosages=[]),
            Expectation(
                adult_relapsed_record({"WEIGHT": met(70, ["Observation/wt"])}),
                RELAPSED_OTHER_PATHS,
                "incomplete",
                (28.0, None),
            ),
        ),
        Scenario(
            "explicit-unknown-ph-is-final",
            "The prescriber answers Ph status 'unknown' for a TKI "
            "combination in consolidation: a Ph+ requirement is then not met, not unknown.",
            [condition("all", "C91.01", ALL_B), weight("wt", 70)],
            order(),
            Expectation(
                {
                    "DX": met("C91.01", ["Condition/all"]),
                    "LINEAGE": met("b-precursor", ["Condition/all"]),
                    "PH": unknown(value="unknown"),
                    "WEIGHT": met(70, ["Observation/wt"]),
                    "DOSE": unknown(["MedicationRequest/blin"], 28),
                    "INFANT": ADULT_INFANT,
                },
                INFANT_NOT_MET,
                "incomplete",
                (None, None),
            ),
            [
                Expectation(
                    {
                        "DX": met("C91.01", ["Condition/all"]),
                        "LINEAGE": met("b-precursor", ["Condition/all"]),
                        "PH": not_met("unknown", ["answer:ph-status"]),
                        "WEIGHT": met(70, ["Observation/wt"]),
                        "PHASE": met("consolidation", ["answer:phase"]),
                        "REGIMEN": met("with-tki", ["answer:regimen"]),
                        "DOSE": met(28, ["MedicationRequest/blin"]),
                        "CYCLES": met(1, ["answer:cycle-number"]),
                        "INFANT": ADULT_INFANT,
                    },
                    NO_PATHS,
                    "criteria-not-met",
                    (28.0, None),
                    answers={
                        "phase": "consolidation",
                        "regimen": "with-tki",
                        "ph-status": "unknown",
                        "cycle-number": 1,
                        "first-cycle-date": "2026-11-20",
                    },
                )
            ],
        ),
        Scenario(
            "maintenance-pomp-too-many-cycles",
            "Maintenance alternating with POMP for Ph-negative ALL "
            "allows 3 cycles: a 4th is not covered.",
            [
                condition("all", "C91.01", ALL_B),
                weight("wt", 64),
                ph("ph", NOT_DETECTED),
                companion("mp", "103"),
            ],
            order(),
            Expectation(
                {
                    "DX": met("C91.01", ["Condition/all"]),
                    "LINEAGE": met("b-precursor", ["Condition/all"]),
                    "PH": met("negative", ["Observation/ph"]),
                    "WEIGHT": met(64, ["Observation/wt"]),
                    "REGIMEN": unknown(["MedicationRequest/mp"], "alternating-pomp"),
                    "DOSE": unknown(["MedicationRequest/blin"], 28),
                    "INFANT": ADULT_INFANT,
                },
                INFANT_NOT_MET,
                "incomplete",
                (None, None),
            ),
            [
                Expectation(
                    {
                        "DX": met("C91.01", ["Condition/all"]),
                        "LINEAGE": met("b-precursor", ["Condition/all"]),
                        "PH": met("negative", ["Observation/ph"]),
                        "WEIGHT": met(64, ["Observation/wt"]),
                        "PHASE": met("maintenance", ["answer:phase"]),
                        "REGIMEN": met("alternating-pomp", ["answer:regimen"]),
                        "DOSE": met(28, ["MedicationRequest/blin"]),
                        "CYCLES": not_met(4, ["answer:cycle-number"]),
                        "INFANT": ADULT_INFANT,
                    },
                    NO_PATHS,
                    "criteria-not-met",
                    (28.0, None),
                    answers={
                        "phase": "maintenance",
                        "regimen": "alternating-pomp",
                        "cycle-number": 4,
                        "first-cycle-date": "2026-02-01",
                    },
                )
            ],
        ),
        Scenario(
            "pediatric-relapsed-cycle-1-step-dose",
            "30 kg, 130 cm: BSA sqrt(130 x 30 / 3600) = 1.041 m2. "
            "Relapsed cycle 1 limits: days 1-7 min(5 x 1.041, 9) = 5.2, days 8-28 min(15 x 1.041, 28) "
            "= 15.6. The order steps 5 then 15 mcg/day.",
            [condition("all", "C91.02", ALL_B), weight("wt", 30), height("ht", 130)],
            order(dosages=[rate(5, sequence=1), rate(15, sequence=2)]),
            Expectation(
                adult_relapsed_record(
                    {
                        "PH": unknown(value="unknown"),
                        "WEIGHT": met(30, ["Observation/wt"]),
                        "BSA": met(1.041, ["Observation/wt", "Observation/ht"]),
                        "DOSE": unknown(["MedicationRequest/blin"], 15),
                    }
                ),
                RELAPSED_OTHER_PATHS,
                "incomplete",
                (15.6, None),
            ),
            [
                Expectation(
                    adult_relapsed_record(
                        {
                            **SITE_ANSWERED,
                            "PH": unknown(value="unknown"),
                            "WEIGHT": met(30, ["Observation/wt"]),
                            "BSA": met(1.041, ["Observation/wt", "Observation/ht"]),
                            "REGIMEN": met("single-agent", ["answer:regimen"]),
                            "CYCLES": met(1, ["answer:cycle-number"]),
                            "DOSE": met(15, ["MedicationRequest/blin"]),
                        }
                    ),
                    {**RELAPSED_OTHER_PATHS, "relapsed-refractory": "met"},
                    "criteria-met",
                    (15.6, 5.2),
                    answers={
                        **SITE_ANSWER,
                        "regimen": "single-agent",
                        "cycle-number": 1,
                        "first-cycle-date": "2026-11-24",
                    },
                )
            ],
        ),
        Scenario(
            "prior-courses-suggest-the-cycle",
            "Two completed blinatumomab orders in the record suggest this is cycle 3; the "
            "prescriber still confirms the cycle (CYCLES stays unknown, with the suggestion).",
            [
                condition("all", "C91.02", ALL_B),
                weight("wt", 77),
                prior_course("course-1", "2026-05-01"),
                prior_course("course-2", "2026-07-01"),
            ],
            order(),
            Expectation(
                adult_relapsed_record(
                    {
                        "WEIGHT": met(77, ["Observation/wt"]),
                        "DOSE": unknown(["MedicationRequest/blin"], 28),
                        "CYCLES": unknown(
                            ["MedicationRequest/course-1", "MedicationRequest/course-2"], 3
                        ),
                    }
                ),
                RELAPSED_OTHER_PATHS,
                "incomplete",
                (28.0, None),
            ),
        ),
        Scenario(
            "large-record-relapsed",
            "A 120-resource record (years of labs, vitals, other problems and "
            "drugs) around a relapsed B-ALL: the benchmark record. Same conclusions as a small one.",
            [
                condition("all", "C91.02", ALL_B),
                weight("wt", 82),
                ph("ph", NOT_DETECTED),
                *unrelated_history(112),
            ],
            order(),
            Expectation(
                adult_relapsed_record(
                    {
                        "WEIGHT": met(82, ["Observation/wt"]),
                        "PH": met("negative", ["Observation/ph"]),
                        "DOSE": unknown(["MedicationRequest/blin"], 28),
                    }
                ),
                RELAPSED_OTHER_PATHS,
                "incomplete",
                (28.0, None),
            ),
        ),
        Scenario(
            "relapsed-complete-from-record",
            "Relapsed Ph-negative B-ALL with an active inotuzumab order and one earlier "
            "blinatumomab course: the record answers or suggests every question of the form "
            "(regimen with inotuzumab + mini-hyper-CVD, cycle 2 since 2026-09-01; the infusion "
            "the order is based on is coded for an outpatient facility, HL7 v3 OF). CRD still "
            "asks the prescriber to confirm regimen and cycle; submitted as pre-filled, path c is "
            "met.",
            [
                condition("all", "C91.02", ALL_B),
                weight("wt", 74),
                ph("ph", NOT_DETECTED),
                companion("ino", "1942950"),
                prior_course("course-1", "2026-09-01"),
                infusion("infusion", (ROLE, "OF", "Outpatient facility")),
            ],
            based_on(order(), "infusion"),
            *inotuzumab_relapsed_expectations(
                met("outpatient-facility", ["ServiceRequest/infusion"])
            ),
        ),
        Scenario(
            "remission-c91-01-counts",
            "C91.01 (ALL in remission) recorded with clinicalStatus remission, the usual state in "
            "consolidation and maintenance: DX and LINEAGE are met from the record (SPEC section 2).",
            [
                condition("all", "C91.01", ALL_B, clinical="remission"),
                weight("wt", 72),
                ph("ph", NOT_DETECTED),
            ],
            order(),
            consolidation_adult_record(),
        ),
        Scenario(
            "medications-by-reference",
            "Relapsed Ph-negative B-ALL whose inotuzumab order and earlier blinatumomab course name "
            "their drugs by medicationReference to Medication resources: they suggest the regimen "
            "and the cycle exactly as coded ones do.",
            [
                condition("all", "C91.02", ALL_B),
                weight("wt", 74),
                ph("ph", NOT_DETECTED),
                medication("med-ino", "1942950"),
                medication("med-blin", "1597262"),
                by_reference(companion("ino", "1942950"), "med-ino"),
                by_reference(prior_course("course-1", "2026-09-01"), "med-blin"),
            ],
            order(),
            *inotuzumab_relapsed_expectations(),
        ),
        Scenario(
            "earlier-cycles-from-administrations",
            "Relapsed B-ALL with no earlier blinatumomab order on file but two cycles given "
            "(a bag change every 4 days over 28 days, from 2026-06-01 and from 2026-08-10): the "
            "administrations suggest cycle 3, first cycle 2026-06-01 (SPEC section 2, CYCLES).",
            [
                condition("all", "C91.02", ALL_B),
                weight("wt", 74),
                ph("ph", NOT_DETECTED),
                *bag_changes("c1", "2026-06-01"),
                *bag_changes("c2", "2026-08-10"),
            ],
            order(),
            Expectation(
                adult_relapsed_record(
                    {
                        "WEIGHT": met(74, ["Observation/wt"]),
                        "PH": met("negative", ["Observation/ph"]),
                        "DOSE": unknown(["MedicationRequest/blin"], 28),
                        "CYCLES": unknown(
                            ["MedicationAdministration/c1-0", "MedicationAdministration/c2-0"], 3
                        ),
                    }
                ),
                RELAPSED_OTHER_PATHS,
                "incomplete",
                (28.0, None),
            ),
        ),
        Scenario(
            "child-phase-not-coded-dose-above-limit",
            "A 30 kg, 130 cm child with B-ALL in remission (C91.01: the phase is not coded), "
            "28 mcg/day ordered: above 15 x 1.041 = 15.6 mcg/day in consolidation, within the "
            "28 mcg/day maintenance allows for every weight (SPEC section 3, December 2026). The "
            "phase decides: maintenance alternating with POMP in Ph-negative ALL is covered.",
            [condition("all", "C91.01", ALL_B), weight("wt", 30), height("ht", 130)],
            order(),
            Expectation(
                {
                    "DX": met("C91.01", ["Condition/all"]),
                    "LINEAGE": met("b-precursor", ["Condition/all"]),
                    "PH": unknown(value="unknown"),
                    "WEIGHT": met(30, ["Observation/wt"]),
                    "BSA": met(1.041, ["Observation/wt", "Observation/ht"]),
                    "DOSE": unknown(["MedicationRequest/blin"], 28),
                    "INFANT": met(False, ["Patient/pat", "Condition/all"]),
                },
                INFANT_NOT_MET,
                "incomplete",
                (None, None),
            ),
            [
                Expectation(
                    child_in_remission(
                        {
                            **SITE_ANSWERED,
                            "PH": met("negative", ["answer:ph-status"]),
                            "PHASE": met("maintenance", ["answer:phase"]),
                            "REGIMEN": met("alternating-pomp", ["answer:regimen"]),
                            "DOSE": met(28, ["MedicationRequest/blin"]),
                        }
                    ),
                    {**NO_PATHS, "maintenance": "met"},
                    "criteria-met",
                    (28.0, None),
                    answers={
                        **SITE_ANSWER,
                        "ph-status": "negative",
                        "phase": "maintenance",
                        "regimen": "alternating-pomp",
                        "cycle-number": 1,
                        "first-cycle-date": "2026-11-24",
                    },
                ),
                Expectation(
                    child_in_remission(
                        {
                            "PH": met("negative", ["answer:ph-status"]),
                            "PHASE": met("consolidation", ["answer:phase"]),
                            "REGIMEN": met("single-agent", ["answer:regimen"]),
                            "DOSE": not_met(28, ["MedicationRequest/blin"]),
                        }
                    ),
                    NO_PATHS,
                    "criteria-not-met",
                    (15.6, None),
                    answers={**CONSOLIDATION_ANSWERS, "ph-status": "negative"},
                ),
            ],
            birth="2014-05-01",
        ),
        Scenario(
            "bsa-at-a-rounded-limit",
            "A 25 kg child whose record gives only a BSA, 0.8845 m2: the limit is 15 x 0.8845 = "
            "13.2675, rounded to 13.3 mcg/day, and 13.3 is ordered. A form that rounded the BSA to "
            "0.88 would refuse it (13.2); at full precision both paths accept it.",
            [condition("all", "C91.01", ALL_B), weight("wt", 25), bsa("bsa", 0.8845)],
            order(dosages=[rate(13.3)]),
            Expectation(
                {
                    "DX": met("C91.01", ["Condition/all"]),
                    "LINEAGE": met("b-precursor", ["Condition/all"]),
                    "PH": unknown(value="unknown"),
                    "WEIGHT": met(25, ["Observation/wt"]),
                    "BSA": met(0.8845, ["Observation/bsa"]),
                    "DOSE": unknown(["MedicationRequest/blin"], 13.3),
                    "INFANT": met(False, ["Patient/pat", "Condition/all"]),
                },
                INFANT_NOT_MET,
                "incomplete",
                (None, None),  # the phase decides the limit (maintenance: 28 for every weight)
            ),
            [
                Expectation(
                    {
                        **SITE_ANSWERED,
                        "DX": met("C91.01", ["Condition/all"]),
                        "LINEAGE": met("b-precursor", ["Condition/all"]),
                        "PH": met("negative", ["answer:ph-status"]),
                        "WEIGHT": met(25, ["Observation/wt"]),
                        "BSA": met(0.8845, ["Observation/bsa"]),
                        "PHASE": met("consolidation", ["answer:phase"]),
                        "REGIMEN": met("single-agent", ["answer:regimen"]),
                        "DOSE": met(13.3, ["MedicationRequest/blin"]),
                        "CYCLES": met(1, ["answer:cycle-number"]),
                        "INFANT": met(False, ["Patient/pat", "Condition/all"]),
                    },
                    {
                        "consolidation": "met",
                        "maintenance": "not-met",
                        "relapsed-refractory": "not-met",
                        "infant": "not-met",
                    },
                    "criteria-met",
                    (13.3, None),
                    answers={
                        **SITE_ANSWER,
                        "ph-status": "negative",
                        "phase": "consolidation",
                        "regimen": "single-agent",
                        "cycle-number": 1,
                        "first-cycle-date": "2026-11-24",
                    },
                )
            ],
            birth="2016-05-01",
        ),
    ]


CONSOLIDATION_PATHS = {
    "consolidation": "met",
    "maintenance": "not-met",
    "relapsed-refractory": "not-met",
    "infant": "not-met",
}
CONSOLIDATION_ANSWERS = {
    "phase": "consolidation",
    "regimen": "single-agent",
    "cycle-number": 1,
    "first-cycle-date": "2026-11-24",
}


def remission_adult(extra: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    criteria = {
        "DX": met("C91.01", ["Condition/all"]),
        "LINEAGE": met("b-precursor", ["Condition/all"]),
        "PH": met("negative", ["Observation/ph"]),
        "WEIGHT": met(72, ["Observation/wt"]),
        "INFANT": ADULT_INFANT,
    }
    criteria.update(extra or {})
    return criteria


def consolidation_answered(extra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What the consolidation answers (CONSOLIDATION_ANSWERS) settle, with `extra`."""
    return {
        "PHASE": met("consolidation", ["answer:phase"]),
        "REGIMEN": met("single-agent", ["answer:regimen"]),
        "CYCLES": met(1, ["answer:cycle-number"]),
        **extra,
    }


def child_in_remission(answered: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The 30 kg, 130 cm child of scenario 36 (B-ALL in remission), with what the form settled."""
    return {
        "DX": met("C91.01", ["Condition/all"]),
        "LINEAGE": met("b-precursor", ["Condition/all"]),
        "WEIGHT": met(30, ["Observation/wt"]),
        "BSA": met(1.041, ["Observation/wt", "Observation/ht"]),
        "CYCLES": met(1, ["answer:cycle-number"]),
        "INFANT": met(False, ["Patient/pat", "Condition/all"]),
        **answered,
    }


def defect_scenarios() -> list[Scenario]:
    """Records as real EHRs send them (issue "Clinical fidelity, third round")."""
    return [
        Scenario(
            "dose-in-nanograms-per-day",
            "An adult's rate written in ng/d: 28 500 ng/d is 28.5 mcg/day by UCUM arithmetic, "
            "above the 28 mcg/day every phase caps the dose at (SPEC sections 2 and 3). Changed to "
            "28 mcg/day on the form, path a is met.",
            [condition("all", "C91.01", ALL_B), weight("wt", 72), ph("ph", NOT_DETECTED)],
            order(dosages=[rate(28500, "ng/d")]),
            Expectation(
                remission_adult({"DOSE": not_met(28.5, ["MedicationRequest/blin"])}),
                NO_PATHS,
                "criteria-not-met",
                (28.0, None),
            ),
            [
                Expectation(
                    remission_adult(
                        consolidation_answered(
                            {**SITE_ANSWERED, "DOSE": met(28, ["answer:daily-dose-mcg"])}
                        )
                    ),
                    CONSOLIDATION_PATHS,
                    "criteria-met",
                    (28.0, None),
                    answers={**SITE_ANSWER, **CONSOLIDATION_ANSWERS, "daily-dose-mcg": 28},
                )
            ],
        ),
        Scenario(
            "dose-in-micrograms-per-minute",
            "The same adult's rate written per minute: 0.0194 ug/min is 27.936 mcg/day (x 1440), "
            "within the 28 mcg/day limit (SPEC section 2, DOSE: any UCUM mass per time).",
            [condition("all", "C91.01", ALL_B), weight("wt", 72), ph("ph", NOT_DETECTED)],
            order(dosages=[rate(0.0194, "ug/min")]),
            Expectation(
                remission_adult({"DOSE": unknown(["MedicationRequest/blin"], 27.936)}),
                INFANT_NOT_MET,
                "incomplete",
                (None, None),
            ),
            [
                Expectation(
                    remission_adult(
                        consolidation_answered(
                            {**SITE_ANSWERED, "DOSE": met(27.936, ["MedicationRequest/blin"])}
                        )
                    ),
                    CONSOLIDATION_PATHS,
                    "criteria-met",
                    (28.0, None),
                    answers={**SITE_ANSWER, **CONSOLIDATION_ANSWERS},
                )
            ],
        ),
        Scenario(
            "child-recorded-bsa-without-height",
            "A 30 kg child whose record gives a BSA of 1.0 m2 and no height: the limit is "
            "15 x 1.0 = 15 mcg/day without a height (SPEC section 2, BSA). A height the prescriber "
            "adds (150 cm, Mosteller 1.118) never replaces the recorded BSA.",
            [condition("all", "C91.01", ALL_B), weight("wt", 30), bsa("bsa", 1.0)],
            order(dosages=[rate(15)]),
            Expectation(
                {
                    "DX": met("C91.01", ["Condition/all"]),
                    "LINEAGE": met("b-precursor", ["Condition/all"]),
                    "PH": unknown(value="unknown"),
                    "WEIGHT": met(30, ["Observation/wt"]),
                    "BSA": met(1.0, ["Observation/bsa"]),
                    "DOSE": unknown(["MedicationRequest/blin"], 15),
                    "INFANT": met(False, ["Patient/pat", "Condition/all"]),
                },
                INFANT_NOT_MET,
                "incomplete",
                (None, None),
            ),
            [
                Expectation(
                    {
                        **SITE_ANSWERED,
                        "DX": met("C91.01", ["Condition/all"]),
                        "LINEAGE": met("b-precursor", ["Condition/all"]),
                        "PH": unknown(value="unknown"),
                        "WEIGHT": met(30, ["Observation/wt"]),
                        "BSA": met(1.0, ["Observation/bsa"]),
                        "INFANT": met(False, ["Patient/pat", "Condition/all"]),
                        **consolidation_answered({"DOSE": met(15, ["MedicationRequest/blin"])}),
                    },
                    CONSOLIDATION_PATHS,
                    "criteria-met",
                    (15.0, None),
                    answers={**SITE_ANSWER, **CONSOLIDATION_ANSWERS, "height-cm": 150},
                )
            ],
            birth="2016-05-01",
        ),
        Scenario(
            "infant-onset-age-7-months",
            "An infant (8 kg, 68 cm: BSA sqrt(68 x 8 / 3600) = 0.3887 m2) whose diagnosis gives "
            "its onset as an age, onsetAge 7 months, and no date: under 1 year at diagnosis "
            "(SPEC section 2, INFANT: every onset[x] form). On an Interfant regimen path d is met "
            "at 15 x 0.3887 = 5.8 mcg/day.",
            [
                onset_as(condition("all", "C91.00", ALL_B), onsetAge=age(7, "mo")),
                weight("wt", 8),
                height("ht", 68),
            ],
            order(dosages=[rate(5)]),
            Expectation(
                {
                    "DX": met("C91.00", ["Condition/all"]),
                    "LINEAGE": met("b-precursor", ["Condition/all"]),
                    "PH": unknown(value="unknown"),
                    "WEIGHT": met(8, ["Observation/wt"]),
                    "BSA": met(0.3887, ["Observation/wt", "Observation/ht"]),
                    "DOSE": unknown(["MedicationRequest/blin"], 5),
                    "INFANT": met(True, ["Condition/all"]),
                },
                {},
                "incomplete",
                (None, None),
            ),
            [
                Expectation(
                    {
                        **SITE_ANSWERED,
                        "DX": met("C91.00", ["Condition/all"]),
                        "LINEAGE": met("b-precursor", ["Condition/all"]),
                        "PH": unknown(value="unknown"),
                        "REGIMEN": met("interfant", ["answer:regimen"]),
                        "WEIGHT": met(8, ["Observation/wt"]),
                        "BSA": met(0.3887, ["Observation/wt", "Observation/ht"]),
                        "DOSE": met(5, ["MedicationRequest/blin"]),
                        "CYCLES": met(1, ["answer:cycle-number"]),
                        "INFANT": met(True, ["Condition/all"]),
                    },
                    {
                        "consolidation": "not-met",
                        "maintenance": "not-met",
                        "relapsed-refractory": "not-met",
                        "infant": "met",
                    },
                    "criteria-met",
                    (5.8, None),
                    answers={
                        **SITE_ANSWER,
                        "regimen": "interfant",
                        "cycle-number": 1,
                        "first-cycle-date": "2026-11-24",
                    },
                )
            ],
            birth="2026-02-01",
        ),
        Scenario(
            "relapsed-step-dose-over-its-limit",
            "An adult in relapse (C91.02), cycle 1, ordered 10 mcg/day on days 1-7 then 28 on "
            "days 8-28: the days 8-28 dose is within 28, the days 1-7 dose is over 9, so DOSE "
            "names the days 1-7 dose and its limit (SPEC section 2, DOSE).",
            [condition("all", "C91.02", ALL_B), weight("wt", 70)],
            order(dosages=[rate(10, sequence=1), rate(28, sequence=2)]),
            Expectation(
                adult_relapsed_record(
                    {
                        "WEIGHT": met(70, ["Observation/wt"]),
                        "DOSE": unknown(["MedicationRequest/blin"], 28),
                    }
                ),
                RELAPSED_OTHER_PATHS,
                "incomplete",
                (28.0, None),
            ),
            [
                Expectation(
                    adult_relapsed_record(
                        {
                            "WEIGHT": met(70, ["Observation/wt"]),
                            "REGIMEN": met("single-agent", ["answer:regimen"]),
                            "DOSE": not_met(10, ["MedicationRequest/blin"]),
                            "CYCLES": met(1, ["answer:cycle-number"]),
                        }
                    ),
                    NO_PATHS,
                    "criteria-not-met",
                    (28.0, 9.0),
                    answers={
                        "regimen": "single-agent",
                        "cycle-number": 1,
                        "first-cycle-date": "2026-11-24",
                    },
                ),
                Expectation(
                    adult_relapsed_record(
                        {
                            "WEIGHT": met(70, ["Observation/wt"]),
                            "REGIMEN": met("single-agent", ["answer:regimen"]),
                            "DOSE": not_met(9.5, ["answer:step-dose-mcg"]),
                            "CYCLES": met(1, ["answer:cycle-number"]),
                        }
                    ),
                    NO_PATHS,
                    "criteria-not-met",
                    (28.0, 9.0),
                    answers={
                        "regimen": "single-agent",
                        "cycle-number": 1,
                        "first-cycle-date": "2026-11-24",
                        "step-dose-mcg": 9.5,
                    },
                ),
            ],
        ),
    ]


def bundle(scenario: Scenario) -> Resource:
    resources = [patient(scenario.birth), *payer(), *scenario.resources, scenario.order]
    return collection(scenario.name, resources, uuid.UUID("0b5c6a50-1d0f-4d0e-9d6b-6a1c8f0e2b11"))


def collection(name: str, resources: list[Resource], namespace: uuid.UUID) -> Resource:
    """A scenario's record as a collection Bundle, with full URLs stable from run to run."""

    def full_url(r: Resource) -> str:
        return f"urn:uuid:{uuid.uuid5(namespace, name + r['resourceType'] + r['id'])}"

    return {
        "resourceType": "Bundle",
        "id": name,
        "type": "collection",
        "entry": [{"fullUrl": full_url(r), "resource": r} for r in resources],
    }


def write(scenarios: list[Scenario]) -> None:
    if ROOT.exists():
        for child in ROOT.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
    for number, scenario in enumerate(scenarios, start=1):
        folder = ROOT / f"{number:02d}-{scenario.name}"
        folder.mkdir(parents=True)
        expected = {
            "description": scenario.description,
            "evaluationDate": EVALUATION_DATE,
            "order": f"MedicationRequest/{scenario.order['id']}",
            "record": scenario.record.as_json(),
            "withAnswers": [e.as_json() for e in scenario.with_answers],
        }
        for name, content in (
            ("bundle.json", bundle(scenario)),
            ("order.json", scenario.order),
            ("expected.json", expected),
        ):
            (folder / name).write_text(json.dumps(content, indent=1) + "\n")


def other_coverages() -> list[Resource]:
    """A second active Coverage of this payer, and an active one of another payer."""
    ours, *_ = [r for r in payer() if r["resourceType"] == "Coverage"]
    other_payer = {
        "resourceType": "Organization",
        "id": "other-payer",
        "name": "Another Health Plan",
        "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.221.5", "value": "ANOTHER-PLAN"}],
    }
    return [
        {**ours, "id": "cov-2", "period": {"start": "2026-06-01"}},
        other_payer,
        {**ours, "id": "cov-other", "payor": [{"reference": "Organization/other-payer"}]},
    ]


def spec_change_scenarios() -> list[Scenario]:
    """SPEC, "Changed in December 2026" (Ph status and maintenance are scenarios 22 and 36)."""
    return [
        Scenario(
            "c91-0-without-fifth-character",
            "An adult's ALL coded C91.0, without its fifth character: ALL whose remission state "
            "the code does not say. DX is unknown, never a different disease (no section 1367.21 "
            "review); the form asks for the specific code (SPEC section 2, DX, December 2026).",
            [condition("all", "C91.0"), weight("wt", 72), ph("ph", NOT_DETECTED)],
            order(),
            Expectation(
                {
                    "DX": unknown(["Condition/all"], "C91.0"),
                    "PH": met("negative", ["Observation/ph"]),
                    "WEIGHT": met(72, ["Observation/wt"]),
                    "DOSE": unknown(["MedicationRequest/blin"], 28),
                    "INFANT": ADULT_INFANT,
                },
                INFANT_NOT_MET,
                "incomplete",
                (None, None),
            ),
            [
                Expectation(
                    {
                        **SITE_ANSWERED,
                        "DX": met("C91.01", ["answer:diagnosis-code"]),
                        "LINEAGE": met("b-precursor", ["answer:b-precursor"]),
                        "PH": met("negative", ["Observation/ph"]),
                        "WEIGHT": met(72, ["Observation/wt"]),
                        "INFANT": ADULT_INFANT,
                        **consolidation_answered({"DOSE": met(28, ["MedicationRequest/blin"])}),
                    },
                    CONSOLIDATION_PATHS,
                    "criteria-met",
                    (28.0, None),
                    answers={
                        **SITE_ANSWER,
                        **CONSOLIDATION_ANSWERS,
                        "diagnosis-code": "C91.01",
                        "b-precursor": True,
                    },
                )
            ],
        ),
        Scenario(
            "snomed-only-all-asks-the-icd-10-cm-code",
            "B-cell ALL recorded with SNOMED 277571004 only: DX is met, but the prior-"
            "authorization request needs an ICD-10-CM code, so the form asks for it (SPEC "
            "section 5, December 2026). Answered C91.01 with the rest, path a is met.",
            [condition("all", snomed=ALL_B), weight("wt", 72), ph("ph", NOT_DETECTED)],
            order(),
            Expectation(
                remission_adult(
                    {
                        "DX": met(None, ["Condition/all"]),
                        "DOSE": unknown(["MedicationRequest/blin"], 28),
                    }
                ),
                INFANT_NOT_MET,
                "incomplete",
                (None, None),
            ),
            [
                Expectation(
                    remission_adult(
                        {
                            **SITE_ANSWERED,
                            "DX": met("C91.01", ["answer:diagnosis-code"]),
                            **consolidation_answered(
                                {"DOSE": met(28, ["MedicationRequest/blin"])}
                            ),
                        }
                    ),
                    CONSOLIDATION_PATHS,
                    "criteria-met",
                    (28.0, None),
                    answers={**SITE_ANSWER, **CONSOLIDATION_ANSWERS, "diagnosis-code": "C91.01"},
                )
            ],
        ),
        Scenario(
            "several-coverages-the-order-names-one",
            "Two active Coverages of this payer and one of another payer: the order names "
            "Coverage/cov, so the answer is about that one; the other payer's is ignored (SPEC "
            "section 5, December 2026). The clinical evaluation is scenario 01's.",
            [
                condition("all", "C91.01", ALL_B),
                weight("wt", 72),
                ph("ph", NOT_DETECTED),
                *other_coverages(),
            ],
            order(),
            consolidation_adult_record(),
        ),
    ]


TREATMENT_ANSWERS = {
    "phase": "consolidation",
    "regimen": "single-agent",
    "cycle-number": 1,
    "first-cycle-date": "2026-11-24",
}


def consolidation_with_site(site: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Scenario 01's adult with the treatment answers (TREATMENT_ANSWERS) and SITE as given."""
    return remission_adult(
        consolidation_answered({"DOSE": met(28, ["MedicationRequest/blin"]), "SITE": site})
    )


def site_scenarios() -> list[Scenario]:
    """SPEC, "Changed in December 2026", change 1: SITE, the policy's places of service."""
    record = [condition("all", "C91.01", ALL_B), weight("wt", 72), ph("ph", NOT_DETECTED)]
    from_record = consolidation_adult_record()
    return [
        Scenario(
            "site-outpatient-hospital-from-the-location-code",
            "The order is based on an infusion ServiceRequest whose locationCode is CMS place of "
            "service 22 (on-campus outpatient hospital): SITE is met from the record, an "
            "outpatient facility, and the form pre-fills it (SPEC section 2, SITE, December "
            "2026). With the consolidation answers path a is met.",
            [*record, infusion("infusion", (POS, "22", "On Campus-Outpatient Hospital"))],
            based_on(order(), "infusion"),
            Expectation(
                {
                    **from_record.criteria,
                    "SITE": met("outpatient-facility", ["ServiceRequest/infusion"]),
                },
                INFANT_NOT_MET,
                "incomplete",
                (None, None),
            ),
            [
                Expectation(
                    consolidation_with_site(
                        met("outpatient-facility", ["ServiceRequest/infusion"])
                    ),
                    CONSOLIDATION_PATHS,
                    "criteria-met",
                    (28.0, None),
                    answers=TREATMENT_ANSWERS,
                )
            ],
        ),
        Scenario(
            "site-home-infusion-is-not-met",
            "The infusion the order is based on is coded for the patient's home (CMS place of "
            "service 12): not a place of service the policy lists, so SITE is not met and so is "
            "every path (criteria-not-met on the record alone; the reviewer decides). Confirmed "
            "as home with the other answers it stays not met; answered office, path a is met.",
            [*record, infusion("infusion", (POS, "12", "Home"))],
            based_on(order(), "infusion"),
            Expectation(
                {**from_record.criteria, "SITE": not_met("home", ["ServiceRequest/infusion"])},
                NO_PATHS,
                "criteria-not-met",
                (None, None),
            ),
            [
                Expectation(
                    consolidation_with_site(not_met("home", ["ServiceRequest/infusion"])),
                    NO_PATHS,
                    "criteria-not-met",
                    (28.0, None),
                    answers=TREATMENT_ANSWERS,
                ),
                Expectation(
                    consolidation_with_site(met("office", ["answer:administration-setting"])),
                    CONSOLIDATION_PATHS,
                    "criteria-met",
                    (28.0, None),
                    answers={**TREATMENT_ANSWERS, "administration-setting": "office"},
                ),
            ],
        ),
        Scenario(
            "site-inpatient-answered-is-not-met",
            "Nothing in the record says where the drug is given, so the form asks; the "
            "prescriber answers inpatient: SITE is not met, so path a is not, though every other "
            "criterion of it is (criteria-not-met; the reviewer decides, SPEC section 2, SITE).",
            record,
            order(),
            from_record,
            [
                Expectation(
                    consolidation_with_site(
                        not_met("inpatient", ["answer:administration-setting"])
                    ),
                    NO_PATHS,
                    "criteria-not-met",
                    (28.0, None),
                    answers={**TREATMENT_ANSWERS, "administration-setting": "inpatient"},
                )
            ],
        ),
    ]


def every_scenario() -> list[Scenario]:
    return [*scenarios(), *defect_scenarios(), *spec_change_scenarios(), *site_scenarios()]


if __name__ == "__main__":
    write(every_scenario())
    print(f"wrote {len(every_scenario())} scenarios under {ROOT}")
