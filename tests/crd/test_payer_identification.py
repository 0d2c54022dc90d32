"""PAYER_IDENTIFIERS with a client that follows our discovery: the coverage prefetch brings the
Coverage alone, so its payor Organization is read from fhirServer; our payer gets answers, another
payer the 400 of CRD hook-13, and a payer that cannot be read is named in that 400."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.crd.coverage_information import EXTENSION_URL
from tests.conftest import make_settings
from tests.support.clock import examples_app
from tests.support.loopback_fhir import LoopbackFhir, loopback_fhir
from tests.support.resources import (
    blinatumomab_order,
    fhir_authorization,
    full_prefetch,
    hook_request,
    organization,
)

SIGN = "/cds-services/crd-order-sign"
OURS = "urn:payer|P1"


@pytest.fixture
def ehr() -> Iterator[LoopbackFhir]:
    with loopback_fhir() as server:
        yield server


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    settings = make_settings(database_url, payer_identifiers=[OURS])
    with TestClient(examples_app(settings)) as test_client:
        yield test_client


def _order() -> dict[str, Any]:
    order = blinatumomab_order()
    order["insurance"] = [{"reference": "Coverage/cov1"}]
    return order


def _call(ehr: LoopbackFhir) -> dict[str, Any]:
    body = hook_request([_order()], full_prefetch())  # Coverage alone, by reference
    body["fhirServer"] = ehr.base_url
    body["fhirAuthorization"] = fhir_authorization("t0ken", scope="patient/Organization.read")
    return body


def test_our_payer_is_read_from_the_ehr_and_answered(client: TestClient, ehr: LoopbackFhir) -> None:
    ehr.serve("Organization/payer1", organization(value="P1"))
    answer = client.post(SIGN, json=_call(ehr))
    assert answer.status_code == 200, answer.text
    (action,) = answer.json()["systemActions"]
    assert any(e["url"] == EXTENSION_URL for e in action["resource"]["extension"])
    assert [path for path, _ in ehr.requests] == ["/Organization/payer1"]


def test_another_payer_is_the_400_of_hook_13(client: TestClient, ehr: LoopbackFhir) -> None:
    ehr.serve("Organization/payer1", organization(value="SOMEONE-ELSE"))
    answer = client.post(SIGN, json=_call(ehr))
    assert answer.status_code == 400
    assert "not known to be ours" in answer.text


def test_an_unreadable_payer_is_named(client: TestClient, ehr: LoopbackFhir) -> None:
    ehr.serve("Organization/payer1", status=404, body={})
    answer = client.post(SIGN, json=_call(ehr))
    assert answer.status_code == 400
    assert "Organization/payer1 was neither prefetched nor retrievable" in answer.text


def test_a_prefetched_payer_is_not_fetched_again(client: TestClient, ehr: LoopbackFhir) -> None:
    body = _call(ehr)
    body["prefetch"]["coverage"]["entry"].append({"resource": organization(value="P1")})
    assert client.post(SIGN, json=body).status_code == 200
    assert ehr.requests == []


# ---------------------------------------------------------------- a Coverage that cannot be had


def test_a_hanging_ehr_gets_technical_coverage_information(
    database_url: str, ehr: LoopbackFhir
) -> None:
    """No coverage prefetch, the EHR never answers, the order names its Coverage: coverage
    information on that Coverage (CRD resp-25), technical, within the budget; never a card."""
    import time

    settings = make_settings(database_url, prefetch_budget_ms=300)
    ehr.serve("Coverage?patient=pat1&status=active", delay_s=5, body={})
    body = _call(ehr)
    del body["prefetch"]["coverage"]
    for version, covered in (("2.2", "indeterminate"), (None, "conditional")):
        if version:
            body["extension"] = {"davinci-crd.requestedVersion": version}
        else:
            body.pop("extension", None)
        with TestClient(examples_app(settings)) as client:
            started = time.monotonic()
            answer = client.post(SIGN, json=body)
            elapsed = time.monotonic() - started
        assert answer.status_code == 200, answer.text
        assert elapsed < 1.3, f"answered after {elapsed:.2f} s"
        assert answer.json()["cards"] == []
        (action,) = answer.json()["systemActions"]
        (info,) = [e for e in action["resource"]["extension"] if e["url"] == EXTENSION_URL]
        parts = {p["url"]: p for p in info["extension"]}
        assert parts["coverage"]["valueReference"] == {"reference": "Coverage/cov1"}
        assert parts["covered"]["valueCode"] == covered


def test_no_coverage_anywhere_is_412(client: TestClient) -> None:
    body = hook_request([blinatumomab_order()], full_prefetch())  # names no Coverage
    del body["prefetch"]["coverage"]
    assert client.post(SIGN, json=body).status_code == 412


def test_a_coverage_named_but_not_sent_nor_fetchable_is_technical(client: TestClient) -> None:
    body = hook_request([_order()], full_prefetch())
    del body["prefetch"]["coverage"]
    answer = client.post(SIGN, json=body)
    assert answer.status_code == 200, answer.text
    (action,) = answer.json()["systemActions"]
    (info,) = [e for e in action["resource"]["extension"] if e["url"] == EXTENSION_URL]
    parts = {p["url"]: p for p in info["extension"]}
    assert parts["coverage"]["valueReference"] == {"reference": "Coverage/cov1"}
    assert "could not be retrieved" in parts["reason"]["valueCodeableConcept"]["text"]


def test_the_payor_of_a_fetched_coverage_is_read_too(client: TestClient, ehr: LoopbackFhir) -> None:
    """No prefetch at all: the Coverage comes from the EHR, and then its payor Organization."""
    from tests.support.resources import coverage, searchset

    ehr.serve("Coverage?patient=pat1&status=active", searchset(coverage()))
    ehr.serve("Organization/payer1", organization(value="P1"))
    body = _call(ehr)
    body["prefetch"] = {}
    answer = client.post(SIGN, json=body)
    assert answer.status_code == 200, answer.text
    paths = [path for path, _ in ehr.requests]
    assert "/Coverage?patient=pat1&status=active" in paths
    assert paths[-1] == "/Organization/payer1"
