"""Writes tests/policies/exemplumab/examples/<NN-name>/{bundle.json, order.json, expected.json}.

Exemplumab is a fictional drug and this is a TEST policy, not a real payer policy. Each scenario's
expectations are written BY HAND from policy.txt (never computed by the engine), so a test that
compares the engine with them can fail. Run `python3 tests/policies/exemplumab/build_examples.py`
after changing a scenario and review the diff of examples/.
"""

from __future__ import annotations

import json
import shutil
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The record builders the first policy's examples use (tools/examples/build_examples.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tools.examples.build_examples import (  # noqa: E402
    EVALUATION_DATE,
    ICD,
    UCUM,
    collection,
    condition,
    observation,
    patient,
    payer,
)

ROOT = Path(__file__).resolve().parent / "examples"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
ANC = "751-8"
BODY_WEIGHT = "29463-7"
CRITERIA = ("DIAGNOSIS", "NEUTROPHILS", "WEIGHT", "DOSE")
NAMESPACE = uuid.UUID("5f0c7a2e-3b1d-4c8e-9a6f-2d4e8b1c7a90")
Resource = dict[str, Any]


def diagnosis(cid: str, icd: str, verification: str = "confirmed") -> Resource:
    return condition(cid, icd=icd, onset="2025-02-01", verification=verification)


def anc(oid: str, count: float, when: str = "2026-11-20") -> Resource:
    return observation(oid, ANC, when, (count, "10*3/uL"), category="laboratory")


def weight(oid: str, amount: float, unit: str = "kg", when: str = "2026-11-18") -> Resource:
    return observation(oid, BODY_WEIGHT, when, (amount, unit))


def order(dose_mg: float) -> Resource:
    return {
        "resourceType": "ServiceRequest",
        "id": "exem",
        "status": "draft",
        "intent": "order",
        "code": {
            "coding": [{"system": HCPCS, "code": "J3590", "display": "Unclassified biologics"}],
            "text": "Exemplumab infusion",
        },
        "quantityQuantity": {"value": dose_mg, "unit": "mg", "system": UCUM, "code": "mg"},
        "subject": {"reference": "Patient/pat"},
        "authoredOn": EVALUATION_DATE,
        "requester": {"reference": "Practitioner/prescriber"},
        "insurance": [{"reference": "Coverage/cov"}],
    }


def icd(code: str) -> dict[str, str]:
    return {"system": ICD, "code": code}


@dataclass
class Scenario:
    name: str
    description: str
    resources: list[Resource]
    dose_mg: float
    outcome: str
    limit_mg: float | None
    prefill: dict[str, Any]
    criteria: dict[str, str] = field(default_factory=dict)

    def expected(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "evaluationDate": EVALUATION_DATE,
            "order": "ServiceRequest/exem",
            "outcome": self.outcome,
            "criteria": {c: self.criteria.get(c, "met") for c in CRITERIA},
            "limits": {"infusion-dose": self.limit_mg},
            "prefill": self.prefill,
        }


def prefill(
    diagnosis: str | None = "M06.9",
    count: float | None = 2.1,
    weight_kg: float | None = 70,
    dose_mg: float | None = 700,
) -> dict[str, Any]:
    return {
        "diagnosis-code": icd(diagnosis) if diagnosis else None,
        "anc": count,
        "weight-kg": weight_kg,
        "dose-mg": dose_mg,
    }


RA = diagnosis("ra", "M06.9")


