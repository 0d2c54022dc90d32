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
from tests.support.policies import CQL_DIRS, as_written, first_policy_patient, limit_value

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
    assert as_written(overridden.criteria["WEIGHT"].evidence) == ["answer:weight-kg"]


@pytest.mark.parametrize(
    ("answer", "dx"),
    [
        pytest.param("C91.00", "met", id="all-code"),
        pytest.param("C9102", "met", id="all-code-undotted"),
        pytest.param("C91.10", "not-met", id="cll-code"),
        pytest.param("C91.A0", "not-met", id="c91a0"),
        pytest.param("C91.Z0", "not-met", id="c91z0"),
        pytest.param("C83.50", "not-met", id="c8350"),
        pytest.param("C91.0", "unknown", id="c91-0-remission-state-unsaid"),
        pytest.param("C910", "unknown", id="c910-undotted"),
        pytest.param("C91.05", "unknown", id="c91-0x-outside-00-02"),
    ],
)
def test_answered_diagnosis(engine: PolicyEngine, answer: str, dx: str) -> None:
    assert _evaluate(engine, _record(), diagnosis_code=answer).criteria["DX"].status.value == dx


@pytest.mark.parametrize(
    ("weight_kg", "dose", "limit", "status"),
    [
        pytest.param("30", "20", None, "unknown", id="child-above-bsa-limit-maintenance-allows"),
        pytest.param("30", "28.05", "28.0", "not-met", id="child-above-the-28-cap-of-every-phase"),
        pytest.param("70", "30", "28.0", "not-met", id="adult-above-the-28-cap-of-every-phase"),
        pytest.param("70", "28", None, "unknown", id="adult-at-28-infant-phase-could-be-lower"),
    ],
)
def test_the_dose_is_judged_before_the_phase_is_known(
    engine: PolicyEngine, weight_kg: str, dose: str, limit: str | None, status: str
) -> None:
    """Above 28 mcg/day no phase covers the dose: order-sign says so without waiting for the
    phase. Under it the phase decides, for children too: maintenance is 28 mcg/day for every
    weight, the other phases 15 mcg/m2/day under 45 kg (SPEC section 3, December 2026)."""
    evaluation = _evaluate(
        engine, _record(), weight_kg=weight_kg, bsa_m2="1.0", daily_dose_mcg=dose
    )
    assert evaluation.criteria["PHASE"].status.value == "unknown"
    assert limit_value(evaluation, "daily-dose") == (Decimal(limit) if limit else None)
    assert evaluation.criteria["DOSE"].status.value == status


def _with_onset(record_birth: str, **onset: Any) -> PatientRecord:
    """The standard record with its diagnosis' onset written as `onset` (an onset[x] form)."""
    resources = first_policy_patient(record_birth, "2026-01-01")
    condition = {k: v for k, v in resources[1].items() if k != "onsetDateTime"}
    return PatientRecord((r, None) for r in [resources[0], {**condition, **onset}, resources[2]])


