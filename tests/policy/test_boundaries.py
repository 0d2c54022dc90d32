"""Every clinical boundary of SPEC sections 2-4, one row each: windows, the 45 kg rule, BSA and
dose-limit rounding, step dosing, cycle maxima and coverage periods, the infant birthday."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from service.cql.engine import CqlEngine
from service.fhir.record import PatientRecord
from service.policy.engine import PolicyEngine
from service.policy.evaluation import Evaluation
from service.policy.folder import load_policies
from service.settings import PROJECT_ROOT
from service.types import Resource
from tests.support.clock import EXAMPLES_DATE
from tests.support.policies import CQL_DIRS, first_policy_patient, limit_value

TODAY = EXAMPLES_DATE
UCUM = "http://unitsofmeasure.org"


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    (policy,) = load_policies(PROJECT_ROOT / "policies")
    return PolicyEngine(policy, CqlEngine(CQL_DIRS))


def _observation(oid: str, loinc: str, when: str, value: float, unit: str) -> Resource:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
    }


def _record(
    *extra: Resource, birth: str = "1980-01-01", onset: str = "2026-01-01"
) -> PatientRecord:
    resources: list[Resource] = [*first_policy_patient(birth, onset), *extra]
    return PatientRecord((r, None) for r in resources)


def _evaluate(engine: PolicyEngine, record: PatientRecord, **answers: Any) -> Evaluation:
    return engine.evaluate(
        record, "MedicationRequest/o", TODAY, {k.replace("_", "-"): v for k, v in answers.items()}
    )


@pytest.mark.parametrize(
    ("when", "known"),
    [
        pytest.param("2026-10-25", True, id="weight-30-days-old-counts"),
        pytest.param("2026-10-24", False, id="weight-31-days-old-is-stale"),
        pytest.param("2026-11-25", False, id="weight-dated-tomorrow-ignored"),
    ],
)
def test_weight_window(engine: PolicyEngine, when: str, known: bool) -> None:
    evaluation = _evaluate(engine, _record(_observation("w", "29463-7", when, 70, "kg")))
    assert (evaluation.criteria["WEIGHT"].value is not None) is known


@pytest.mark.parametrize(
    ("when", "known"),
    [
        pytest.param("2026-08-26", True, id="height-90-days-old-counts"),
        pytest.param("2026-08-25", False, id="height-91-days-old-is-stale"),
    ],
)
def test_height_window(engine: PolicyEngine, when: str, known: bool) -> None:
    record = _record(
        _observation("w", "29463-7", "2026-11-20", 30, "kg"),
        _observation("h", "8302-2", when, 130, "cm"),
    )
    assert (_evaluate(engine, record).criteria["BSA"].value is not None) is known


@pytest.mark.parametrize(
    ("weight_kg", "expected_limit"),
    [
        pytest.param("45.0", "28.0", id="45.0-kg-is-adult"),
        pytest.param("45.01", "28.0", id="just-over-45-is-adult"),
        pytest.param("44.99", "20.5", id="just-under-45-uses-bsa"),
    ],  # 15 x sqrt(150 x 44.99 / 3600) = 20.54
)
def test_45_kg_rule(engine: PolicyEngine, weight_kg: str, expected_limit: str) -> None:
    evaluation = _evaluate(
        engine, _record(), phase="consolidation", weight_kg=weight_kg, height_cm="150"
    )
    assert limit_value(evaluation, "daily-dose") == Decimal(expected_limit)


@pytest.mark.parametrize(
    ("bsa_m2", "expected_limit"),
    [
        pytest.param("1.0", "15.0", id="15-per-m2"),
        pytest.param("1.003", "15.0", id="rounds-down-below-.05"),  # 15.045
        pytest.param("1.0034", "15.1", id="rounds-up-past-.05"),  # 15.051
        pytest.param("1.8667", "28.0", id="cap-28-reached"),  # 28.0005 -> 28.0
        pytest.param("2.5", "28.0", id="cap-28-applies"),
    ],
)
def test_bsa_limit_rounding_and_cap(engine: PolicyEngine, bsa_m2: str, expected_limit: str) -> None:
    evaluation = _evaluate(engine, _record(), phase="consolidation", weight_kg="30", bsa_m2=bsa_m2)
    assert limit_value(evaluation, "daily-dose") == Decimal(expected_limit)


@pytest.mark.parametrize(
    ("ordered", "status"),
    [
        pytest.param("28", "met", id="at-the-limit-is-covered"),
        pytest.param("28.05", "not-met", id="over-the-rounded-limit"),
    ],
)
def test_dose_against_limit(engine: PolicyEngine, ordered: str, status: str) -> None:
    evaluation = _evaluate(
        engine, _record(), phase="consolidation", weight_kg="70", daily_dose_mcg=ordered
    )
    assert evaluation.criteria["DOSE"].status.value == status


@pytest.mark.parametrize(
    ("weight_kg", "step", "daily", "status", "step_limit"),
    [
        pytest.param("70", "9", "28", "met", "9.0", id="adult-step-9-then-28"),
        pytest.param("70", "9.5", "28", "not-met", "9.0", id="adult-step-over-9"),
        pytest.param("30", "5.2", "15.6", "met", "5.2", id="child-step-5-per-m2"),  # BSA 1.0408
        pytest.param("30", "5.3", "15.6", "not-met", "5.2", id="child-step-over"),
    ],
)
def test_relapsed_cycle_1_step_dose(
    engine: PolicyEngine, weight_kg: str, step: str, daily: str, status: str, step_limit: str
) -> None:
    evaluation = _evaluate(
        engine,
        _record(),
        phase="relapsed-refractory",
        cycle_number=1,
        weight_kg=weight_kg,
        height_cm="130",
        step_dose_mcg=step,
        daily_dose_mcg=daily,
    )
    assert evaluation.criteria["DOSE"].status.value == status
    assert limit_value(evaluation, "step-dose") == Decimal(step_limit)


def test_later_relapsed_cycles_have_no_step_limit(engine: PolicyEngine) -> None:
    evaluation = _evaluate(
        engine,
        _record(),
        phase="relapsed-refractory",
        cycle_number=2,
        weight_kg="70",
        daily_dose_mcg="28",
    )
    assert limit_value(evaluation, "step-dose") is None
    assert evaluation.criteria["DOSE"].status.value == "met"


@pytest.mark.parametrize(
    ("phase", "cycle", "status"),
    [
        pytest.param("consolidation", 4, "met", id="consolidation-4-of-4"),
        pytest.param("consolidation", 5, "not-met", id="consolidation-5-of-4"),
        pytest.param("maintenance", 3, "met", id="maintenance-3-of-3"),
        pytest.param("maintenance", 4, "not-met", id="maintenance-4-of-3"),
        pytest.param("relapsed-refractory", 9, "met", id="relapsed-9-of-9"),
        pytest.param("relapsed-refractory", 10, "not-met", id="relapsed-10-of-9"),
        pytest.param("infant", 4, "met", id="infant-4-assumed-max"),
        pytest.param("infant", 5, "not-met", id="infant-5-of-4"),
        pytest.param("consolidation", 0, "not-met", id="cycle-0-is-not-a-cycle"),
    ],
)
def test_cycle_maximum(engine: PolicyEngine, phase: str, cycle: int, status: str) -> None:
    evaluation = _evaluate(
        engine, _record(), phase=phase, cycle_number=cycle, first_cycle_date="2026-10-01"
    )
    assert evaluation.criteria["CYCLES"].status.value == status


@pytest.mark.parametrize(
    ("phase", "first_cycle", "status"),
    [
        pytest.param("consolidation", "2025-11-25", "met", id="consolidation-last-day-of-year"),
        pytest.param("consolidation", "2025-11-24", "not-met", id="consolidation-one-year-over"),
        pytest.param("maintenance", "2024-11-25", "met", id="maintenance-last-day-of-2-years"),
        pytest.param("maintenance", "2024-11-24", "not-met", id="maintenance-2-years-over"),
        pytest.param("consolidation", "2026-11-25", "not-met", id="first-cycle-in-the-future"),
    ],
)
def test_coverage_period(engine: PolicyEngine, phase: str, first_cycle: str, status: str) -> None:
    evaluation = _evaluate(
        engine, _record(), phase=phase, cycle_number=1, first_cycle_date=first_cycle
    )
    assert evaluation.criteria["CYCLES"].status.value == status


@pytest.mark.parametrize(
    ("birth", "onset", "infant"),
    [
        pytest.param("2025-03-10", "2026-03-09", True, id="day-before-first-birthday"),
        pytest.param("2025-03-10", "2026-03-10", False, id="on-first-birthday"),
        pytest.param("2024-02-29", "2025-02-28", True, id="leap-day-birth"),
    ],
)
def test_infant_birthday(engine: PolicyEngine, birth: str, onset: str, infant: bool) -> None:
    evaluation = _evaluate(engine, _record(birth=birth, onset=onset))
    assert evaluation.criteria["INFANT"].value is infant


@pytest.mark.parametrize(
    ("recorded", "flagged"),
    [
        pytest.param(1.283, False, id="within-10-percent"),  # computed 1.1667, +9.97%
        pytest.param(1.29, True, id="beyond-10-percent"),
    ],
)
def test_recorded_bsa_discrepancy(engine: PolicyEngine, recorded: float, flagged: bool) -> None:
    record = _record(
        _observation("w", "29463-7", "2026-11-20", 35, "kg"),
        _observation("h", "8302-2", "2026-11-20", 140, "cm"),
        _observation("b", "8277-6", "2026-11-20", recorded, "m2"),
    )
    assert _evaluate(engine, record).criteria["BSA"].discrepancy is flagged


def test_answers_override_the_record(engine: PolicyEngine) -> None:
    record = _record(_observation("w", "29463-7", "2026-11-20", 70, "kg"))
    assert _evaluate(engine, record).criteria["WEIGHT"].value == Decimal(70)
    overridden = _evaluate(engine, record, weight_kg="40.5")
    assert overridden.criteria["WEIGHT"].value == Decimal("40.5")
    assert overridden.criteria["WEIGHT"].evidence == ("answer:weight-kg",)


@pytest.mark.parametrize(
    ("answer", "dx"),
    [
        pytest.param("C91.00", "met", id="all-code"),
        pytest.param("C9102", "met", id="all-code-undotted"),
        pytest.param("C91.10", "not-met", id="cll-code"),
        pytest.param("C91.A0", "not-met", id="c91a0"),
        pytest.param("C91.Z0", "not-met", id="c91z0"),
        pytest.param("C83.50", "not-met", id="c8350"),
    ],
)
def test_answered_diagnosis(engine: PolicyEngine, answer: str, dx: str) -> None:
    assert _evaluate(engine, _record(), diagnosis_code=answer).criteria["DX"].status.value == dx


@pytest.mark.parametrize(
    ("weight_kg", "dose", "limit", "status"),
    [
        pytest.param("30", "20", "15.0", "not-met", id="child-above-the-every-phase-limit"),
        pytest.param("30", "15", "15.0", "unknown", id="child-within-it-step-dose-still-open"),
        pytest.param("70", "30", "28.0", "not-met", id="adult-above-the-28-cap-of-every-phase"),
        pytest.param("70", "28", None, "unknown", id="adult-at-28-infant-phase-could-be-lower"),
    ],
)
def test_the_dose_is_judged_before_the_phase_is_known(
    engine: PolicyEngine, weight_kg: str, dose: str, limit: str | None, status: str
) -> None:
    """Under 45 kg the daily limit is the same in every phase; above 28 mcg/day no phase covers
    the dose: order-sign says so without waiting for the phase (SPEC section 3)."""
    evaluation = _evaluate(
        engine, _record(), weight_kg=weight_kg, bsa_m2="1.0", daily_dose_mcg=dose
    )
    assert evaluation.criteria["PHASE"].status.value == "unknown"
    assert limit_value(evaluation, "daily-dose") == (Decimal(limit) if limit else None)
    assert evaluation.criteria["DOSE"].status.value == status
