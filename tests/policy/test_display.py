"""The one display of an evaluation's values (service/policy/display.py): the policy's words for
each kind of value, typed FHIR values beside them, and full precision kept for decisions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from service.policy import display
from tests.support.policies import the_policy

POLICY = the_policy()
CS = "https://payer.example.org/fhir/CodeSystem/blinatumomab-pa"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"


@pytest.mark.parametrize(
    ("criterion", "status", "value", "text"),
    [
        pytest.param("INFANT", "met", False, "Infant ALL (under 1 year at diagnosis): No", id="no"),
        pytest.param(
            "INFANT", "met", True, "Infant ALL (under 1 year at diagnosis): Yes", id="yes"
        ),
        pytest.param(
            "INFANT",
            "unknown",
            None,
            "Infant ALL (under 1 year at diagnosis): not known yet",
            id="unknown-yes-no",
        ),
        pytest.param(
            "LINEAGE",
            "met",
            "b-precursor",
            "B-cell precursor lineage: met (B-cell precursor (CD19-positive))",
            id="lineage",
        ),
        pytest.param(
            "PH",
            "met",
            "negative",
            "Philadelphia chromosome status: met (Philadelphia chromosome negative (Ph-))",
            id="ph-negative",
        ),
        pytest.param(
            "PH",
            "unknown",
            "unknown",
            "Philadelphia chromosome status: not known yet",
            id="ph-unknown-says-nothing-more",
        ),
        pytest.param(
            "PH",
            "not-met",
            "unknown",
            "Philadelphia chromosome status: not met (Ph status not known)",
            id="ph-answered-unknown",
        ),
        pytest.param(
            "REGIMEN",
            "unknown",
            "inotuzumab-mini-hypercvd",
            "Regimen: not known yet (the record suggests: With inotuzumab ozogamicin and "
            "mini-hyper-CVD)",
            id="suggested-regimen",
        ),
        pytest.param(
            "BSA",
            "met",
            Decimal("1.0412345678"),
            "Body surface area (m2): met (1.04 m²)",
            id="bsa-two-places",
        ),
        pytest.param("WEIGHT", "met", Decimal("72"), "Body weight (kg): met (72 kg)", id="kg"),
        pytest.param(
            "WEIGHT",
            "met",
            Decimal("44.99631"),
            "Body weight (kg): met (44.996 kg)",
            id="under-45-kg-never-reads-45",
        ),
        pytest.param(
            "DOSE",
            "not-met",
            Decimal("15.6"),
            "Ordered dose within the covered dose (mcg/day): not met (15.6 mcg/day)",
            id="dose",
        ),
        pytest.param(
            "DX",
            "met",
            "C91.01",
            "Diagnosis is acute lymphoblastic leukemia: met (Acute lymphoblastic leukemia, "
            "in remission)",
            id="icd-10-cm-display",
        ),
        pytest.param(
            "DX",
            "not-met",
            "C92.00",
            "Diagnosis is acute lymphoblastic leukemia: not met (C92.00)",
            id="a-code-without-a-display-is-the-code",
        ),
        pytest.param(
            "CYCLES", "met", 2, "Cycle within the covered number and period: met (2)", id="count"
        ),
    ],
)
def test_criterion_text(criterion: str, status: str, value: Any, text: str) -> None:
    assert display.criterion_text(POLICY, criterion, status, value) == text


@pytest.mark.parametrize(
    ("criterion", "value", "typed"),
    [
        pytest.param("INFANT", False, {"valueBoolean": False}, id="boolean"),
        pytest.param(
            "PHASE",
            "maintenance",
            {"valueCoding": {"system": CS, "code": "maintenance", "display": "Maintenance"}},
            id="coding",
        ),
        pytest.param(
            "DX",
            {"system": ICD, "code": "C92.00"},
            {"valueCoding": {"system": ICD, "code": "C92.00"}},
            id="coding-without-display",
        ),
        pytest.param(
            "BSA",
            Decimal("1.0412345678"),
            {
                "valueQuantity": {
                    "value": 1.0412345678,
                    "unit": "m²",
                    "system": display.UCUM,
                    "code": "m2",
                }
            },
            id="quantity-at-full-precision",
        ),
        pytest.param("CYCLES", 3, {"valueInteger": 3}, id="integer"),
    ],
)
def test_typed_value(criterion: str, value: Any, typed: dict[str, Any]) -> None:
    assert display.typed_value(POLICY, criterion, value) == typed


def test_stored_json_values_read_the_same() -> None:
    """The workbench reads the stored evaluation: decimals as strings (exact)."""
    assert display.value_display(POLICY, "BSA", "1.0412345678") == "1.04 m²"
    assert display.value_display(POLICY, "DOSE", "15.6") == "15.6 mcg/day"


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        pytest.param({"valueBoolean": True}, "Yes", id="boolean"),
        pytest.param(
            {"valueCoding": {"system": CS, "code": "with-tki"}},
            "With a tyrosine kinase inhibitor",
            id="coding-without-its-display",
        ),
        pytest.param(
            {"valueCoding": {"code": "x", "display": "As sent"}},
            "As sent",
            id="coding-with-display",
        ),
        pytest.param({"valueDecimal": 1.0412345678}, "1.041235", id="decimal"),
        pytest.param({"valueDate": "2026-11-01"}, "2026-11-01", id="date"),
    ],
)
def test_answer_display(answer: dict[str, Any], words: str) -> None:
    assert display.answer_display(POLICY, answer) == words


def test_status_words_are_the_policys() -> None:
    assert [display.status_words(POLICY, s) for s in ("met", "not-met", "unknown")] == [
        "met",
        "not met",
        "not known yet",
    ]