def _age(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


@pytest.mark.parametrize(
    ("onset", "months", "infant"),
    [
        pytest.param({"onsetAge": _age(7, "mo")}, 7, True, id="onset-age-7-months"),
        pytest.param({"onsetAge": _age(11.9, "mo")}, 11, True, id="onset-age-11.9-months"),
        pytest.param({"onsetAge": _age(12, "mo")}, 12, False, id="onset-age-12-months"),
        pytest.param({"onsetAge": _age(1, "a")}, 12, False, id="onset-age-1-year"),
        pytest.param({"onsetAge": _age(0.99, "a")}, 11, True, id="onset-age-0.99-years"),
        pytest.param({"onsetAge": _age(52, "wk")}, 11, True, id="onset-age-52-weeks"),
        pytest.param({"onsetAge": _age(366, "d")}, 12, False, id="onset-age-366-days"),
        pytest.param({"onsetAge": _age(365, "d")}, 11, True, id="onset-age-365-days"),
        pytest.param(
            {"onsetRange": {"low": _age(9, "mo"), "high": _age(10, "mo")}},
            9,
            True,
            id="onset-range-low-9-months",
        ),
        pytest.param(
            {"onsetPeriod": {"start": "2026-03-09", "end": "2026-04-01"}},
            11,
            True,
            id="onset-period-start-day-before-first-birthday",
        ),
        pytest.param(
            {"onsetPeriod": {"start": "2026-03-10"}}, 12, False, id="onset-period-start-birthday"
        ),
        pytest.param({"onsetDateTime": "2026-03-09T23:00:00Z"}, 11, True, id="onset-datetime"),
        pytest.param({"onsetString": "in the spring"}, None, None, id="onset-string-dates-nothing"),
    ],
)
def test_every_onset_form_gives_the_age_at_diagnosis(
    engine: PolicyEngine, onset: dict[str, Any], months: int | None, infant: bool | None
) -> None:
    """SPEC section 2, INFANT: Condition.onset[x] in every R4 form (ages in UCUM a, mo, wk, d, in
    whole months; dates against the birth date, 2025-03-10)."""
    evaluation = _evaluate(engine, _with_onset("2025-03-10", **onset))
    assert evaluation.prefill["age-at-diagnosis-months"] == months
    assert evaluation.criteria["INFANT"].value is infant


@pytest.mark.parametrize(
    ("amount", "unit", "dose", "status"),
    [
        pytest.param(28500, "ng/d", "28.5", "not-met", id="ng-per-day-over-28"),
        pytest.param(28000, "ng/d", "28", "met", id="ng-per-day-at-28"),
        pytest.param(1.1875, "ug/h", "28.5", "not-met", id="ug-per-hour-over-28"),
        pytest.param(1.1666, "ug/h", "27.9984", "met", id="ug-per-hour-within"),
        pytest.param(0.0011875, "mg/h", "28.5", "not-met", id="mg-per-hour"),
        pytest.param(19.4, "ng/min", "27.936", "met", id="ng-per-minute"),
        pytest.param(0.0195, "ug/min", "28.08", "not-met", id="ug-per-minute-over-28"),
        pytest.param(0.000019, "mg/min", "27.36", "met", id="mg-per-minute"),
        pytest.param(0.028, "mg/d", "28", "met", id="mg-per-day"),
        pytest.param(28, "mcg/d", "28", "met", id="mcg-spelling"),
    ],
)
def test_every_mass_per_time_is_a_daily_dose(
    engine: PolicyEngine, amount: float, unit: str, dose: str, status: str
) -> None:
    """SPEC section 2, DOSE: any UCUM mass per time converts exactly to mcg/day."""
    quantity = {"value": amount, "unit": unit, "system": UCUM, "code": unit}
    record = PatientRecord(
        (r, None)
        for r in first_policy_patient(
            "1980-01-01", "2026-01-01", [{"doseAndRate": [{"rateQuantity": quantity}]}]
        )
    )
    evaluation = _evaluate(engine, record, phase="consolidation", weight_kg="70", cycle_number=1)
    assert evaluation.prefill["daily-dose-mcg"] == Decimal(dose)
    assert evaluation.criteria["DOSE"].status.value == status


@pytest.mark.parametrize(
    ("rate", "dose"),
    [
        pytest.param({"doseQuantity": _age(28500, "ng/d")}, "28.5", id="dose-quantity-per-day"),
        pytest.param({"rateQuantity": _age(2, "mL/h")}, None, id="ml-per-hour-is-not-a-dose"),
        pytest.param({"doseQuantity": _age(28, "ug")}, None, id="a-mass-alone-is-not-a-rate"),
    ],
)
def test_only_a_mass_per_time_is_a_daily_dose(
    engine: PolicyEngine, rate: dict[str, Any], dose: str | None
) -> None:
    record = PatientRecord(
        (r, None)
        for r in first_policy_patient("1980-01-01", "2026-01-01", [{"doseAndRate": [rate]}])
    )
    assert _evaluate(engine, record).prefill["daily-dose-mcg"] == (Decimal(dose) if dose else None)


@pytest.mark.parametrize(
    ("height_cm", "recorded_height", "bsa", "evidence"),
    [
        pytest.param(None, False, "1", ["Observation/b"], id="recorded-bsa-no-height"),
        pytest.param("150", False, "1", ["Observation/b"], id="answered-height-never-replaces-it"),
        pytest.param(
            None, True, "1.11803399", ["Observation/w", "Observation/h"], id="recorded-height-does"
        ),
    ],  # Mosteller sqrt(150 x 30 / 3600) = 1.1180
)
def test_a_recorded_bsa_against_heights(
    engine: PolicyEngine,
    height_cm: str | None,
    recorded_height: bool,
    bsa: str,
    evidence: list[str],
) -> None:
    """SPEC section 2, BSA: a recorded BSA without a height needs no height, and a height the
    prescriber gives never replaces it; a recorded height computes the BSA (Mosteller)."""
    observations = [
        _observation("w", "29463-7", "2026-11-20", 30, "kg"),
        _observation("b", "8277-6", "2026-11-20", 1.0, "m2"),
    ]
    if recorded_height:
        observations.append(_observation("h", "8302-2", "2026-11-20", 150, "cm"))
    answers = {"height_cm": height_cm} if height_cm else {}
    evaluation = _evaluate(engine, _record(*observations), phase="consolidation", **answers)
    assert abs(Decimal(str(evaluation.criteria["BSA"].value)) - Decimal(bsa)) < Decimal("1e-8")
    assert as_written(evaluation.criteria["BSA"].evidence) == evidence
    assert limit_value(evaluation, "daily-dose") == min(
        Decimal(28), (15 * Decimal(bsa)).quantize(Decimal("0.1"))
    )


@pytest.mark.parametrize(
    ("step", "daily", "value", "evidence", "status"),
    [
        pytest.param("9.5", "28", "9.5", "answer:step-dose-mcg", "not-met", id="step-over"),
        pytest.param("9", "28.5", "28.5", "answer:daily-dose-mcg", "not-met", id="daily-over"),
        pytest.param("9.5", "28.5", "28.5", "answer:daily-dose-mcg", "not-met", id="both-over"),
        pytest.param("9", "28", "28", "answer:daily-dose-mcg", "met", id="both-within"),
    ],
)
def test_the_dose_over_its_limit_is_the_evidence(
    engine: PolicyEngine, step: str, daily: str, value: str, evidence: str, status: str
) -> None:
    """SPEC section 2, DOSE: when the relapsed cycle 1's days 1-7 dose is the one over its limit,
    the criterion names that dose (its limit is the step-dose limit, 9 mcg/day)."""
    evaluation = _evaluate(
        engine,
        _record(),
        phase="relapsed-refractory",
        cycle_number=1,
        weight_kg="70",
        step_dose_mcg=step,
        daily_dose_mcg=daily,
    )
    dose = evaluation.criteria["DOSE"]
    assert (dose.status.value, dose.value) == (status, Decimal(value))
    assert as_written(dose.evidence) == [evidence]
    assert limit_value(evaluation, "step-dose") == Decimal("9.0")


@pytest.mark.parametrize(
    ("weight_kg", "phase", "dose", "limit", "status"),
    [
        pytest.param("30", "maintenance", "28", "28.0", "met", id="child-maintenance-28"),
        pytest.param("30", "maintenance", "28.05", "28.0", "not-met", id="child-maintenance-over"),
        pytest.param("10", "maintenance", "28", "28.0", "met", id="small-child-maintenance-28"),
        pytest.param("70", "maintenance", "28", "28.0", "met", id="adult-maintenance-28"),
        pytest.param("30", "consolidation", "28", "15.0", "not-met", id="child-consolidation"),
    ],
)
def test_maintenance_is_28_for_every_weight(
    engine: PolicyEngine, weight_kg: str, phase: str, dose: str, limit: str, status: str
) -> None:
    """SPEC section 3: the policy gives maintenance no weight rule, and the text wins."""
    evaluation = _evaluate(
        engine, _record(), phase=phase, weight_kg=weight_kg, bsa_m2="1.0", daily_dose_mcg=dose
    )
    assert limit_value(evaluation, "daily-dose") == Decimal(limit)
    assert evaluation.criteria["DOSE"].status.value == status


@pytest.mark.parametrize(
    ("results", "status"),
    [
        pytest.param(
            [("2026-01-10", "LA11882-0"), ("2026-09-10", "LA11883-8")],
            "positive",
            id="positive-then-molecular-response",
        ),
        pytest.param(
            [("2026-01-10", "LA11883-8"), ("2026-09-10", "LA11882-0")],
            "positive",
            id="negative-then-positive",
        ),
        pytest.param(
            [("2026-01-10", "LA11883-8"), ("2026-09-10", "LA11883-8")],
            "negative",
            id="negative-twice",
        ),
        pytest.param([], "unknown", id="no-result"),
    ],
)
def test_ph_status_names_the_disease(
    engine: PolicyEngine, results: list[tuple[str, str]], status: str
) -> None:
    """SPEC section 2, PH: positive when any final result was positive."""
    observations = [
        {
            "resourceType": "Observation",
            "id": f"ph-{n}",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "21821-4"}]},
            "effectiveDateTime": when,
            "valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": answer}]},
        }
        for n, (when, answer) in enumerate(results)
    ]
    assert _evaluate(engine, _record(*observations)).criteria["PH"].value == status


