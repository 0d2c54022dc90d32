"""The first policy's engine as the service builds it (service/policy/registry.py), for tests
that evaluate it directly."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from service.cql.engine import CqlEngine
from service.policy.engine import PolicyEngine
from service.policy.evaluation import Evaluation, Evidence, EvidenceKind
from service.policy.folder import Policy, load_policies
from service.policy.registry import compile_policies
from service.settings import PROJECT_ROOT

SHARED_CQL = PROJECT_ROOT / "cql"
FIRST_POLICY = PROJECT_ROOT / "policies" / "blinatumomab"
# The shared libraries' folder and the first policy's own.
CQL_DIRS = (SHARED_CQL, FIRST_POLICY / "cql")


def the_policy(policy_dir: Path = PROJECT_ROOT / "policies") -> Policy:
    (policy,) = load_policies(policy_dir)
    return policy


def policy_engine(policy: Policy | None = None) -> PolicyEngine:
    chosen = policy or the_policy()
    return compile_policies([chosen], SHARED_CQL)[chosen.id]


def cql_engine() -> CqlEngine:
    return CqlEngine(CQL_DIRS)


def limit_value(evaluation: Evaluation, limit_id: str) -> Decimal | int | None:
    """A declared limit's value for the evaluated order (the limit itself must be there)."""
    found = evaluation.limit(limit_id)
    assert found is not None, f"the evaluation has no limit {limit_id!r}"
    return found.value


def first_policy_patient(
    birth: str, onset: str, dosages: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """A record the first policy reads: the Patient, an active B-ALL in remission (C91.01) with
    its onset, and a draft order `o` for the drug (with `dosages` when given)."""
    order: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": "o",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1597262"}]
        },
    }
    if dosages is not None:
        order["dosageInstruction"] = dosages
    return [
        {"resourceType": "Patient", "id": "p", "birthDate": birth},
        {
            "resourceType": "Condition",
            "id": "all",
            "onsetDateTime": onset,
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": "active",
                    }
                ]
            },
            "code": {
                "coding": [
                    {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C91.01"},
                    {"system": "http://snomed.info/sct", "code": "277571004"},
                ]
            },
        },
        order,
    ]


def as_written(evidence: Iterable[Evidence]) -> list[str]:
    """Evidence as expectations write it, the CQL's own text ("answer:<linkId>", a reference)."""
    return [
        f"answer:{e.link_id}" if e.kind is EvidenceKind.ANSWER else str(e.reference)
        for e in evidence
    ]
