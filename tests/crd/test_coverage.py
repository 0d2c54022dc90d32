from __future__ import annotations

from datetime import date

import pytest

from service.crd.coverage import select_coverage
from service.errors import BadRequest
from service.fhir.record import PatientRecord
from service.types import Resource
from tests.support.resources import blinatumomab_order, coverage, organization

TODAY = date(2026, 11, 24)
OURS = ["urn:payer|P1"]


def _choose(
    resources: list[Resource], payers: list[str] | None = None, orders: list[Resource] | None = None
) -> str | None:
    record = PatientRecord([(r, None) for r in resources])
    choice = select_coverage(record, orders or [blinatumomab_order()], payers or [], TODAY)
    return None if choice.coverage is None else str(choice.coverage["id"])


def test_single_active_coverage_accepted_without_payer_setting() -> None:
    assert _choose([coverage()]) == "cov1"


def test_no_coverage_is_not_found_not_an_error() -> None:
    assert _choose([]) is None


@pytest.mark.parametrize(
    "inactive",
    [
        pytest.param(coverage(status="cancelled"), id="cancelled"),
        pytest.param(coverage(status="draft"), id="draft"),
        pytest.param(coverage(period={"end": "2026-11-23"}), id="ended-yesterday"),
        pytest.param(coverage(period={"start": "2026-11-25"}), id="starts-tomorrow"),
    ],
)
def test_inactive_coverage_is_not_a_candidate(inactive: Resource) -> None:
    assert _choose([inactive]) is None


def test_period_boundaries_are_inclusive() -> None:
    assert _choose([coverage(period={"start": "2026-11-24", "end": "2026-11-24"})]) == "cov1"


def test_several_active_coverages_of_ours_are_each_answered() -> None:
    """SPEC section 5: never a 400 for a record an EHR rightly sends; one answer per Coverage."""
    record = PatientRecord([(r, None) for r in [coverage("a"), coverage("b")]])
    order = blinatumomab_order()
    choice = select_coverage(record, [order], [], TODAY)
    assert [c["id"] for c in choice.for_order(record, order)] == ["a", "b"]


def test_of_several_coverages_an_order_is_answered_for_the_one_it_names() -> None:
    record = PatientRecord([(r, None) for r in [coverage("a"), coverage("b"), organization()]])
    naming = blinatumomab_order(insurance=[{"reference": "Coverage/b"}])
    silent = blinatumomab_order()
    choice = select_coverage(record, [silent], OURS, TODAY)
    assert [c["id"] for c in choice.for_order(record, naming)] == ["b"]
    assert [c["id"] for c in choice.for_order(record, silent)] == ["a", "b"]


def test_another_payers_coverage_beside_ours_is_ignored() -> None:
    theirs = coverage("theirs", payor=[{"identifier": {"system": "urn:payer", "value": "P9"}}])
    assert _choose([theirs, coverage("ours"), organization()], payers=OURS) == "ours"


def test_the_order_naming_its_insurance_disambiguates() -> None:
    order = blinatumomab_order(insurance=[{"reference": "Coverage/b"}])
    assert _choose([coverage("a"), coverage("b")], orders=[order]) == "b"


def test_our_payer_by_organization_identifier() -> None:
    assert _choose([coverage(), organization()], payers=OURS) == "cov1"


def test_our_payer_by_logical_reference() -> None:
    payor = [{"identifier": {"system": "urn:payer", "value": "P1"}}]
    assert _choose([coverage(payor=payor)], payers=OURS) == "cov1"


def test_another_payer_is_the_crd_400() -> None:
    with pytest.raises(BadRequest, match="not for a payer") as raised:
        _choose([coverage(), organization(value="OTHER")], payers=OURS)
    assert raised.value.issues[0].expression == ("Coverage.payor",)


def test_coverage_without_payer_identifier_is_the_crd_400_when_payers_are_set() -> None:
    with pytest.raises(BadRequest):
        _choose([coverage(payor=[{"display": "Some plan"}])], payers=OURS)


def test_ours_is_picked_among_foreign_ones() -> None:
    foreign = coverage("other", payor=[{"identifier": {"system": "urn:payer", "value": "X"}}])
    assert _choose([coverage(), organization(), foreign], payers=OURS) == "cov1"


def test_the_one_inactive_coverage_is_kept_for_a_not_covered_answer() -> None:
    record = PatientRecord([(coverage(status="cancelled"), None)])
    choice = select_coverage(record, [blinatumomab_order()], [], TODAY)
    assert choice.coverage is None
    assert choice.inactive is not None and choice.inactive["id"] == "cov1"