@pytest.mark.parametrize(
    ("codes", "dx", "prefilled"),
    [
        pytest.param(["C91.0"], "unknown", None, id="c91-0-alone-is-unknown"),
        pytest.param(["C91.0", "C92.00"], "unknown", None, id="c91-0-beside-aml-is-still-all"),
        pytest.param(["C92.00"], "not-met", "C92.00", id="aml-alone-is-another-disease"),
    ],
)
def test_all_without_its_fifth_character(
    engine: PolicyEngine, codes: list[str], dx: str, prefilled: str | None
) -> None:
    """SPEC section 2, DX: C91.0 is ALL of unrecorded remission state, never a different disease;
    the form asks for the specific code (no pre-fill)."""
    patient, _, order = first_policy_patient("1980-01-01", "2026-01-01")
    conditions = [
        {
            "resourceType": "Condition",
            "id": f"c{n}",
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": "active",
                    }
                ]
            },
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": code}]},
        }
        for n, code in enumerate(codes)
    ]
    evaluation = _evaluate(engine, PatientRecord((r, None) for r in [patient, *conditions, order]))
    assert evaluation.criteria["DX"].status.value == dx
    given = evaluation.prefill["diagnosis-code"]
    assert (given["code"] if isinstance(given, dict) else given) == prefilled


