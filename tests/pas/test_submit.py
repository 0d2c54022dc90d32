"""Claim/$submit and Claim/$inquire (Da Vinci PAS STU 2.0.1): a PAS request Bundle carrying the
order and the completed DTR form is pended for clinical review at once, with the same evaluation
CRD and DTR made, kept before the answer leaves, idempotent on the Claim identifier; a wrong
Bundle is a 4xx OperationOutcome naming what is wrong; $inquire answers with the current state;
nobody reaches another client's request."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from service.settings import Settings
from tests.conftest import make_settings
from tests.dtr.test_responses import _completed
from tests.policy.test_scenarios import SCENARIOS
from tests.support.clients import BASE, EHR_A, EHR_B, bearer, registry_file, system_token
from tests.support.pas_profiles import PAS as PAS_PROFILES
from tests.support.pas_profiles import profile_issues
from tests.support.pas_requests import inquiry_bundle, pas_bundle

SUBMIT, INQUIRE = "/fhir/Claim/$submit", "/fhir/Claim/$inquire"
REVIEW_ACTION = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-reviewAction"


def _action(claim_response: dict[str, Any]) -> str:
    (item,) = claim_response["item"]
    (adjudication,) = item["adjudication"]
    (review,) = [e for e in adjudication["extension"] if e["url"] == REVIEW_ACTION]
    (code,) = [p for p in review["extension"] if p["url"] == f"{REVIEW_ACTION}Code"]
    return str(code["valueCodeableConcept"]["coding"][0]["code"])


def _submitted(client: TestClient, **given: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    bundle = pas_bundle(SCENARIOS[0], _completed(client), **given)
    answer = client.post(SUBMIT, json=bundle)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+json")
    return bundle, answer.json()


def test_a_request_is_pended_for_review_with_its_evaluation(
    settings: Settings, client: TestClient
) -> None:
    _, answer = _submitted(client)
    assert answer["resourceType"] == "Bundle" and answer["type"] == "collection"
    first = answer["entry"][0]["resource"]
    assert first["resourceType"] == "ClaimResponse"
    assert (first["use"], first["status"], first["outcome"]) == (
        "preauthorization",
        "active",
        "queued",
    )
    assert _action(first) == "A4"  # pended
    assert "preAuthRef" not in first
    referenced = {e["fullUrl"].split("/fhir/")[-1] for e in answer["entry"][1:]}
    assert {first["patient"]["reference"], first["insurer"]["reference"]} <= referenced
    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        row = connection.execute(
            text("select status, priority, received_at, due_at, summary from prior_auth_request")
        ).one()
        decisions = connection.execute(text("select action, by from prior_auth_decision")).all()
    engine.dispose()
    assert (row.status, row.priority) == ("pended", "standard")
    summary = row.summary if isinstance(row.summary, dict) else json.loads(row.summary)
    assert summary["policy"] == "blinatumomab"
    evaluation = summary["evaluation"]
    assert evaluation["outcome"] == "criteria-met"  # scenario 01 completed on path a
    assert evaluation["criteria"]["PHASE"]["evidence"] == [
        {"kind": "answer", "link_id": "phase", "reference": None}
    ]
    assert summary["answers"]["phase"]["origin"] == "manual"
    due = _utc(row.due_at) - _utc(row.received_at)
    assert due == timedelta(days=7)
    assert [tuple(d) for d in decisions] == [("pend", "system")]


def _utc(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_an_expedited_request_is_due_in_72_hours(settings: Settings, client: TestClient) -> None:
    _submitted(client, priority="stat")
    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        row = connection.execute(text("select received_at, due_at from prior_auth_request")).one()
    engine.dispose()
    assert _utc(row.due_at) - _utc(row.received_at) == timedelta(hours=72)


def test_the_same_claim_again_is_the_same_request(settings: Settings, client: TestClient) -> None:
    bundle, first = _submitted(client)
    again = client.post(SUBMIT, json=bundle).json()
    assert again["entry"][0]["resource"]["id"] == first["entry"][0]["resource"]["id"]
    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        count = connection.execute(text("select count(*) from prior_auth_request")).scalar()
    engine.dispose()
    assert count == 1


def test_inquire_answers_with_the_current_state(client: TestClient) -> None:
    bundle, first = _submitted(client)
    answer = client.post(INQUIRE, json=inquiry_bundle(bundle))
    assert answer.status_code == 200, answer.text
    current = answer.json()["entry"][0]["resource"]
    assert current["id"] == first["entry"][0]["resource"]["id"]
    assert current["outcome"] == "queued"
    unknown = inquiry_bundle(pas_bundle(SCENARIOS[0], None, identifier="never-sent"))
    missing = client.post(INQUIRE, json=unknown)
    assert missing.status_code == 404
    assert missing.json()["resourceType"] == "OperationOutcome"


def _broken(change: Any) -> dict[str, Any]:
    bundle = pas_bundle(SCENARIOS[0], None)
    changed = copy.deepcopy(bundle)
    change(changed)
    return changed


def _renamed(kind: str, new_id: str) -> Callable[[dict[str, Any]], None]:
    """A change giving the Bundle's `kind` entry a new id, its fullUrl and references following."""

    def change(bundle: dict[str, Any]) -> None:
        (old,) = [
            e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind
        ]
        text = json.dumps(bundle).replace(f'{kind}/{old}"', f'{kind}/{new_id}"')
        bundle.update(json.loads(text))
        for entry in bundle["entry"]:
            if entry["resource"]["resourceType"] == kind:
                entry["resource"]["id"] = new_id

    return change


