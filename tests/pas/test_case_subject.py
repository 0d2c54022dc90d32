"""Who and what a case is about (service/pas/case_subject.py), read from the request as sent:
ages counted to the day given, never the calendar; the member id where the Coverage or the
Patient carries it; the prescriber by name where the request resolves the reference."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from service.pas.case_subject import age_text, case_subject

TODAY = date(2026, 11, 24)
MB = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MB"}]}


@pytest.mark.parametrize(
    ("born", "age"),
    [
        pytest.param("2014-05-01", "12 years", id="child"),
        pytest.param("2014-11-25", "11 years", id="the-day-before-a-birthday"),
        pytest.param("2014-11-24", "12 years", id="on-a-birthday"),
        pytest.param("2026-01-24", "10 months", id="infant-in-months"),
        pytest.param("2024-11-25", "23 months", id="under-two-in-months"),
        pytest.param("2024-11-24", "2 years", id="two-in-years"),
        pytest.param("2026-11-24", "0 months", id="newborn"),
        pytest.param("1980", "46 years", id="year-only"),
        pytest.param("2027-01-01", "", id="born-after-today"),
        pytest.param("", "", id="not-given"),
        pytest.param("unknown", "", id="unreadable"),
    ],
)
def test_an_age_is_counted_to_the_day_given(born: str, age: str) -> None:
    assert age_text(born, TODAY) == age


def _bundle(*resources: dict[str, Any], claim: dict[str, Any] | None = None) -> dict[str, Any]:
    claim = claim or {
        "resourceType": "Claim",
        "id": "c",
        "patient": {"reference": "Patient/p"},
        "provider": {"reference": "Organization/clinic"},
        "insurance": [{"focal": True, "coverage": {"reference": "Coverage/cov"}}],
        "item": [
            {
                "extension": [
                    {
                        "url": "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
                        "extension-requestedService",
                        "valueReference": {"reference": "MedicationRequest/o"},
                    }
                ]
            }
        ],
    }
    return {"entry": [{"resource": r} for r in (claim, *resources)]}


PATIENT = {
    "resourceType": "Patient",
    "id": "p",
    "birthDate": "2014-05-01",
    "name": [{"given": ["Alex"], "family": "Example"}],
}
CLINIC = {"resourceType": "Organization", "id": "clinic", "name": "Example Clinic"}
ORDER = {
    "resourceType": "MedicationRequest",
    "id": "o",
    "medicationCodeableConcept": {"text": "Drug X 10 mg"},
    "requester": {"reference": "Practitioner/dr"},
}
DOCTOR = {"resourceType": "Practitioner", "id": "dr", "name": [{"text": "Dr. R. Roe"}]}


@pytest.mark.parametrize(
    ("coverage", "patient_identifiers", "member_id"),
    [
        pytest.param({"identifier": [{"type": MB, "value": "M1"}]}, [], "M1", id="coverage-mb"),
        pytest.param({"subscriberId": "S1"}, [], "S1", id="subscriber-id"),
        pytest.param({}, [{"type": MB, "value": "P1"}], "P1", id="patient-mb"),
        pytest.param({"identifier": [{"value": "X"}]}, [], "", id="untyped-not-taken"),
    ],
)
def test_the_member_id_is_the_coverages_else_the_patients(
    coverage: dict[str, Any], patient_identifiers: list[dict[str, Any]], member_id: str
) -> None:
    patient = PATIENT | {"identifier": patient_identifiers}
    bundle = _bundle(patient, CLINIC, ORDER, {"resourceType": "Coverage", "id": "cov", **coverage})
    assert case_subject(bundle, None, TODAY).member_id == member_id


def test_the_request_names_patient_prescriber_and_drug() -> None:
    subject = case_subject(_bundle(PATIENT, CLINIC, ORDER, DOCTOR), None, TODAY)
    assert (subject.patient, subject.born) == ("Alex Example", "2014-05-01")
    assert subject.age == "12 years"
    assert subject.prescriber == "Dr. R. Roe · Example Clinic"
    assert subject.drug == "Drug X 10 mg"


def test_a_prescriber_the_request_does_not_carry_is_not_shown_as_a_bare_reference() -> None:
    order = ORDER | {"requester": {"reference": "Practitioner/elsewhere"}}
    subject = case_subject(_bundle(PATIENT, CLINIC, order), None, TODAY)
    assert subject.prescriber == "Example Clinic"
    # A Claim naming neither a provider nor a requested service.
    nobody = case_subject(_bundle(PATIENT, order, claim={"resourceType": "Claim"}), None, TODAY)
    assert (nobody.prescriber, nobody.drug) == ("not named", "not named")