# SPEC section 2, SITE: where the drug is given, from a ServiceRequest's locationCode.
POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
ROLE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
J9039 = {"system": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "J9039"}


def _infusion(sid: str, *locations: Resource, status: str = "active", code: Any = None) -> Resource:
    return {
        "resourceType": "ServiceRequest",
        "id": sid,
        "status": status,
        "intent": "order",
        "code": code or {"text": "continuous infusion"},
        "locationCode": list(locations),
    }


def _coded(system: str, code: str) -> Resource:
    return {"coding": [{"system": system, "code": code}]}


def _based_on(*infusions: Resource, named: tuple[str, ...] | None = None) -> PatientRecord:
    """first_policy_patient's order `o`, based on the infusions (or on those `named`)."""
    patient, condition, order = first_policy_patient("1980-01-01", "2026-01-01")
    ids = named if named is not None else tuple(i["id"] for i in infusions)
    order = {**order, "basedOn": [{"reference": f"ServiceRequest/{i}"} for i in ids]}
    return PatientRecord((r, None) for r in (patient, condition, order, *infusions))


@pytest.mark.parametrize(
    ("location", "status", "value"),
    [
        pytest.param(_coded(POS, "11"), "met", "office", id="pos-11-office"),
        pytest.param(_coded(POS, "19"), "met", "outpatient-facility", id="pos-19-outpatient"),
        pytest.param(_coded(POS, "22"), "met", "outpatient-facility", id="pos-22-outpatient"),
        pytest.param(_coded(POS, "49"), "met", "outpatient-facility", id="pos-49-clinic"),
        pytest.param(_coded(POS, "12"), "not-met", "home", id="pos-12-home"),
        pytest.param(_coded(POS, "21"), "not-met", "inpatient", id="pos-21-inpatient"),
        pytest.param(_coded(ROLE, "PROFF"), "met", "office", id="v3-providers-office"),
        pytest.param(_coded(ROLE, "OF"), "met", "outpatient-facility", id="v3-outpatient"),
        pytest.param(_coded(ROLE, "PTRES"), "not-met", "home", id="v3-patients-residence"),
        # Not a place SPEC or the policy names: asked, never guessed.
        pytest.param(_coded(POS, "23"), "unknown", None, id="pos-23-emergency-room-asked"),
        pytest.param(_coded("urn:ehr:locations", "11"), "unknown", None, id="local-code-asked"),
        pytest.param({"text": "infusion suite"}, "unknown", None, id="text-only-asked"),
    ],
)
def test_site_from_the_location_code(
    engine: PolicyEngine, location: Resource, status: str, value: str | None
) -> None:
    site = _evaluate(engine, _based_on(_infusion("inf", location))).criteria["SITE"]
    assert (site.status.value, site.value) == (status, value)
    assert as_written(site.evidence) == (["ServiceRequest/inf"] if value else [])


