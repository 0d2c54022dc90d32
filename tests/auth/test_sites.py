"""One client, two sites: a health system registered with two hospitals' FHIR servers, whose
patient ids collide (`pat` on both, two people). A patient id means something only with its
server, so a launch token for site 1's `pat` reaches only rows stored for site 1, through every
route that filters by patient, and gets for site 2's rows the answer an unknown id gets. Rows
whose server is not known are the client's system tokens' only; a client with one registered
server has its rows bound to that server."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.auth.access_tokens import AccessGrant, AccessTokens
from service.auth.scopes import parse_scopes
from tests.auth.test_isolation import (
    ALL_PATIENT,
    RESPONSES,
    SIGN,
    _package,
    _prefilled,
    _same_as_unknown,
)
from tests.conftest import ACCESS_TOKEN_KEY, make_settings
from tests.crd.test_answers import hook_request
from tests.support.clients import BASE, SIGNED_AT, Ehr, bearer, system_token
from tests.support.clock import ManualClock, examples_app
from tests.support.pas_requests import inquiry_bundle, pas_bundle

SITE_1 = "https://site1.health.example.org/fhir"
SITE_2 = "https://site2.health.example.org/fhir"
HEALTH = Ehr("health-system", "https://health.example.org", SITE_1)
SOLO = Ehr("solo-clinic", "https://solo.example.org", "https://solo.example.org/fhir")
PATIENT = "pat"  # the examples' patient id, on both sites
LAUNCH_SCOPES = "patient/Questionnaire.rs patient/QuestionnaireResponse.crs"
SYSTEM_SCOPES = (
    "system/Questionnaire.rs system/QuestionnaireResponse.crs system/Claim.cr "
    "system/ClaimResponse.r"
)


@pytest.fixture
def client(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[TestClient]:
    registry = tmp_path / "smart-clients.json"
    entries = [{**HEALTH.entry(), "fhir_servers": [SITE_1, SITE_2]}, SOLO.entry()]
    registry.write_text(json.dumps({"clients": entries}))
    settings = make_settings(
        database_url, auth_mode="jwt", base_url=BASE, smart_clients_file=registry
    )
    with TestClient(examples_app(settings, clock)) as test_client:
        yield test_client


def _launch_token(ehr: Ehr, fhir_server: str, patient: str = PATIENT) -> str:
    """What the token exchange issues for a launch at `fhir_server` (its checks are
    tests/auth/test_launch.py's)."""
    tokens = AccessTokens(
        ACCESS_TOKEN_KEY.encode(), f"{BASE}/auth", f"{BASE}/fhir", lambda: SIGNED_AT
    )
    grant = AccessGrant(ehr.client_id, tuple(parse_scopes(LAUNCH_SCOPES)), patient, fhir_server)
    return tokens.issue(grant, 900)


def _sign(client: TestClient, ehr: Ehr, fhir_server: str | None) -> str:
    request = hook_request(ALL_PATIENT)
    if fhir_server is not None:
        request["fhirServer"] = fhir_server
    answer = client.post(SIGN, json=request, headers=bearer(ehr.hook_token(f"{BASE}{SIGN}")))
    assert answer.status_code == 200, answer.text
    (action,) = answer.json()["systemActions"]
    extension = action["resource"]["extension"][0]["extension"]
    return next(p["valueString"] for p in extension if p["url"] == "coverage-assertion-id")


def _identified(response: dict[str, Any]) -> dict[str, Any]:
    value = f"urn:uuid:{uuid.uuid4()}"
    return {**response, "identifier": {"system": "urn:ietf:rfc:3986", "value": value}}


def _store(client: TestClient, token: str, response: dict[str, Any]) -> str:
    stored = client.post(RESPONSES, json=_identified(response), headers=bearer(token))
    assert stored.status_code == 201, stored.text
    found: str = stored.json()["id"]
    return found


def _untagged(response: dict[str, Any]) -> dict[str, Any]:
    """The response without its coverage-assertion-id: nothing says which site it is from."""
    bare = copy.deepcopy(response)
    bare["meta"].pop("tag", None)
    return bare


@pytest.fixture
def site_2_rows(client: TestClient) -> dict[str, str]:
    """Site 2's `pat`, through every way a row is stored: an assertion from a hook call naming
    site 2 and one naming no server; responses stored by a site 2 launch, by a system token
    with site 2's assertion and with none; a PAS request carrying site 2's response."""
    system = system_token(client, HEALTH, SYSTEM_SCOPES)
    assertion = _sign(client, HEALTH, SITE_2)
    unplaced = _sign(client, HEALTH, None)
    response = _prefilled(_package(client, system, assertion))
    submitted = pas_bundle(ALL_PATIENT, response, identifier=f"claim-{uuid.uuid4()}")
    claimed = client.post("/fhir/Claim/$submit", json=submitted, headers=bearer(system))
    assert claimed.status_code == 200, claimed.text
    return {
        "assertion": assertion,
        "unplaced-assertion": unplaced,
        "launch-response": _store(client, _launch_token(HEALTH, SITE_2), response),
        "system-response": _store(client, system, response),
        "unplaced-response": _store(client, system, _untagged(response)),
        "claim": claimed.json()["entry"][0]["resource"]["id"],
    }


def test_site_1_finds_none_of_site_2s_responses(
    client: TestClient, site_2_rows: dict[str, str]
) -> None:
    site_1 = _launch_token(HEALTH, SITE_1)
    own = _store(
        client, site_1, _prefilled(_package(client, site_1, _sign(client, HEALTH, SITE_1)))
    )
    for query in (f"subject=Patient/{PATIENT}", f"patient={PATIENT}", "status=in-progress", ""):
        found = client.get(f"{RESPONSES}?{query}", headers=bearer(site_1))
        assert found.status_code == 200
        assert [e["resource"]["id"] for e in found.json()["entry"]] == [own], query
    site_2 = client.get(
        f"{RESPONSES}?subject=Patient/{PATIENT}", headers=bearer(_launch_token(HEALTH, SITE_2))
    )
    assert {e["resource"]["id"] for e in site_2.json()["entry"]} == {
        site_2_rows["launch-response"],
        site_2_rows["system-response"],
    }


def _read(client: TestClient, token: str, response_id: str) -> Any:
    return client.get(f"{RESPONSES}/{response_id}", headers=bearer(token))


@pytest.mark.parametrize(
    ("row", "ask"),
    [
        pytest.param("launch-response", _read, id="read-launch-response"),
        pytest.param("system-response", _read, id="read-system-response"),
        pytest.param("unplaced-response", _read, id="read-unplaced-response"),
        pytest.param("assertion", _package, id="package-assertion"),
        pytest.param("unplaced-assertion", _package, id="package-unplaced-assertion"),
        pytest.param("claim", _package, id="package-claim"),
    ],
)
def test_site_2s_rows_read_as_unknown_at_site_1(
    client: TestClient, site_2_rows: dict[str, str], row: str, ask: Callable[..., Any]
) -> None:
    site_1, unknown = _launch_token(HEALTH, SITE_1), str(uuid.uuid4())
    theirs = site_2_rows[row]
    crossed = ask(client, site_1, theirs)
    assert crossed.status_code == 404
    _same_as_unknown(crossed, ask(client, site_1, unknown), theirs, unknown)


def test_site_1_cannot_file_or_evaluate_under_site_2s_assertion(
    client: TestClient, site_2_rows: dict[str, str]
) -> None:
    site_1, unknown = _launch_token(HEALTH, SITE_1), str(uuid.uuid4())
    system = system_token(client, HEALTH)
    response = _prefilled(_package(client, system, site_2_rows["assertion"]))
    retagged = copy.deepcopy(response)
    retagged["meta"]["tag"][0]["code"] = unknown
    for path in (RESPONSES, f"{RESPONSES}/$evaluate"):
        crossed = client.post(path, json=_identified(response), headers=bearer(site_1))
        as_unknown = client.post(path, json=_identified(retagged), headers=bearer(site_1))
        assert crossed.status_code == as_unknown.status_code, path
        assert crossed.status_code in (200, 422), crossed.text
        if crossed.status_code == 200:  # $evaluate: the order is unknown, the same result
            assert crossed.json() == as_unknown.json()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("GET", "/fhir/ClaimResponse/{claim}", None, id="claim-response"),
        pytest.param("POST", "/fhir/Claim/$inquire", "inquiry", id="inquire"),
        pytest.param("GET", "/fhir/Subscription/{claim}", None, id="subscription"),
        pytest.param("GET", "/fhir/Subscription/$status", None, id="subscription-status"),
    ],
)
def test_a_launch_token_reaches_no_claim_or_subscription(
    client: TestClient, site_2_rows: dict[str, str], method: str, path: str, body: Any
) -> None:
    """Claims, ClaimResponses and Subscriptions are the client's system tokens': a launch token
    for the same patient id is refused before any row is looked at, as for an unknown id."""
    site_1 = _launch_token(HEALTH, SITE_1)
    payload = inquiry_bundle(pas_bundle(ALL_PATIENT, None)) if body else None
    answers = [
        client.request(method, path.format(claim=claim), json=payload, headers=bearer(site_1))
        for claim in (site_2_rows["claim"], str(uuid.uuid4()))
    ]
    assert [a.status_code for a in answers] == [403, 403]
    assert answers[0].json() == answers[1].json()


