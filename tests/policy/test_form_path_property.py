"""One decision per patient, whichever path it takes (SPEC section 3): values drawn near every
numeric boundary (weight around 45 kg in kg, g and lb; height in cm and inches, or none beside a
recorded BSA; BSA around each rounded limit; the ordered dose around its limit, in every UCUM mass
per time: ng, ug and mg per d, h and min; age at diagnosis around 12 months; the place of
service coded on the infusion the order is based on, or answered, or neither) are decided
on the record, then pre-filled into the form exactly as `$questionnaire-package` writes it,
submitted untouched with the prescriber's other answers, and decided again on the answers alone,
as `$evaluate` does. The two decisions must be the same: criteria, dose limits and outcome."""

from __future__ import annotations

import functools
import json
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.cql.engine import CqlEngine
from service.dtr.content import ContentStore, load_content
from service.dtr.prefill import ResponseContext, prefilled_response
from service.dtr.responses import answers_of
from service.fhir.record import PatientRecord
from service.policy.engine import PolicyEngine
from service.policy.evaluation import Evaluation
from service.policy.folder import Policy, load_policies
from service.settings import PROJECT_ROOT
from service.types import Resource
from tests.support.clock import EXAMPLES_DATE, EXAMPLES_NOON
from tests.support.policies import CQL_DIRS, first_policy_patient, limit_value

TODAY = EXAMPLES_DATE
UCUM = "http://unitsofmeasure.org"
LB_PER_KG = Decimal("2.20462262185")  # UCUM [lb_av] is 0.45359237 kg


@functools.cache
def world() -> tuple[Policy, PolicyEngine, ContentStore, Resource]:
    """Built once (not a fixture: Hypothesis would print it with every falsifying example)."""
    (policy,) = load_policies(PROJECT_ROOT / "policies")
    cql = CqlEngine(CQL_DIRS)
    content = load_content([policy], PROJECT_ROOT / "cql", policy.canonical_base)
    questionnaire = content.by_url("Questionnaire", policy.questionnaire)
    assert questionnaire is not None
    return policy, PolicyEngine(policy, cql), content, questionnaire


def _quantity(oid: str, loinc: str, value: Decimal, unit: str) -> Resource:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "effectiveDateTime": "2026-11-20",
        "valueQuantity": {"value": float(value), "unit": unit, "system": UCUM, "code": unit},
    }


def _record(case: dict[str, Any]) -> PatientRecord:
    birth = date(2026, 3, 1) - timedelta(days=int(case["age_days_at_onset"]))
    amount, unit = case["dose_and_unit"]
    quantity = {"value": float(amount), "unit": unit, "system": UCUM, "code": unit}
    dosages = [{"doseAndRate": [{"rateQuantity": quantity}]}]
    resources: list[Resource] = [
        *first_policy_patient(birth.isoformat(), "2026-03-01", dosages),
        _quantity("w", "29463-7", case["weight"], case["weight_unit"]),
    ]
    if case["height"] is not None:
        resources.append(_quantity("h", "8302-2", case["height"], case["height_unit"]))
    if case["recorded_bsa"] is not None:
        resources.append(_quantity("b", "8277-6", case["recorded_bsa"], "m2"))
    if case["location"] is not None:
        system, code = case["location"]
        order = resources[2]
        order["basedOn"] = [{"reference": "ServiceRequest/inf"}]
        resources.append(
            {
                "resourceType": "ServiceRequest",
                "id": "inf",
                "status": "active",
                "intent": "order",
                "code": {"text": "continuous infusion"},
                "locationCode": [{"coding": [{"system": system, "code": code}]}],
            }
        )
    return PatientRecord((r, None) for r in resources)


def _decision(evaluation: Evaluation) -> dict[str, Any]:
    return {
        "criteria": {
            c: (r.status, r.value)
            for c, r in evaluation.criteria.items()
            if c not in ("WEIGHT", "BSA")
        },
        "weight_is_adult": None
        if evaluation.criteria["WEIGHT"].value is None
        else Decimal(str(evaluation.criteria["WEIGHT"].value)) >= 45,
        "dose_limit": limit_value(evaluation, "daily-dose"),
        "step_limit": limit_value(evaluation, "step-dose"),
        "paths": {p: r.status for p, r in evaluation.paths.items()},
        "outcome": evaluation.outcome,
    }


def _weights() -> st.SearchStrategy[tuple[Decimal, str]]:
    """Weights within 0.05 kg of 45, as the EHR may record them: kg, g or lb."""
    near = st.decimals(Decimal("44.95"), Decimal("45.05"), places=4)
    anywhere = st.decimals(Decimal("8"), Decimal("90"), places=3)
    kilograms = st.one_of(near, anywhere)
    return st.one_of(
        kilograms.map(lambda kg: (kg, "kg")),
        kilograms.map(lambda kg: (kg * 1000, "g")),
        kilograms.map(lambda kg: ((kg * LB_PER_KG).quantize(Decimal("0.1")), "[lb_av]")),
    )


def _heights() -> st.SearchStrategy[tuple[Decimal | None, str]]:
    centimetres = st.decimals(Decimal("60"), Decimal("200"), places=1)
    return st.one_of(
        st.just((None, "cm")),
        centimetres.map(lambda cm: (cm, "cm")),
        centimetres.map(lambda cm: ((cm / Decimal("2.54")).quantize(Decimal("0.1")), "[in_i]")),
    )