@pytest.mark.parametrize(
    ("record", "status"),
    [
        pytest.param(_record(), "unknown", id="no-service-request-asked"),
        pytest.param(
            _based_on(_infusion("inf", _coded(POS, "12"), status="revoked")),
            "unknown",
            id="revoked-infusion-ignored",
        ),
        pytest.param(
            _based_on(_infusion("inf", _coded(POS, "12")), named=()),
            "unknown",
            id="infusion-of-another-order-ignored",
        ),
        pytest.param(
            _based_on(_infusion("inf", {"text": "home"}, _coded(POS, "22"))),
            "met",
            id="the-coded-location-counts",
        ),
    ],
)
def test_which_service_request_says_where(
    engine: PolicyEngine, record: PatientRecord, status: str
) -> None:
    assert _evaluate(engine, record).criteria["SITE"].status.value == status


def test_a_service_request_order_says_where_itself(engine: PolicyEngine) -> None:
    patient, condition, _ = first_policy_patient("1980-01-01", "2026-01-01")
    order = _infusion("s", _coded(POS, "21"), status="draft", code={"coding": [J9039]})
    record = PatientRecord((r, None) for r in (patient, condition, order))
    evaluation = engine.evaluate(record, "ServiceRequest/s", TODAY, {})
    site = evaluation.criteria["SITE"]
    assert (site.status.value, site.value, as_written(site.evidence)) == (
        "not-met",
        "inpatient",
        ["ServiceRequest/s"],
    )
    assert evaluation.prefill["administration-setting"] == "inpatient"


COMPLETE_CONSOLIDATION = {
    "phase": "consolidation",
    "regimen": "single-agent",
    "cycle_number": 1,
    "first_cycle_date": "2026-11-01",
    "weight_kg": "70",
    "daily_dose_mcg": "28",
    "ph_status": "negative",
}


@pytest.mark.parametrize(
    ("setting", "status", "outcome"),
    [
        pytest.param("office", "met", "criteria-met", id="office"),
        pytest.param("outpatient-facility", "met", "criteria-met", id="outpatient-facility"),
        pytest.param("infusion-center", "met", "criteria-met", id="infusion-center"),
        pytest.param("home", "not-met", "criteria-not-met", id="home-not-met"),
        pytest.param("inpatient", "not-met", "criteria-not-met", id="inpatient-not-met"),
        pytest.param(None, "unknown", "incomplete", id="unanswered-incomplete"),
    ],
)
def test_every_path_requires_the_place_of_service(
    engine: PolicyEngine, setting: str | None, status: str, outcome: str
) -> None:
    evaluation = _evaluate(
        engine, _record(), **COMPLETE_CONSOLIDATION, administration_setting=setting
    )
    assert evaluation.criteria["SITE"].status.value == status
    assert evaluation.outcome.value == outcome


@pytest.mark.parametrize(
    ("recorded", "answered", "status"),
    [
        pytest.param("12", "office", "met", id="home-recorded-office-answered"),
        pytest.param("11", "home", "not-met", id="office-recorded-home-answered"),
    ],
)
def test_the_answered_place_overrides_the_record(
    engine: PolicyEngine, recorded: str, answered: str, status: str
) -> None:
    record = _based_on(_infusion("inf", _coded(POS, recorded)))
    site = _evaluate(engine, record, administration_setting=answered).criteria["SITE"]
    assert (site.status.value, site.value) == (status, answered)
    assert as_written(site.evidence) == ["answer:administration-setting"]
