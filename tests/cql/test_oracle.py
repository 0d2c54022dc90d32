"""The official CQL engine (cql-execution + cql-exec-fhir, run by tools/cql/run-oracle.mjs) and our
bridge agree, define by define, on every fhir_examples scenario, with and without answers, on
records as EHRs send them and on the benchmark's records: the reference the bridge's one compiler
is held to (docs/decisions/0011)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from bench.records import record as bench_record
from service.cql.engine import CqlEngine
from service.cql.library import load_libraries
from service.cql.runtime import EvaluationContext
from service.cql.values import Code, Concept, Quantity
from service.fhir.record import PatientRecord
from service.policy.data import RecordDataSource
from service.policy.engine import PolicyEngine
from service.policy.folder import load_policies
from service.settings import PROJECT_ROOT
from tests.policy.test_scenarios import SCENARIOS
from tests.support.clock import EXAMPLES_DATE
from tests.support.node_tools import run_json
from tests.support.policies import CQL_DIRS, first_policy_patient

LIBRARY = "BlinatumomabPA"
TODAY = EXAMPLES_DATE


def _cases() -> list[dict[str, Any]]:
    found = []
    for folder in SCENARIOS:
        expected = json.loads((folder / "expected.json").read_text())
        order = json.loads((folder / "order.json").read_text())
        for answers in [{}, *(w["answers"] for w in expected["withAnswers"])]:
            found.append(
                {
                    "name": folder.name,
                    "bundle": json.loads((folder / "bundle.json").read_text()),
                    "order": order["id"],
                    "answers": answers,
                }
            )
    return found


CASES = _cases()


@pytest.fixture(scope="module")
def engines() -> tuple[CqlEngine, PolicyEngine]:
    (policy,) = load_policies(PROJECT_ROOT / "policies")
    cql = CqlEngine(CQL_DIRS)
    return cql, PolicyEngine(policy, cql)


def _parameters(engine: PolicyEngine, case: dict[str, Any]) -> dict[str, Any]:
    contract = engine.contract
    given = {contract.answers[k]: v for k, v in case["answers"].items()}
    return {
        contract.order_parameter: case["order"],
        contract.date_parameter: TODAY.isoformat(),
        **given,
    }


@pytest.fixture(scope="module")
def oracle(engines: tuple[CqlEngine, PolicyEngine]) -> list[dict[str, Any]]:
    cql, engine = engines
    defines = cql.defines(LIBRARY)  # every define, not only the ones we read
    payload = [
        {
            "bundle": c["bundle"],
            "library": LIBRARY,
            "parameters": _parameters(engine, c),
            "defines": defines,
        }
        for c in CASES
    ]
    return run_oracle(payload)


def run_oracle(payload: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The official engine over each case (tools/cql/run-oracle.mjs): define -> value."""
    tool = PROJECT_ROOT / "tools" / "cql" / "run-oracle.mjs"
    results: list[dict[str, Any]] = run_json(["node", tool], payload)
    return results


def normalised(value: Any) -> Any:
    """Our values in the oracle's JSON vocabulary (tools/cql/run-oracle.mjs, normaliseValue)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, Decimal, float)):
        return {"decimal": str(value)}
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, Quantity):
        return {"quantity": str(value.value), "unit": value.unit}
    if isinstance(value, Code):
        return {"code": value.code, "system": value.system}
    if isinstance(value, Concept):
        return {"concept": [normalised(c) for c in value.codes]}
    if isinstance(value, list):
        return [normalised(v) for v in value]
    if isinstance(value, dict) and "resourceType" in value:
        return {"resource": f"{value['resourceType']}/{value.get('id')}"}
    if isinstance(value, dict):
        return {"element": json.loads(json.dumps(value, default=float))}
    return str(value)


# CQL System.Decimal keeps 8 digits after the point; the bridge rounds every arithmetic result
# to that scale, while cql-execution leaves Power (Mosteller's square root) unrounded. Values
# within one unit of the 8th place are the same CQL Decimal.
SCALE = Decimal("1e-8")


def agree(ours: Any, theirs: Any) -> bool:
    if (
        isinstance(ours, dict)
        and isinstance(theirs, dict)
        and "decimal" in ours
        and "decimal" in theirs
    ):
        return abs(Decimal(ours["decimal"]) - Decimal(theirs["decimal"])) <= SCALE
    if isinstance(ours, list) and isinstance(theirs, list):
        return len(ours) == len(theirs) and all(
            agree(a, b) for a, b in zip(ours, theirs, strict=True)
        )
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return ours.keys() == theirs.keys() and all(agree(ours[k], theirs[k]) for k in ours)
    if isinstance(ours, float) or isinstance(theirs, float):
        return abs(float(ours) - float(theirs)) <= 1e-9
    return bool(ours == theirs)


def differences(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """The defines on which our values and the official engine's disagree: both values."""
    return {
        name: (normalised(ours[name]), value)
        for name, value in theirs.items()
        if not agree(normalised(ours[name]), value)
    }