def _claim(bundle: dict[str, Any]) -> dict[str, Any]:
    claim: dict[str, Any] = bundle["entry"][0]["resource"]
    return claim


@pytest.mark.parametrize(
    ("change", "status", "mentions"),
    [
        pytest.param(lambda b: _claim(b).update(use="claim"), 422, "Claim.use", id="use"),
        pytest.param(lambda b: _claim(b).pop("identifier"), 422, "Claim.identifier", id="id"),
        pytest.param(lambda b: _claim(b).pop("item"), 422, "Claim.item", id="no-items"),
        pytest.param(
            lambda b: _claim(b).update(patient={"reference": "Patient/elsewhere"}),
            422,
            "Claim.patient",
            id="patient-not-in-bundle",
        ),
        pytest.param(
            lambda b: _claim(b)["insurance"][0].update(focal=False),
            422,
            "focal",
            id="no-focal-insurance",
        ),
        pytest.param(lambda b: b["entry"].reverse(), 422, "first entry", id="claim-not-first"),
        pytest.param(lambda b: b.update(type="transaction"), 422, "Bundle.type", id="type"),
        pytest.param(lambda b: b.update(resourceType="Patient"), 400, "PAS request", id="not"),
        pytest.param(
            lambda b: _claim(b)["identifier"][0].update(value="x" * 300),
            422,
            "Claim.identifier",
            id="identifier-too-long",
        ),
        pytest.param(_renamed("Patient", "p" * 65), 422, "Patient.id", id="patient-id-too-long"),
        pytest.param(
            _renamed("MedicationRequest", "order 1"),
            422,
            "MedicationRequest.id",
            id="order-id-malformed",
        ),
        pytest.param(
            lambda b: _claim(b).update(supportingInfo=["x"]),
            422,
            "Claim.supportingInfo[0]",
            id="supporting-info-string",
        ),
        pytest.param(
            lambda b: _claim(b).update(supportingInfo="x"),
            422,
            "Claim.supportingInfo",
            id="supporting-info-not-a-list",
        ),
        pytest.param(
            lambda b: _claim(b)["item"][0].update(extension=["x"]),
            422,
            "Claim.item[0].extension[0]",
            id="item-extension-string",
        ),
        pytest.param(
            lambda b: _claim(b)["item"][0].update(modifierExtension="x"),
            422,
            "Claim.item[0].modifierExtension",
            id="modifier-extension-string",
        ),
        pytest.param(
            lambda b: _claim(b).update(related=["x"]), 422, "Claim.related[0]", id="related-string"
        ),
        pytest.param(
            lambda b: _claim(b).update(related=[{"relationship": "replaces"}]),
            422,
            "Claim.related[0].relationship",
            id="relationship-string",
        ),
        pytest.param(
            lambda b: _claim(b).update(priority="stat"), 422, "Claim.priority", id="priority-string"
        ),
        pytest.param(
            lambda b: _claim(b).update(insurance=["x"]),
            422,
            "Claim.insurance[0]",
            id="insurance-string",
        ),
    ],
)
def test_a_wrong_request_is_a_4xx_saying_what_is_wrong(
    client: TestClient, change: Any, status: int, mentions: str
) -> None:
    answer = client.post(SUBMIT, json=_broken(change))
    assert answer.status_code == status, answer.text
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert mentions in str(outcome)