def test_the_client_s_system_token_still_reaches_every_row(
    client: TestClient, site_2_rows: dict[str, str]
) -> None:
    system = system_token(client, HEALTH, SYSTEM_SCOPES)
    for row in ("launch-response", "system-response", "unplaced-response"):
        read = client.get(f"{RESPONSES}/{site_2_rows[row]}", headers=bearer(system))
        assert read.status_code == 200, row
    for row in ("assertion", "unplaced-assertion", "claim"):
        assert _package(client, system, site_2_rows[row]).status_code == 200, row
    claim = client.get(f"/fhir/ClaimResponse/{site_2_rows['claim']}", headers=bearer(system))
    assert claim.status_code == 200


def test_a_client_with_one_server_binds_its_rows_to_it(client: TestClient) -> None:
    """A hook call without fhirServer, a response stored with a system token and no assertion:
    the client's only server is where its patient ids come from, so its launches reach them."""
    unplaced = _sign(client, SOLO, None)
    system = system_token(client, SOLO)
    response = _prefilled(_package(client, system, unplaced))
    stored = _store(client, system, _untagged(response))
    launch = _launch_token(SOLO, SOLO.fhir_server)
    assert _package(client, launch, unplaced).status_code == 200
    assert client.get(f"{RESPONSES}/{stored}", headers=bearer(launch)).status_code == 200
    elsewhere = _launch_token(SOLO, "https://solo.example.org/other-fhir")
    assert _package(client, elsewhere, unplaced).status_code == 404
    assert client.get(f"{RESPONSES}/{stored}", headers=bearer(elsewhere)).status_code == 404