@pytest.mark.parametrize(
    "index",
    range(len(CASES)),
    ids=[f"{c['name']}/{'answers' if c['answers'] else 'record'}" for c in CASES],
)
def test_bridge_agrees_with_the_official_engine(
    engines: tuple[CqlEngine, PolicyEngine], oracle: list[dict[str, Any]], index: int
) -> None:
    cql, engine = engines
    case = CASES[index]
    record = PatientRecord((e["resource"], e.get("fullUrl")) for e in case["bundle"]["entry"])
    parameters = {k: v for k, v in _parameters(engine, case).items()}
    parameters[engine.contract.date_parameter] = TODAY
    for link_id, name in engine.contract.answers.items():
        if link_id in case["answers"]:
            from service.policy.engine import _coerce

            parameters[name] = _coerce(case["answers"][link_id], cql.parameters(LIBRARY)[name])
    context = EvaluationContext(
        RecordDataSource(record, engine.policy.terminology),
        engine.policy.terminology,
        parameters,
        TODAY,
    )
    ours = cql.evaluate(LIBRARY, list(oracle[index]), context)
    assert differences(ours, oracle[index]) == {}


@pytest.mark.parametrize("folder", SCENARIOS, ids=[f.name for f in SCENARIOS])
def test_a_client_that_sets_no_parameters_prefills_what_the_service_does(
    engines: tuple[CqlEngine, PolicyEngine], folder: Any
) -> None:
    """A DTR client knows none of the library's parameters (a generic one sets none; the public
    reference app sets none of ours): the day defaults to today, the order is the record's newest
    draft or active blinatumomab order, every answer is null. The official engine, so left
    alone, pre-fills what the service pre-fills with the order named; so does our bridge."""
    cql, engine = engines
    order = json.loads((folder / "order.json").read_text())
    bundle = json.loads((folder / "bundle.json").read_text())
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"].get("id") != order["id"]]
    bundle["entry"].append({"resource": order})
    names = ["Order Reference", *engine.contract.prefill.values()]
    payload = [
        {
            "bundle": bundle,
            "library": LIBRARY,
            "parameters": {},
            "defines": names,
            "today": TODAY.isoformat(),
        }
    ]
    (theirs,) = run_oracle(payload)
    record = PatientRecord([(e["resource"], None) for e in bundle["entry"]])
    (policy,) = load_policies(PROJECT_ROOT / "policies")
    left_alone = EvaluationContext(
        data=RecordDataSource(record, policy.terminology),
        terminology=policy.terminology,
        parameters={},
        today=TODAY,
    )
    ours = cql.evaluate(LIBRARY, names, left_alone)
    named = cql.evaluate(
        LIBRARY,
        names,
        EvaluationContext(
            data=RecordDataSource(record, policy.terminology),
            terminology=policy.terminology,
            parameters={"Order Id": order["id"], "Evaluation Date": TODAY},
            today=TODAY,
        ),
    )
    assert theirs["Order Reference"] == f"MedicationRequest/{order['id']}"
    for name in names:
        assert agree(normalised(ours[name]), theirs[name]), name
        assert agree(normalised(named[name]), theirs[name]), name
    declared = load_libraries(CQL_DIRS)[LIBRARY].parameters
    assert declared["Evaluation Date"]["default"]["type"] == "Today"


