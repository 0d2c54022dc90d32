from __future__ import annotations

import pytest

from service.fhir.record import PatientRecord
from service.policy.folder import Policy, load_policies
from service.policy.trigger import is_in_scope, medication_references
from service.settings import PROJECT_ROOT
from service.types import Resource
from tests.support.resources import HCPCS, NDC, RXNORM, blinatumomab_order, concept


@pytest.fixture(scope="module")
def policy() -> Policy:
    (found,) = load_policies(PROJECT_ROOT / "policies")
    return found


@pytest.mark.parametrize(
    ("system", "code"),
    [
        *[
            pytest.param(RXNORM, c, id=f"rxnorm-{c}")
            for c in ("1597258", "1597263", "1597262", "1597267", "1597260", "1597266")
        ],
        pytest.param(NDC, "55513-0160-01", id="ndc-11-hyphenated"),
        pytest.param(NDC, "55513-160-21", id="ndc-10-digit-5-3-2"),
        pytest.param(NDC, "55513016021", id="ndc-11-digit"),
        pytest.param(HCPCS, "J9039", id="hcpcs"),
        pytest.param(
            "https://bluebutton.cms.gov/resources/codesystem/hcpcs", "J9039", id="hcpcs-alias"
        ),
    ],
)
def test_trigger_codes_in_scope(policy: Policy, system: str, code: str) -> None:
    order = blinatumomab_order(system=system, code=code)
    assert is_in_scope(order, policy, PatientRecord([(order, None)]))


@pytest.mark.parametrize(
    ("system", "code"),
    [
        pytest.param(RXNORM, "1942950", id="inotuzumab"),
        pytest.param(NDC, "55513-0161-01", id="neighbouring-ndc"),
        pytest.param(HCPCS, "J9040", id="other-hcpcs"),
        pytest.param("http://example.org/local", "1597262", id="right-code-wrong-system"),
    ],
)
def test_other_codes_not_in_scope(policy: Policy, system: str, code: str) -> None:
    order = blinatumomab_order(system=system, code=code)
    assert not is_in_scope(order, policy, PatientRecord([(order, None)]))


@pytest.mark.parametrize(
    ("status", "in_scope"),
    [
        ("draft", True),
        ("active", True),
        ("completed", False),
        ("cancelled", False),
        ("entered-in-error", False),
        ("on-hold", False),
    ],
)
def test_status(policy: Policy, status: str, in_scope: bool) -> None:
    order = blinatumomab_order(status=status)
    assert is_in_scope(order, policy, PatientRecord([(order, None)])) is in_scope


def _by_reference(reference: str) -> Resource:
    order = blinatumomab_order()
    del order["medicationCodeableConcept"]
    order["medicationReference"] = {"reference": reference}
    return order


def test_contained_medication(policy: Policy) -> None:
    order = _by_reference("#vial")
    order["contained"] = [
        {"resourceType": "Medication", "id": "vial", "code": concept(NDC, "55513-160-01")}
    ]
    assert is_in_scope(order, policy, PatientRecord([(order, None)]))
    assert medication_references([order]) == []


def test_referenced_medication_from_the_record(policy: Policy) -> None:
    order = _by_reference("Medication/m1")
    medication = {"resourceType": "Medication", "id": "m1", "code": concept(RXNORM, "1597267")}
    assert is_in_scope(order, policy, PatientRecord([(order, None), (medication, None)]))
    assert not is_in_scope(order, policy, PatientRecord([(order, None)]))
    assert medication_references([order]) == ["Medication/m1"]


def test_service_request_with_hcpcs(policy: Policy) -> None:
    order = {
        "resourceType": "ServiceRequest",
        "id": "sr1",
        "status": "active",
        "intent": "order",
        "code": concept(HCPCS, "J9039"),
        "subject": {"reference": "Patient/pat1"},
    }
    assert is_in_scope(order, policy, PatientRecord([(order, None)]))


def test_service_request_with_rxnorm_is_not_a_trigger(policy: Policy) -> None:
    # SPEC section 1: a ServiceRequest is in scope only when coded with HCPCS J9039.
    order = {
        "resourceType": "ServiceRequest",
        "id": "sr1",
        "status": "active",
        "intent": "order",
        "code": concept(RXNORM, "1597262"),
        "subject": {"reference": "Patient/pat1"},
    }
    assert not is_in_scope(order, policy, PatientRecord([(order, None)]))


def test_device_request_is_never_in_scope(policy: Policy) -> None:
    order = {
        "resourceType": "DeviceRequest",
        "id": "d1",
        "status": "draft",
        "intent": "order",
        "codeCodeableConcept": concept(HCPCS, "J9039"),
    }
    assert not is_in_scope(order, policy, PatientRecord([(order, None)]))


def test_a_status_that_is_not_a_code_is_out_of_scope(policy: Policy) -> None:
    order = blinatumomab_order()
    order["status"] = {"coding": [{"code": "draft"}]}
    assert not is_in_scope(order, policy, PatientRecord([(order, None)]))
