"""The policy registry finds a policy by id, by its questionnaire (with or without version) and by
an order its trigger meets; an order no policy is about finds none."""

from __future__ import annotations

from service.fhir.record import PatientRecord
from service.policy.canonical import published
from service.policy.folder import load_policies
from service.policy.registry import PolicyRegistry, compile_policies
from service.settings import PROJECT_ROOT

RX = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _order(code: str, status: str = "draft") -> dict[str, object]:
    return {
        "resourceType": "MedicationRequest",
        "id": "o",
        "status": status,
        "medicationCodeableConcept": {"coding": [{"system": RX, "code": code}]},
    }


def test_the_registry_finds_policies_by_what_crd_and_dtr_know() -> None:
    policies = [
        published(p, "https://plan.example.com") for p in load_policies(PROJECT_ROOT / "policies")
    ]
    registry = PolicyRegistry(policies, compile_policies(policies, PROJECT_ROOT / "cql"))
    (policy,) = policies
    assert registry.by_id("blinatumomab") is policy and registry.by_id("other") is None
    canonical = "https://plan.example.com/fhir/Questionnaire/blinatumomab-pa"
    assert registry.by_questionnaire(canonical) is policy
    assert registry.by_questionnaire(f"{canonical}|2023.2") is policy
    assert (
        registry.by_questionnaire("https://payer.example.org/fhir/Questionnaire/blinatumomab-pa")
        is None
    )
    assert registry.for_order(_order("1597262"), PatientRecord([])) is policy
    assert registry.for_order(_order("1597262", status="completed"), PatientRecord([])) is None
    assert registry.for_order(_order("197361"), PatientRecord([])) is None  # another drug
    assert list(registry) == policies