def _rate(value: float, unit: str) -> list[dict[str, Any]]:
    quantity = {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
    return [{"doseAndRate": [{"rateQuantity": quantity}]}]


def _onset_record(**onset: Any) -> list[dict[str, Any]]:
    patient, condition, order = first_policy_patient("2025-03-10", "2026-01-01", _rate(28, "ug/d"))
    condition = {k: v for k, v in condition.items() if k != "onsetDateTime"}
    return [patient, {**condition, **onset}, order]


def _age(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}


POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
ROLE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"


def _site_record(*locations: dict[str, Any], status: str = "active") -> list[dict[str, Any]]:
    """The order `o` based on an infusion ServiceRequest with these locationCodes."""
    patient, condition, order = first_policy_patient("1980-01-01", "2026-01-01", _rate(28, "ug/d"))
    infusion = {
        "resourceType": "ServiceRequest",
        "id": "inf",
        "status": status,
        "intent": "order",
        "code": {"text": "continuous infusion"},
        "locationCode": list(locations),
    }
    based_on = {**order, "basedOn": [{"reference": "ServiceRequest/inf"}]}
    return [patient, condition, based_on, infusion]


def _located(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _service_request_order() -> list[dict[str, Any]]:
    """The order is itself a J9039 ServiceRequest, `o`, coded with its place of service."""
    patient, condition, _ = first_policy_patient("1980-01-01", "2026-01-01")
    hcpcs = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
    order = {
        "resourceType": "ServiceRequest",
        "id": "o",
        "status": "draft",
        "intent": "order",
        "code": {"coding": [{"system": hcpcs, "code": "J9039"}]},
        "locationCode": [_located(POS, "49")],
    }
    return [patient, condition, order]


# Records as real EHRs send them, beyond the scenarios: every onset[x] form, a dose in every
# UCUM mass per time and every place of service (SPEC section 2, INFANT, DOSE and SITE). Both
# engines read each the same way.
BOUNDARY_RECORDS: dict[str, list[dict[str, Any]]] = {
    **{
        f"onset-{name}": _onset_record(**onset)
        for name, onset in {
            "age-mo": {"onsetAge": _age(7, "mo")},
            "age-a": {"onsetAge": _age(0.99, "a")},
            "age-wk": {"onsetAge": _age(52, "wk")},
            "age-d": {"onsetAge": _age(366, "d")},
            "range": {"onsetRange": {"low": _age(9, "mo"), "high": _age(10, "mo")}},
            "period": {"onsetPeriod": {"start": "2026-03-09"}},
            "string": {"onsetString": "in the spring"},
        }.items()
    },
    **{
        f"dose-{value}-{unit}": first_policy_patient("1980-01-01", "2026-01-01", _rate(value, unit))
        for value, unit in [
            (28500, "ng/d"),
            (1187.5, "ng/h"),
            (19.4, "ng/min"),
            (1.1875, "ug/h"),
            (0.0195, "ug/min"),
            (0.0285, "mg/d"),
            (0.0011875, "mg/h"),
            (0.000019, "mg/min"),
            (2, "mL/h"),
        ]
    },
    **{
        f"site-{name}": _site_record(*locations)
        for name, locations in {
            "pos-11": [_located(POS, "11")],
            "pos-19": [_located(POS, "19")],
            "pos-22": [_located(POS, "22")],
            "pos-49": [_located(POS, "49")],
            "pos-12": [_located(POS, "12")],
            "pos-21": [_located(POS, "21")],
            "v3-proff": [_located(ROLE, "PROFF")],
            "v3-of": [_located(ROLE, "OF")],
            "v3-ptres": [_located(ROLE, "PTRES")],
            "pos-23": [_located(POS, "23")],
            "text-only": [{"text": "infusion suite"}],
            "text-then-coded": [{"text": "home"}, _located(POS, "22")],
        }.items()
    },
    "site-revoked": _site_record(_located(POS, "12"), status="revoked"),
    "site-service-request-order": _service_request_order(),
}


# What each boundary record must give (so agreeing on nothing cannot pass): the define it is about.
READ_BY = {
    "onset": "PrefillAgeAtDiagnosisMonths",
    "dose": "PrefillDailyDoseMcg",
    "site": "PrefillAdministrationSetting",
}
UNREADABLE = {"onset-string", "dose-2-mL/h", "site-pos-23", "site-text-only", "site-revoked"}
BOUNDARY_PARAMETERS = {"Order Id": "o", "Answer Phase": "consolidation"}


@pytest.fixture(scope="module")
def boundary_oracle(engines: tuple[CqlEngine, PolicyEngine]) -> dict[str, dict[str, Any]]:
    cql, _ = engines
    payload = [
        {
            "bundle": {"resourceType": "Bundle", "entry": [{"resource": r} for r in resources]},
            "library": LIBRARY,
            "parameters": {**BOUNDARY_PARAMETERS, "Evaluation Date": TODAY.isoformat()},
            "defines": cql.defines(LIBRARY),
        }
        for resources in BOUNDARY_RECORDS.values()
    ]
    return dict(zip(BOUNDARY_RECORDS, run_oracle(payload), strict=True))


@pytest.mark.parametrize("name", list(BOUNDARY_RECORDS))
def test_the_official_engine_reads_every_form_the_same_way(
    engines: tuple[CqlEngine, PolicyEngine], boundary_oracle: dict[str, dict[str, Any]], name: str
) -> None:
    cql, engine = engines
    theirs = boundary_oracle[name]
    record = PatientRecord((r, None) for r in BOUNDARY_RECORDS[name])
    context = EvaluationContext(
        RecordDataSource(record, engine.policy.terminology),
        engine.policy.terminology,
        {**BOUNDARY_PARAMETERS, "Evaluation Date": TODAY},
        TODAY,
    )
    ours = cql.evaluate(LIBRARY, list(theirs), context)
    assert differences(ours, theirs) == {}
    read = ours[READ_BY[name.split("-")[0]]]
    assert (read is None) is (name in UNREADABLE), read


BENCH_SIZES = (20, 120, 1000)


def _bench_case(size: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The benchmark's record of `size` resources and the parameters naming its order."""
    resources = bench_record(size, TODAY)
    order = next(r for r in resources if r["resourceType"] == "MedicationRequest")
    return resources, {"Order Id": order["id"], "Evaluation Date": TODAY}


@pytest.fixture(scope="module")
def bench_oracle(engines: tuple[CqlEngine, PolicyEngine]) -> list[dict[str, Any]]:
    cql, _ = engines
    payload = []
    for size in BENCH_SIZES:
        resources, parameters = _bench_case(size)
        payload.append(
            {
                "bundle": {"resourceType": "Bundle", "entry": [{"resource": r} for r in resources]},
                "library": LIBRARY,
                "parameters": {**parameters, "Evaluation Date": TODAY.isoformat()},
                "defines": cql.defines(LIBRARY),
            }
        )
    return run_oracle(payload)


@pytest.mark.parametrize("index", range(len(BENCH_SIZES)), ids=[f"bench-{n}" for n in BENCH_SIZES])
def test_the_official_engine_agrees_on_the_benchmark_records(
    engines: tuple[CqlEngine, PolicyEngine], bench_oracle: list[dict[str, Any]], index: int
) -> None:
    """Long histories: many observations to sort and window, many orders and conditions."""
    cql, engine = engines
    resources, parameters = _bench_case(BENCH_SIZES[index])
    context = EvaluationContext(
        RecordDataSource(PatientRecord((r, None) for r in resources), engine.policy.terminology),
        engine.policy.terminology,
        parameters,
        TODAY,
    )
    theirs = bench_oracle[index]
    ours = cql.evaluate(LIBRARY, list(theirs), context)
    assert len(theirs) > 50
    assert differences(ours, theirs) == {}
