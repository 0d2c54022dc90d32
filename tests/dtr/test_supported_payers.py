"""GET /dtr/supported-payers (DTR 2.0.1 "Determination of Payers Supported by a DTR App"): a JSON
object whose `payers` are objects with string `id` and `name`, from PAYER_NAME and
PAYER_IDENTIFIERS."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_settings
from tests.support.clients import EHR_A, registry_file
from tests.support.clock import examples_app

PAYERS = "/dtr/supported-payers"


@pytest.mark.parametrize(
    ("identifiers", "expected"),
    [
        pytest.param(
            ["urn:oid:2.16.840.1.113883.6.300|54321"],
            [{"id": "54321", "name": "Acme Health"}],
            id="system-and-value",
        ),
        pytest.param(["54321"], [{"id": "54321", "name": "Acme Health"}], id="bare-value"),
        pytest.param(
            ["urn:payer|P1", "urn:naic|99999"],
            [{"id": "P1", "name": "Acme Health"}],
            id="one-payer-its-first-identifier",
        ),
        pytest.param([], [], id="no-identifier-no-entry"),
    ],
)
def test_the_payer_is_listed_by_its_identifier(
    database_url: str, identifiers: list[str], expected: list[dict[str, str]]
) -> None:
    settings = make_settings(database_url, payer_name="Acme Health", payer_identifiers=identifiers)
    with TestClient(examples_app(settings)) as client:
        answer = client.get(PAYERS, headers={"Accept": "application/json"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"payers": expected}
    assert all(isinstance(v, str) for p in answer.json()["payers"] for v in p.values())


def test_it_is_public_and_json_whatever_the_accept(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_url,
        auth_mode="jwt",
        payer_identifiers=["urn:payer|P1"],
        smart_clients_file=registry_file(tmp_path, EHR_A),
    )
    with TestClient(examples_app(settings)) as client:
        for accept in ("application/json", "*/*", None):
            headers = {"Accept": accept} if accept else {}
            answer = client.get(PAYERS, headers=headers)
            assert answer.status_code == 200, accept
            assert answer.json()["payers"][0]["id"] == "P1"
