"""PAYER_IDENTIFIERS with a client that follows our discovery: the coverage prefetch brings the
Coverage alone, so its payor Organization is read from fhirServer; our payer gets answers, another
payer the 400 of CRD hook-13, and a payer that cannot be read is named in that 400."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.crd.coverage_information import EXTENSION_URL
from tests.conftest import make_settings
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
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _call(ehr: LoopbackFhir) -> dict[str, object]:
    body = hook_request([blinatumomab_order()], full_prefetch())  # Coverage alone, by reference
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