def scenarios() -> list[Scenario]:
    return [
        Scenario(
            "all-criteria-met",
            "Rheumatoid arthritis (M06.9), ANC 2.1 six days ago, 70 kg: 700 mg is 10 mg/kg, the "
            "limit exactly. Every criterion is met from the record.",
            [RA, anc("anc", 2.1), weight("wt", 70)],
            700,
            "criteria-met",
            700,
            prefill(),
        ),
        Scenario(
            "dose-above-10-mg-per-kg",
            "70 kg: the limit is 700 mg (10 mg/kg); 800 mg is above it.",
            [RA, anc("anc", 2.1), weight("wt", 70)],
            800,
            "criteria-not-met",
            700,
            prefill(dose_mg=800),
            {"DOSE": "not-met"},
        ),
        Scenario(
            "dose-above-1000-mg-cap",
            "120 kg (M05.79): 10 mg/kg would be 1200 mg, but the limit is capped at 1000 mg; "
            "1200 mg ordered is not covered.",
            [diagnosis("ra", "M05.79"), anc("anc", 3.0), weight("wt", 120)],
            1200,
            "criteria-not-met",
            1000,
            prefill("M05.79", 3.0, 120, 1200),
            {"DOSE": "not-met"},
        ),
        Scenario(
            "dose-at-1000-mg-cap",
            "120 kg, 1000 mg ordered: exactly the cap, met.",
            [RA, anc("anc", 3.0), weight("wt", 120)],
            1000,
            "criteria-met",
            1000,
            prefill(count=3.0, weight_kg=120, dose_mg=1000),
        ),
        Scenario(
            "anc-exactly-1-5",
            "The latest ANC is 1.5 10*3/uL, the threshold exactly: met.",
            [RA, anc("anc", 1.5), weight("wt", 70)],
            700,
            "criteria-met",
            700,
            prefill(count=1.5),
        ),
        Scenario(
            "anc-1-4-below-threshold",
            "The latest ANC is 1.4 10*3/uL, below 1.5: not met.",
            [RA, anc("anc", 1.4), weight("wt", 70)],
            700,
            "criteria-not-met",
            700,
            prefill(count=1.4),
            {"NEUTROPHILS": "not-met"},
        ),
        Scenario(
            "latest-anc-wins",
            "ANC 2.5 on 2026-11-01 and 1.2 on 2026-11-21: the latest result (1.2) decides, "
            "not met.",
            [
                RA,
                anc("anc-earlier", 2.5, "2026-11-01"),
                anc("anc", 1.2, "2026-11-21"),
                weight("wt", 70),
            ],
            700,
            "criteria-not-met",
            700,
            prefill(count=1.2),
            {"NEUTROPHILS": "not-met"},
        ),
        Scenario(
            "anc-older-than-30-days",
            "The only ANC is from 2026-10-20, 35 days before the evaluation: no recent count, "
            "NEUTROPHILS is unknown and the questionnaire asks.",
            [RA, anc("anc", 2.1, "2026-10-20"), weight("wt", 70)],
            700,
            "incomplete",
            700,
            prefill(count=None),
            {"NEUTROPHILS": "unknown"},
        ),
        Scenario(
            "anc-exactly-30-days-ago",
            "The only ANC is from 2026-10-25, 30 days before the evaluation: inside the window.",
            [RA, anc("anc", 2.0, "2026-10-25"), weight("wt", 70)],
            700,
            "criteria-met",
            700,
            prefill(count=2.0),
        ),
        Scenario(
            "no-weight-recorded",
            "No body weight: WEIGHT is unknown, the limit is not known, DOSE is unknown.",
            [RA, anc("anc", 2.1)],
            700,
            "incomplete",
            None,
            prefill(weight_kg=None),
            {"WEIGHT": "unknown", "DOSE": "unknown"},
        ),
        Scenario(
            "weight-in-pounds",
            "154 [lb_av] is 69.85322498 kg: the limit is 698.5322498 mg; 690 mg is within it.",
            [RA, anc("anc", 2.1), weight("wt", 154, "[lb_av]")],
            690,
            "criteria-met",
            698.5322498,
            prefill(weight_kg=69.85322498, dose_mg=690),
        ),
        Scenario(
            "diagnosis-not-in-valueset",
            "Psoriatic arthritis (L40.50), no rheumatoid arthritis recorded: DIAGNOSIS is not met "
            "(off policy); the diagnosis question is not pre-filled (not a listed answer).",
            [diagnosis("psa", "L40.50"), anc("anc", 2.1), weight("wt", 70)],
            700,
            "criteria-not-met",
            700,
            prefill(diagnosis=None),
            {"DIAGNOSIS": "not-met"},
        ),
        Scenario(
            "refuted-diagnosis-ignored",
            "The only rheumatoid arthritis diagnosis is refuted: DIAGNOSIS is unknown, not "
            "not-met (absence of evidence is never false).",
            [diagnosis("ra", "M06.9", "refuted"), anc("anc", 2.1), weight("wt", 70)],
            700,
            "incomplete",
            700,
            prefill(diagnosis=None),
            {"DIAGNOSIS": "unknown"},
        ),
    ]


def bundle(scenario: Scenario) -> Resource:
    resources = [patient(), *payer(), *scenario.resources, order(scenario.dose_mg)]
    return collection(scenario.name, resources, NAMESPACE)


def write(found: list[Scenario]) -> None:
    if ROOT.exists():
        shutil.rmtree(ROOT)
    for number, scenario in enumerate(found, start=1):
        folder = ROOT / f"{number:02d}-{scenario.name}"
        folder.mkdir(parents=True)
        for name, content in (
            ("bundle.json", bundle(scenario)),
            ("order.json", order(scenario.dose_mg)),
            ("expected.json", scenario.expected()),
        ):
            (folder / name).write_text(json.dumps(content, indent=1) + "\n")


if __name__ == "__main__":
    write(scenarios())
    print(f"wrote {len(scenarios())} scenarios under {ROOT}")