def test_request_and_response_meet_the_pas_profiles(client: TestClient) -> None:
    """Checked as the PAS kit checks them, against the IG package's snapshots: the request our
    tests send (the EHR's side), the response Bundle, its ClaimResponse and what it references."""
    bundle, answer = _submitted(client)
    claim_response = answer["entry"][0]["resource"]
    pairs = [
        (bundle, f"{PAS_PROFILES}profile-pas-request-bundle"),
        (answer, f"{PAS_PROFILES}profile-pas-response-bundle"),
        (claim_response, f"{PAS_PROFILES}profile-claimresponse"),
    ]
    problems = profile_issues(pairs)
    assert problems == [[], [], []]
    # The check can fail: a pended answer without its outcome is not a PAS ClaimResponse.
    broken = {k: v for k, v in claim_response.items() if k != "outcome"}
    (issues,) = profile_issues([(broken, f"{PAS_PROFILES}profile-claimresponse")])
    assert any("outcome" in i["expression"] for i in issues)


def test_each_items_trace_number_is_echoed(client: TestClient) -> None:
    """PAS 2.0.1: itemTraceNumber is must-support on the ClaimResponse's items; the EHR matches
    our answer to its item by it."""
    bundle, answer = _submitted(client)
    (claim_item,) = bundle["entry"][0]["resource"]["item"]
    (answered,) = answer["entry"][0]["resource"]["item"]
    trace = [e for e in claim_item["extension"] if e["url"].endswith("extension-itemTraceNumber")]
    assert trace and [e for e in answered["extension"] if e in trace] == trace


def test_the_claim_responses_references_resolve_in_its_bundle(client: TestClient) -> None:
    """R4 Bundle rules (the PAS kit resolves them so): a relative reference in the ClaimResponse
    names the entry whose fullUrl is the ClaimResponse's base plus Type/id."""
    _, answer = _submitted(client)
    claim_response = answer["entry"][0]
    base = claim_response["fullUrl"].rsplit("/ClaimResponse/", 1)[0]
    full_urls = {entry["fullUrl"] for entry in answer["entry"]}
    references = [
        claim_response["resource"][element]["reference"]
        for element in ("patient", "insurer", "requestor")
        if element in claim_response["resource"]
    ]
    assert references
    for reference in references:
        resolved = reference if "://" in reference or ":" in reference else f"{base}/{reference}"
        assert resolved in full_urls, reference


GOOD_SUBMITS = 40


@pytest.fixture
def two_clients(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """The app with client authentication on and two registered EHRs (EHR_A and EHR_B)."""
    from tests.support.clock import examples_app

    settings = make_settings(
        database_url,
        auth_mode="jwt",
        base_url=BASE,
        smart_clients_file=registry_file(tmp_path, EHR_A, EHR_B),
    )
    with TestClient(examples_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def test_one_clients_bad_claim_fails_only_itself(two_clients: TestClient) -> None:
    """A Claim identifier too long to keep (300 characters; PostgreSQL refuses it, SQLite would
    keep it), sent amid 40 good submits of another client: the bad one is a 422 naming the field,
    before anything is written; every good one is pended."""
    good = bearer(system_token(two_clients, EHR_A, "system/Claim.c"))
    bad = bearer(system_token(two_clients, EHR_B, "system/Claim.c"))
    sends = [
        (good, pas_bundle(SCENARIOS[0], None, f"good-{n}", order_id=f"order-{n}"))
        for n in range(GOOD_SUBMITS)
    ]
    too_long = pas_bundle(SCENARIOS[0], None, "bad")
    _claim(too_long)["identifier"][0]["value"] = "x" * 300
    sends.insert(GOOD_SUBMITS // 2, (bad, too_long))
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda sent: two_clients.post(SUBMIT, json=sent[1], headers=sent[0]), sends)
        )
    refused = answers.pop(GOOD_SUBMITS // 2)
    assert [a.status_code for a in answers] == [200] * GOOD_SUBMITS, [a.text for a in answers]
    assert refused.status_code == 422
    assert refused.json()["issue"][0]["expression"] == ["Claim.identifier"]
