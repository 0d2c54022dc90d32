"""Card builders on evaluations with the prescriber's answers (what order-sign cannot know yet)."""

from __future__ import annotations

import json
from datetime import date

from service.cql.engine import CqlEngine
from service.crd.cards import CardSource
from service.crd.order_cards import limit_card
from service.crd.versions import CRD_2_2
from service.fhir.record import PatientRecord
from service.policy.engine import PolicyEngine
from service.policy.folder import load_policies
from service.settings import PROJECT_ROOT
from tests.support.policies import CQL_DIRS

FOLDER = PROJECT_ROOT / "fhir_examples" / "29-pediatric-relapsed-cycle-1-step-dose"


def test_step_dose_over_the_limit_gets_a_warning_and_a_suggestion_on_the_first_dosage() -> None:
    (policy,) = load_policies(PROJECT_ROOT / "policies")
    engine = PolicyEngine(policy, CqlEngine(CQL_DIRS))
    bundle = json.loads((FOLDER / "bundle.json").read_text())
    order = json.loads((FOLDER / "order.json").read_text())
    order["dosageInstruction"][0]["doseAndRate"][0]["rateQuantity"]["value"] = 6
    record = PatientRecord(
        (order if e["resource"]["id"] == "blin" else e["resource"], None) for e in bundle["entry"]
    )
    answers = {"regimen": "single-agent", "cycle-number": 1, "first-cycle-date": "2026-11-24"}
    evaluation = engine.evaluate(record, "MedicationRequest/blin", date(2026, 11, 24), answers)
    card = limit_card(CardSource("Plan", CRD_2_2), policy, evaluation, order)
    assert card is not None
    assert "days 1-7 step dose" in card["detail"] and "5.2 mcg/day" in card["summary"]
    updated = card["suggestions"][0]["actions"][0]["resource"]
    assert updated["dosageInstruction"][0]["doseAndRate"][0]["rateQuantity"]["value"] == 5.2
    assert updated["dosageInstruction"][1]["doseAndRate"][0]["rateQuantity"]["value"] == 15