# Every UCUM mass per time an EHR may write a rate in (SPEC section 2, DOSE): per day, hour and
# minute, in ng, ug and mg; the factor from mcg/day to the unit.
MASS_PER_TIME = {
    f"{mass}/{time}": Decimal(per_mcg) / Decimal(per_day)
    for mass, per_mcg in (("ng", 1000), ("ug", 1), ("mg", "0.001"))
    for time, per_day in (("d", 1), ("h", 24), ("min", 1440))
}


def _doses() -> st.SearchStrategy[tuple[Decimal, str]]:
    """Doses in mcg/day around the limits, written in any mass per time (as the EHR may send
    them, to 12 significant digits: a rate in ug/h is rarely a whole number)."""
    mcg_per_day = st.one_of(
        st.decimals(Decimal("3"), Decimal("30"), places=1),
        st.sampled_from([Decimal(v) for v in ("13.2", "13.3", "13.4", "20.5", "20.6", "28")]),
    )
    return st.tuples(mcg_per_day, st.sampled_from(sorted(MASS_PER_TIME))).map(
        lambda d: (_written(d[0] * MASS_PER_TIME[d[1]]), d[1])
    )


def _written(amount: Decimal) -> Decimal:
    return Decimal(f"{amount:.12g}")


POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
ROLE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
# Where the drug is given (SPEC section 2, SITE): every location code the policy's places of
# service and SPEC name, one it does not (23, an emergency room: asked), and the five answers.
LOCATIONS = [
    *((POS, code) for code in ("11", "19", "22", "49", "12", "21", "23")),
    *((ROLE, code) for code in ("PROFF", "OF", "PTRES")),
]
SETTINGS = ["office", "outpatient-facility", "infusion-center", "home", "inpatient"]

CASES = st.fixed_dictionaries(
    {
        "weight_and_unit": _weights(),
        "height_and_unit": _heights(),
        # Around the rounded limits: 15 x BSA crosses x.x5 near BSA 0.8833, 0.8867, 1.003 ...
        "recorded_bsa": st.one_of(
            st.none(), st.decimals(Decimal("0.30"), Decimal("2.5"), places=4)
        ),
        "dose_and_unit": _doses(),
        # Around the first birthday at diagnosis (onset 2026-03-01): 330 to 400 days old.
        "age_days_at_onset": st.one_of(st.integers(330, 400), st.integers(3000, 20000)),
        "phase": st.sampled_from(["consolidation", "maintenance", "relapsed-refractory", "infant"]),
        "regimen": st.sampled_from(["single-agent", "interfant"]),
        "cycle": st.integers(1, 3),
        "location": st.one_of(st.none(), st.sampled_from(LOCATIONS)),
        "setting": st.one_of(st.none(), st.sampled_from(SETTINGS)),
    }
)


def test_the_form_path_decides_like_the_record() -> None:
    drawn: Counter[str] = Counter()

    @settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(case=CASES)
    def decides_alike(case: dict[str, Any]) -> None:
        drawn[case["dose_and_unit"][1]] += 1
        if case["recorded_bsa"] is not None:
            with_height = case["height_and_unit"][0] is not None
            drawn["recorded BSA with a height" if with_height else "recorded BSA"] += 1
        drawn[f"location {case['location']}"] += 1
        drawn[f"setting {case['setting']}"] += 1
        drawn[f"SITE {_decide_both_ways(case)}"] += 1

    decides_alike()
    # What the draws must have covered (a strategy narrowed by mistake fails here, not silently).
    assert {unit for unit in MASS_PER_TIME if drawn[unit]} == set(MASS_PER_TIME), drawn
    assert drawn["recorded BSA"] and drawn["recorded BSA with a height"], drawn
    assert all(drawn[f"location {location}"] for location in [None, *LOCATIONS]), drawn
    assert all(drawn[f"setting {setting}"] for setting in [None, *SETTINGS]), drawn
    assert all(drawn[f"SITE {status}"] for status in ("met", "not-met", "unknown")), drawn


def _decide_both_ways(case: dict[str, Any]) -> str:
    """The SITE status both paths decided (the draws must reach every one)."""
    _, engine, content, questionnaire = world()
    case = {
        **case,
        "weight": case["weight_and_unit"][0],
        "weight_unit": case["weight_and_unit"][1],
        "height": case["height_and_unit"][0],
        "height_unit": case["height_and_unit"][1],
    }
    # What the prescriber answers on both paths (the record cannot say it).
    told = {
        "phase": case["phase"],
        "regimen": case["regimen"],
        "cycle-number": case["cycle"],
        "b-precursor": True,
        "ph-status": "negative",
        "first-cycle-date": "2026-11-01",
    }
    if case["setting"] is not None:
        told["administration-setting"] = case["setting"]
    on_record = engine.evaluate(_record(case), "MedicationRequest/o", TODAY, told)
    assert on_record.prefill["daily-dose-mcg"] is not None, case["dose_and_unit"]  # every unit read
    form = prefilled_response(
        questionnaire, on_record.prefill, content, ResponseContext("Patient/p"), EXAMPLES_NOON
    )
    # Through JSON, as the package travels to the DTR client and the response comes back.
    returned = json.loads(json.dumps(form))
    answers = {**answers_of(returned, questionnaire), **told}
    on_form = engine.evaluate(PatientRecord([]), "MedicationRequest/o", TODAY, answers)
    assert _decision(on_form) == _decision(on_record), (case, on_record.prefill)
    return on_record.criteria["SITE"].status.value
