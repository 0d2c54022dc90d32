"""What CRD says is kept before it is said: each hook answer (with its call's context, never its
token) and each assertion, append-only; DTR finds an assertion the moment the answer is out, and a
re-sign is a new assertion that never serves the previous evaluation."""

from __future__ import annotations

import copy
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.settings import Settings
from service.storage.db import make_engine
from service.storage.tables import CoverageAssertion, HookAnswer
from tests.crd.test_answers import hook_request
from tests.dtr.test_package import _answers, _assertion_id, _package_for
from tests.policy.test_scenarios import SCENARIOS

FIRST = SCENARIOS[0]  # 01: adult B-ALL, a recent weight of 72 kg
SIGN = "/cds-services/crd-order-sign"


def _with_weight(kg: float) -> dict[str, Any]:
    request = copy.deepcopy(hook_request(FIRST))
    for entry in request["prefetch"]["observations"]["entry"]:
        if entry["resource"]["id"] == "wt":
            entry["resource"]["valueQuantity"]["value"] = kg
    return request


def _sign(client: TestClient, request: dict[str, Any]) -> str:
    from service.crd.coverage_information import EXTENSION_URL

    body = client.post(SIGN, json=request).json()
    (action,) = body["systemActions"]
    (info,) = [e for e in action["resource"]["extension"] if e["url"] == EXTENSION_URL]
    return next(p["valueString"] for p in info["extension"] if p["url"] == "coverage-assertion-id")


def _weight(bundle: dict[str, Any]) -> float:
    response = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "QuestionnaireResponse"
    )
    value: float = _answers(response)["weight-kg"]["valueDecimal"]
    return value


def test_the_package_finds_the_assertion_straight_after_signing(client: TestClient) -> None:
    # No wait and no retry between the CRD answer and the DTR call, a hundred times over.
    ids = set()
    for _ in range(100):
        assertion = _assertion_id(client, FIRST)
        ids.add(assertion)
        assert _package_for(client, assertion)["entry"], assertion
    assert len(ids) == 100, "every signing is a new assertion"


def test_a_re_sign_never_serves_the_previous_evaluation(client: TestClient) -> None:
    earlier = _sign(client, _with_weight(50))
    later = _sign(client, _with_weight(43))
    assert earlier != later
    assert _weight(_package_for(client, later)) == 43
    assert _weight(_package_for(client, earlier)) == 50, "the older assertion stays, as given"


def _signed_order(client: TestClient, request: dict[str, Any]) -> dict[str, Any]:
    """The order as the EHR holds it after applying our update."""
    (action,) = client.post(SIGN, json=request).json()["systemActions"]
    order: dict[str, Any] = action["resource"]
    return order


def _again(request: dict[str, Any], order: dict[str, Any]) -> dict[str, Any]:
    again = copy.deepcopy(request)
    again["hookInstance"] = f"{request['hookInstance']}-again"
    again["context"]["draftOrders"]["entry"][0]["resource"] = order
    return again


def _carried(order: dict[str, Any]) -> list[str]:
    from service.crd.coverage_information import EXTENSION_URL

    return [
        p["valueString"]
        for e in order.get("extension", [])
        if e["url"] == EXTENSION_URL
        for p in e["extension"]
        if p["url"] == "coverage-assertion-id"
    ]


def test_a_re_sign_that_changes_nothing_sends_no_update(
    settings: Settings, client: TestClient
) -> None:
    """CRD resp-35. The order keeps its assertion id; the form reached with it shows today's
    record (48 kg), and the evaluation is kept in a row that continues that assertion."""
    order = _signed_order(client, _with_weight(50))
    (given,) = _carried(order)
    body = client.post(SIGN, json=_again(_with_weight(48), order)).json()
    assert body["systemActions"] == []
    assert body["cards"], "the cards are still said"
    assert _weight(_package_for(client, given)) == 48
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        continued = session.scalars(
            select(CoverageAssertion).where(CoverageAssertion.continues == given)
        ).all()
    engine.dispose()
    assert len(continued) == 1 and continued[0].assertion_id != given


def test_a_re_sign_that_changes_the_guidance_sends_the_update(client: TestClient) -> None:
    order = _signed_order(client, _with_weight(50))
    (given,) = _carried(order)
    # The EHR's copy says something else than we would now (a client edited it, or an earlier
    # answer of ours said something else): the update goes, with a new assertion.
    for part in order["extension"][-1]["extension"]:
        if part["url"] == "covered":
            part["valueCode"] = "not-covered"
    (action,) = client.post(SIGN, json=_again(_with_weight(50), order)).json()["systemActions"]
    (now,) = _carried(action["resource"])
    assert now != given
    assert _weight(_package_for(client, given)) == 50, "the superseded assertion, as given"


def test_every_answer_is_kept_with_its_call_and_no_token(
    settings: Settings, client: TestClient
) -> None:
    request = hook_request(FIRST) | {
        "fhirServer": "http://127.0.0.1:9/fhir",
        "fhirAuthorization": {
            "access_token": "secret-ehr-token",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "payer",
        },
    }
    sent = client.post(SIGN, json=request).json()
    client.post(SIGN, json=request)
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        answers = session.scalars(select(HookAnswer).order_by(HookAnswer.id)).all()
        assertions = session.scalars(select(CoverageAssertion)).all()
    engine.dispose()
    assert len(answers) == 2 and len(assertions) == 2, "append-only: nothing overwritten"
    assert answers[0].response == sent
    assert answers[0].context == request["context"]
    assert (answers[0].fhir_server, answers[0].patient_id) == ("http://127.0.0.1:9/fhir", "pat")
    assert {a.patient_id for a in assertions} == {"pat"}
    stored = repr([(a.context, a.response) for a in answers])
    assert "secret-ehr-token" not in stored
