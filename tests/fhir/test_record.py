from __future__ import annotations

import pytest

from service.fhir.record import PatientRecord
from tests.support.resources import NDC, RXNORM, blinatumomab_order, concept, coverage, patient

MEDICATION = {"resourceType": "Medication", "id": "med1", "code": concept(NDC, "55513-0160-01")}


def _record() -> PatientRecord:
    order = blinatumomab_order(
        contained=[{"resourceType": "Medication", "id": "inline", "code": concept(RXNORM, "1")}]
    )
    return PatientRecord(
        [
            (patient(), "urn:uuid:6d1e"),
            (coverage(), "https://ehr.example.org/fhir/Coverage/cov1"),
            (MEDICATION, None),
            (order, None),
            (dict(patient(), gender="male"), None),  # same Patient again through another key
        ]
    )


def test_indexes_by_type_and_id_once() -> None:
    record = _record()
    assert [r["id"] for r in record.of_type("Patient")] == ["pat1"]
    assert record.get("Patient", "pat1")["gender"] == "female"
    assert record.of_type("Observation") == ()
    assert len(record) == 4


def test_code_index_uses_normalised_spellings() -> None:
    record = _record()
    assert record.with_code(NDC, "55513-160-01") == [MEDICATION]
    assert record.with_code(NDC, "55513016001", "Medication") == [MEDICATION]
    assert record.with_code(NDC, "55513016001", "Observation") == []
    assert record.with_code(RXNORM, "1597262")[0]["id"] == "mr1"


@pytest.mark.parametrize(
    ("reference", "expected_id"),
    [
        pytest.param("Patient/pat1", "pat1", id="type-id"),
        pytest.param({"reference": "Medication/med1"}, "med1", id="reference-object"),
        pytest.param("urn:uuid:6d1e", "pat1", id="bundle-fullurl"),
        pytest.param("https://ehr.example.org/fhir/Coverage/cov1", "cov1", id="absolute-fullurl"),
        pytest.param(
            "https://other.example.org/fhir/Medication/med1", "med1", id="absolute-type-id"
        ),
        pytest.param("Medication/med1/_history/3", "med1", id="versioned"),
        pytest.param("#inline", "inline", id="contained"),
        pytest.param("Patient/nobody", None, id="absent"),
        pytest.param("#nothing", None, id="absent-contained"),
        pytest.param("", None, id="empty"),
        pytest.param({"display": "no reference"}, None, id="display-only"),
    ],
)
def test_resolve(reference: object, expected_id: str | None) -> None:
    record = _record()
    order = record.get("MedicationRequest", "mr1")
    resolved = record.resolve(reference, within=order)
    assert (resolved or {}).get("id") == expected_id


def test_ignores_entries_without_resource_type() -> None:
    record = PatientRecord([({"id": "x"}, None), ({"resourceType": 3}, None)])
    assert len(record) == 0


@pytest.mark.parametrize("coding", [1, 2.5, "C91.0", True, {"system": NDC, "code": "x"}])
def test_a_coding_that_is_not_an_array_gives_no_codes(coding: object) -> None:
    """Invalid FHIR the EHR may still send: indexed without codes, never an error (a float here
    was a 500 on order-sign)."""
    order = {
        "resourceType": "MedicationRequest",
        "id": "m",
        "medicationCodeableConcept": {"coding": coding},
    }
    record = PatientRecord([(order, None)])
    assert record.get("MedicationRequest", "m") is order
    assert record.codes(order) == frozenset()
