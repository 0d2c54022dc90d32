"""One open request per order: a new Claim for an order whose request is still pended (the same
order from the same EHR site, under the same Coverage) is a 409 OperationOutcome naming the open
request, not a second case; once that request is decided the order may be asked again; another
order is another request. Two such Claims sent at once to two replicas make exactly one case."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from tests.pas.test_decisions import _together
from tests.pas.test_submit import SUBMIT, _action
from tests.pas.test_workbench import _decide, _sign_in, _submit
from tests.policy.test_scenarios import SCENARIOS
from tests.support.pas_requests import pas_bundle
from tests.support.replicas import replicas

RACES = 8


def _requests(database_url: str) -> list[tuple[str, str]]:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(text("select id, status from prior_auth_request order by id"))
        found = [(row.id, row.status) for row in rows]
    engine.dispose()
    return found


def test_a_second_request_for_an_open_order_names_the_open_one(
    client: TestClient, database_url: str
) -> None:
    _, case_id = _submit(client, identifier="claim-1")
    second = client.post(SUBMIT, json=pas_bundle(SCENARIOS[0], None, identifier="claim-2"))
    assert second.status_code == 409, second.text
    (issue,) = second.json()["issue"]
    assert issue["code"] == "duplicate"
    assert f"ClaimResponse/{case_id}" in issue["diagnostics"]
    assert "Claim claim-1" in issue["diagnostics"] and "update" in issue["diagnostics"]
    assert _requests(database_url) == [(case_id, "pended")]


def test_a_decided_order_may_be_asked_again(client: TestClient, database_url: str) -> None:
    _, case_id = _submit(client, identifier="claim-1")
    _sign_in(client)
    assert _decide(client, case_id, action="deny", reason="DOSE").status_code == 303
    corrected = client.post(SUBMIT, json=pas_bundle(SCENARIOS[0], None, identifier="claim-2"))
    assert corrected.status_code == 200, corrected.text
    new = corrected.json()["entry"][0]["resource"]
    assert new["id"] != case_id and _action(new) == "A4"
    assert sorted(status for _, status in _requests(database_url)) == ["denied", "pended"]


def test_another_order_or_coverage_is_another_request(
    client: TestClient, database_url: str
) -> None:
    _submit(client, identifier="claim-1")
    other_order = pas_bundle(SCENARIOS[0], None, identifier="claim-2", order_id="other-order")
    assert client.post(SUBMIT, json=other_order).status_code == 200
    other_coverage = pas_bundle(SCENARIOS[0], None, identifier="claim-3")
    _recovered(other_coverage, "other-coverage")
    assert client.post(SUBMIT, json=other_coverage).status_code == 200
    assert len(_requests(database_url)) == 3


def _recovered(bundle: dict[str, Any], coverage_id: str) -> None:
    """The same order under another Coverage of the patient."""
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Coverage":
            entry["resource"]["id"] = coverage_id
            entry["fullUrl"] = entry["fullUrl"].rsplit("/", 1)[0] + f"/{coverage_id}"
    claim = bundle["entry"][0]["resource"]
    claim["insurance"][0]["coverage"]["reference"] = f"Coverage/{coverage_id}"


@pytest.fixture
def urls(database_url: str, tmp_path: Path) -> Iterator[list[str]]:
    with replicas(2, database_url, tmp_path) as started:
        yield started


def test_two_requests_for_one_order_at_once_make_one_case(
    urls: list[str], database_url: str
) -> None:
    clients = [httpx.Client(base_url=url, timeout=30) for url in urls]
    try:
        for number in range(RACES):
            sends = [
                pas_bundle(
                    SCENARIOS[0], None, identifier=f"race-{number}-{side}", order_id=f"o{number}"
                )
                for side in ("a", "b")
            ]
            answers = _together(
                *(partial(c.post, SUBMIT, json=s) for c, s in zip(clients, sends, strict=True))
            )
            assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
            (kept,) = [a for a in answers if a.status_code == 200]
            (refused,) = [a for a in answers if a.status_code == 409]
            case_id = kept.json()["entry"][0]["resource"]["id"]
            assert f"ClaimResponse/{case_id}" in refused.json()["issue"][0]["diagnostics"]
    finally:
        for client in clients:
            client.close()
    assert len(_requests(database_url)) == RACES
