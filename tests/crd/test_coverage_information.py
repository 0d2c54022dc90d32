from __future__ import annotations

import uuid
from datetime import date

import pytest

from service.crd.coverage_information import (
    EXTENSION_URL,
    CoverageInformation,
    InvariantViolation,
    annotated_order,
    extension,
    new_assertion_id,
)
from service.crd.versions import CRD_2_0, CRD_2_2
from tests.support.resources import blinatumomab_order

ON = date(2026, 11, 24)


def _info(**changes: object) -> CoverageInformation:
    base: dict[str, object] = dict(
        coverage_reference="Coverage/cov1",
        covered="covered",
        assertion_id="a1",
        on=ON,
        pa_needed="auth-needed",
        doc_needed=("clinical",),
        doc_purpose=("withpa",),
        reason_text="All requests are reviewed.",
        questionnaires=("https://payer.example.org/fhir/Questionnaire/blinatumomab-pa",),
        version=CRD_2_2,
    )
    base.update(changes)
    return CoverageInformation(**base)  # type: ignore[arg-type]


def test_shape() -> None:
    built = extension(_info())
    assert built["url"] == EXTENSION_URL
    urls = [part["url"] for part in built["extension"]]
    assert urls == [
        "coverage",
        "covered",
        "pa-needed",
        "doc-needed",
        "doc-purpose",
        "reason",
        "questionnaire",
        "date",
        "coverage-assertion-id",
    ]
    assert built["extension"][0]["valueReference"] == {"reference": "Coverage/cov1"}


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        pytest.param(
            {"doc_needed": (), "doc_purpose": ()},
            "crd-ci-q1",
            id="q1-questionnaire-without-doc-needed",
        ),
        pytest.param({"covered": "not-covered"}, "crd-ci-q2", id="q2-not-covered-with-pa-needed"),
        pytest.param(
            {"covered": "conditional"}, "crd-ci-q3", id="q3-conditional-without-info-needed"
        ),
        pytest.param({"pa_needed": "no-auth"}, "crd-ci-q4", id="q4-no-auth-with-withpa"),
        pytest.param(
            {"pa_needed": "satisfied", "doc_purpose": ("withclaim",)},
            "crd-ci-q5",
            id="q5-satisfied-without-id",
        ),
        pytest.param(
            {"reason_code": "made-up", "reason_text": None},
            "crd-ci-q7",
            id="q7-foreign-code-without-text",
        ),
        pytest.param({"reason_text": None}, "crd-ci-q8", id="q8-doc-purpose-without-reason"),
        pytest.param(
            {
                "covered": "indeterminate",
                "doc_purpose": (),
                "doc_needed": (),
                "questionnaires": (),
                "reason_text": None,
            },
            "crd-ci-q9",
            id="q9-indeterminate-without-reason",
        ),
    ],
)
def test_invariants_are_enforced(changes: dict[str, object], rule: str) -> None:
    with pytest.raises(InvariantViolation, match=rule):
        extension(_info(**changes))


def test_indeterminate_with_technical_reason_is_valid() -> None:
    built = extension(
        _info(
            covered="indeterminate",
            pa_needed=None,
            doc_needed=(),
            doc_purpose=(),
            questionnaires=(),
            reason_text=None,
            reason_code="technical",
        )
    )
    reason = next(p for p in built["extension"] if p["url"] == "reason")
    assert reason["valueCodeableConcept"]["coding"][0]["code"] == "technical"


def test_every_assertion_id_is_fresh_and_random() -> None:
    # Issue 14: ids derived from order and coverage ids collided across EHRs; now each assertion
    # given has its own, so two EHRs (or two signings) never share one.
    ids = {new_assertion_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(uuid.UUID(i).version == 4 for i in ids)


def test_annotated_order_changes_nothing_else() -> None:
    order = blinatumomab_order(extension=[{"url": "urn:x", "valueString": "kept"}])
    updated = annotated_order(order, _info())
    assert order.get("extension") == [{"url": "urn:x", "valueString": "kept"}]
    assert updated["extension"][0] == {"url": "urn:x", "valueString": "kept"}
    assert updated["extension"][1]["url"] == EXTENSION_URL
    assert {k: v for k, v in updated.items() if k != "extension"} == {
        k: v for k, v in order.items() if k != "extension"
    }


def test_signing_again_replaces_the_answer_for_the_same_coverage() -> None:
    earlier = annotated_order(blinatumomab_order(), _info(assertion_id="old"))
    other = annotated_order(earlier, _info(coverage_reference="Coverage/cov2", assertion_id="b"))
    again = annotated_order(other, _info(assertion_id="new"))
    answers = [
        {p["url"]: p.get("valueString") or p.get("valueReference") for p in e["extension"]}
        for e in again["extension"]
        if e["url"] == EXTENSION_URL
    ]
    assert [(a["coverage"]["reference"], a["coverage-assertion-id"]) for a in answers] == [
        ("Coverage/cov2", "b"),
        ("Coverage/cov1", "new"),
    ]


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        pytest.param(
            {"doc_needed": (), "doc_purpose": ()}, "crd-ci-q1", id="q1-questionnaire-without-doc"
        ),
        pytest.param({"pa_needed": None}, "crd-ci-q2", id="q2-covered-without-pa-needed"),
        pytest.param(
            {"info_needed": ("OTH",)}, "crd-ci-q3", id="q3-info-needed-without-conditional"
        ),
        pytest.param(
            {"pa_needed": "satisfied", "doc_purpose": ("withclaim",)},
            "crd-ci-q5",
            id="q5-satisfied-without-id",
        ),
    ],
)
def test_crd_2_0_1_invariants_are_its_own(changes: dict[str, object], rule: str) -> None:
    with pytest.raises(InvariantViolation, match=rule):
        extension(_info(version=CRD_2_0, **changes))


def test_crd_2_0_1_reasons_outside_its_value_set_go_as_text() -> None:
    built = extension(
        _info(
            version=CRD_2_0,
            covered="conditional",
            info_needed=("OTH",),
            reason_code="technical",
            reason_text="Not retrievable in time.",
        )
    )
    reason = next(p for p in built["extension"] if p["url"] == "reason")
    assert reason["valueCodeableConcept"] == {"text": "Not retrievable in time."}
    with pytest.raises(InvariantViolation, match="crd-ci-q7"):
        extension(_info(version=CRD_2_0, reason_code="technical", reason_text=None))
