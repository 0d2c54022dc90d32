"""Service calls through HTTP: every refusal the front door makes, and the answers it gives."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from service.crd.coverage_information import EXTENSION_URL
from service.settings import Settings
from tests.conftest import make_settings
from tests.support.cds_hooks_shape import response_problems
from tests.support.clock import examples_app
from tests.support.loopback_fhir import loopback_fhir
from tests.support.resources import (
    blinatumomab_order,
    coverage,
    fhir_authorization,
    full_prefetch,
    hook_request,
    organization,
    other_order,
)

SIGN = "/cds-services/crd-order-sign"
Mutation = Callable[[dict[str, Any]], object]


def _valid() -> dict[str, Any]:
    return hook_request([blinatumomab_order()], full_prefetch())


def _set(path: str, value: object) -> Mutation:
    def mutate(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = body
        for key in parents:
            target = target[key]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value

    return mutate


_DELETE = object()
AUTH = fhir_authorization("t", scope="x", subject="s")


@pytest.mark.parametrize(
    ("mutate", "expected_status", "mentions"),
    [
        pytest.param(_set("hook", _DELETE), 400, "request.hook", id="no-hook"),
        pytest.param(
            _set("hookInstance", _DELETE), 400, "request.hookInstance", id="no-hook-instance"
        ),
        pytest.param(_set("hookInstance", 7), 400, "hookInstance", id="hook-instance-not-string"),
        pytest.param(_set("context", _DELETE), 400, "request.context", id="no-context"),
        pytest.param(_set("context", "Patient/1"), 400, "request.context", id="context-not-object"),
        pytest.param(
            _set("context.patientId", _DELETE), 400, "context.patientId", id="no-patient-id"
        ),
        pytest.param(_set("context.userId", _DELETE), 400, "context.userId", id="no-user-id"),
        pytest.param(
            _set("context.draftOrders", {"resourceType": "Patient"}),
            400,
            "draftOrders must be a FHIR Bundle",
            id="draft-orders-not-bundle",
        ),
        pytest.param(
            _set("context.draftOrders.entry", [{"fullUrl": "x"}]),
            400,
            "has no resource",
            id="entry-without-resource",
        ),
        pytest.param(
            _set("fhirAuthorization", AUTH),
            400,
            "fhirServer is required",
            id="token-without-server",
        ),
        pytest.param(_set("fhirServer", "not a url"), 400, "fhirServer", id="server-not-url"),
        pytest.param(
            _set("fhirServer", "ftp://ehr.example.org"), 400, "fhirServer", id="server-not-http"
        ),
        pytest.param(
            _set("hook", "order-select"),
            400,
            "'order-select' sent to the 'order-sign' service",
            id="hook-mismatch",
        ),
        pytest.param(
            _set("prefetch.patient", "Patient/1"), 400, "patient", id="prefetch-value-not-resource"
        ),
        pytest.param(
            _set("context.draftOrders.entry", [{"resource": blinatumomab_order(intent=None)}]),
            400,
            "intent",
            id="in-scope-order-not-fhir",
        ),
        pytest.param(
            _set("extension", {"davinci-crd.requestedVersion": "1.0"}),
            422,
            "not supported",
            id="crd-version-unknown",
        ),
        pytest.param(
            _set("prefetch.coverage", _DELETE),
            412,
            "coverage",
            id="coverage-neither-sent-nor-fetchable",
        ),
    ],
)
def test_bad_request(
    client: TestClient, mutate: Mutation, expected_status: int, mentions: str
) -> None:
    body = _valid()
    mutate(body)
    response = client.post(SIGN, json=body)
    assert response.status_code == expected_status, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert mentions in json.dumps(outcome)


@pytest.mark.parametrize(
    ("raw", "mentions"),
    [
        pytest.param(b"{not json", "not JSON", id="not-json"),
        pytest.param(b"[]", "must be a JSON object", id="array"),
        pytest.param(b"", "not JSON", id="empty"),
        pytest.param(b'"text"', "must be a JSON object", id="string"),
    ],
)
def test_unparsable_body(client: TestClient, raw: bytes, mentions: str) -> None:
    response = client.post(SIGN, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert mentions in response.text


def test_unknown_service_is_404(client: TestClient) -> None:
    response = client.post("/cds-services/nope", json=_valid())
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


def test_order_select_needs_selections(client: TestClient) -> None:
    body = _valid()
    body["hook"] = "order-select"
    response = client.post("/cds-services/crd-order-select", json=body)
    assert response.status_code == 400
    assert "context.selections" in response.text


def test_order_dispatch_needs_orders(client: TestClient) -> None:
    body = {
        "hook": "order-dispatch",
        "hookInstance": "x",
        "context": {"patientId": "pat1", "performer": "Practitioner/1"},
    }
    response = client.post("/cds-services/crd-order-dispatch", json=body)
    assert response.status_code == 400
    assert "dispatchedOrders" in response.text


def test_oversized_body_is_413(database_url: str) -> None:
    settings = make_settings(database_url, max_body_bytes=2000)
    with TestClient(examples_app(settings)) as small:
        body = _valid()
        body["padding"] = "x" * 5000
        declared = small.post(SIGN, json=body)
        assert declared.status_code == 413
        streamed = small.post(
            SIGN,
            content=iter([json.dumps(body).encode()]),
            headers={"content-type": "application/json"},
        )
        assert streamed.status_code == 413
        assert "exceeds 2000 bytes" in streamed.text


def _coverage_information(response_body: dict[str, Any]) -> dict[str, Any]:
    (action,) = response_body["systemActions"]
    (ext,) = [e for e in action["resource"]["extension"] if e["url"] == EXTENSION_URL]
    return {part["url"]: part for part in ext["extension"]}


def test_in_scope_order_gets_coverage_information(client: TestClient) -> None:
    response = client.post(SIGN, json=_valid())
    assert response.status_code == 200, response.text
    body = response.json()
    assert response_problems(body) == []
    info = _coverage_information(body)
    assert info["covered"]["valueCode"] == "covered"
    assert info["pa-needed"]["valueCode"] == "auth-needed"
    assert info["doc-needed"]["valueCode"] == "clinical"
    assert info["doc-purpose"]["valueCode"] == "withpa"
    assert info["billingCode"]["valueCoding"]["code"] == "J9039"
    assert info["coverage"]["valueReference"]["reference"] == "Coverage/cov1"
    assert info["questionnaire"]["valueCanonical"].endswith("/Questionnaire/blinatumomab-pa")


def test_order_select_asks_for_no_documentation(client: TestClient) -> None:
    body = _valid()
    body["hook"] = "order-select"
    body["context"]["selections"] = ["MedicationRequest/mr1"]
    response = client.post("/cds-services/crd-order-select", json=body)
    info = _coverage_information(response.json())
    assert "doc-needed" not in info and "questionnaire" not in info
    assert info["pa-needed"]["valueCode"] == "auth-needed"


def test_out_of_scope_orders_get_nothing(client: TestClient) -> None:
    body = hook_request([other_order()], full_prefetch())
    response = client.post(SIGN, json=body)
    assert response.json() == {"cards": [], "systemActions": []}


def test_only_the_in_scope_order_is_answered(client: TestClient) -> None:
    body = hook_request([other_order(), blinatumomab_order()], full_prefetch())
    actions = client.post(SIGN, json=body).json()["systemActions"]
    assert [a["resource"]["id"] for a in actions] == ["mr1"]


def test_no_coverage_is_answered_with_a_card(client: TestClient) -> None:
    body = hook_request([blinatumomab_order()], full_prefetch(coverages=[]))
    response = client.post(SIGN, json=body)
    assert response.status_code == 200
    (card,) = response.json()["cards"]
    assert response_problems(response.json()) == []
    assert "No active coverage" in card["summary"]
    assert "coverage-not-found" in card["detail"]
    assert card["extension"]["davinci-crd.associated-resource"] == [
        {"reference": "MedicationRequest/mr1"}
    ]


def test_null_coverage_prefetch_means_none(client: TestClient) -> None:
    body = _valid()
    body["prefetch"]["coverage"] = None
    assert "No active coverage" in client.post(SIGN, json=body).json()["cards"][0]["summary"]


def test_several_coverages_are_each_answered(client: TestClient) -> None:
    """SPEC section 5: one coverage-information per Coverage, in the order's one update."""
    body = hook_request(
        [blinatumomab_order()], full_prefetch(coverages=[coverage("a"), coverage("b")])
    )
    response = client.post(SIGN, json=body)
    assert response.status_code == 200, response.text
    assert response_problems(response.json()) == []
    (action,) = response.json()["systemActions"]
    covered = [
        p["valueReference"]["reference"]
        for e in action["resource"]["extension"]
        for p in e["extension"]
        if p["url"] == "coverage"
    ]
    assert covered == ["Coverage/a", "Coverage/b"]


def test_another_payers_coverage_is_400(database_url: str) -> None:
    settings = make_settings(database_url, payer_identifiers=["urn:payer|P1"])
    prefetch = full_prefetch(
        coverages=[coverage(payor=[{"identifier": {"system": "urn:payer", "value": "P9"}}])]
    )
    with TestClient(examples_app(settings)) as ours:
        response = ours.post(SIGN, json=hook_request([blinatumomab_order()], prefetch))
        assert response.status_code == 400
        prefetch["medicationRequests"]["entry"].append({"resource": organization(value="P1")})
        prefetch["coverage"]["entry"][0]["resource"]["payor"] = [
            {"reference": "Organization/payer1"}
        ]
        accepted = ours.post(SIGN, json=hook_request([blinatumomab_order()], prefetch))
        assert accepted.status_code == 200, accepted.text


def test_crd_2_0_request_is_answered(client: TestClient) -> None:
    body = _valid()
    body["extension"] = {"davinci-crd.requestedVersion": "2.0.1"}
    assert client.post(SIGN, json=body).status_code == 200


def test_every_call_is_audited(settings: Settings) -> None:
    with TestClient(examples_app(settings)) as audited:
        audited.post(SIGN, json=_valid())
        refused = copy.deepcopy(_valid())
        refused["prefetch"]["coverage"] = malformed_coverage()
        audited.post(SIGN, json=refused)
    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "select hook, service_id, patient_hash, orders_in_scope, outcome, status_code "
                "from audit_log order by id"
            )
        ).all()
    engine.dispose()
    assert [(r.outcome, r.status_code) for r in rows] == [
        ("coverage-information", 200),
        ("BadRequest", 400),
    ]
    orders = rows[0].orders_in_scope  # JSON text on SQLite, parsed already on PostgreSQL
    assert (json.loads(orders) if isinstance(orders, str) else orders) == ["MedicationRequest/mr1"]
    assert rows[0].patient_hash and "pat1" not in rows[0].patient_hash


def malformed_coverage() -> dict[str, Any]:
    """A Coverage whose period is not a Period: which payer's rules apply rests on it (a 400)."""
    return full_prefetch(coverages=[{**coverage("a"), "period": "2026"}])["coverage"]


def test_feedback_is_stored(settings: Settings) -> None:
    feedback = {
        "feedback": [
            {
                "card": "c1",
                "outcome": "accepted",
                "outcomeTimestamp": "2026-11-24T10:00:00Z",
                "acceptedSuggestions": [{"id": "s1"}],
            }
        ]
    }
    with TestClient(examples_app(settings)) as app_client:
        assert app_client.post(f"{SIGN}/feedback", json=feedback).status_code == 200
        bad = app_client.post(
            f"{SIGN}/feedback", json={"feedback": [{"card": "c1", "outcome": "maybe"}]}
        )
        assert bad.status_code == 400
        assert app_client.post("/cds-services/nope/feedback", json=feedback).status_code == 404
    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        rows = connection.execute(text("select card_uuid, outcome from feedback")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("c1", "accepted")]


def test_unfetchable_clinical_data_is_indeterminate_technical(client: TestClient) -> None:
    with loopback_fhir() as ehr:
        ehr.serve("Condition?patient=pat1", status=503, body={})
        body = _valid()
        del body["prefetch"]["conditions"]
        body["fhirServer"] = ehr.base_url
        body["extension"] = {"davinci-crd.requestedVersion": "2.2"}
        response = client.post(SIGN, json=body)
    assert response.status_code == 200, response.text
    info = _coverage_information(response.json())
    assert info["covered"]["valueCode"] == "indeterminate"
    assert info["reason"]["valueCodeableConcept"]["coding"][0]["code"] == "technical"
    assert [path for path, _ in ehr.requests] == ["/Condition?patient=pat1"]


def test_nothing_is_fetched_for_out_of_scope_orders(client: TestClient) -> None:
    with loopback_fhir() as ehr:
        body = hook_request([other_order()], {"patient": None})
        body["fhirServer"] = ehr.base_url
        response = client.post(SIGN, json=body)
    assert response.json() == {"cards": [], "systemActions": []}
    assert ehr.requests == []


def test_a_client_following_discovery_is_asked_for_clinical_data_only_in_scope(
    client: TestClient,
) -> None:
    """Prefetch as discovery asks (patient, coverage, medications): the in-scope order makes the
    service query the EHR for what the criteria read, once per key; nothing else is asked."""
    advertised = {"patient", "coverage", "medications"}
    with loopback_fhir() as ehr:
        for query in (
            "Condition?patient=pat1",
            "MedicationRequest?patient=pat1&_include=MedicationRequest:medication",
            "MedicationAdministration?patient=pat1&_include=MedicationAdministration:medication",
        ):
            ehr.serve(query, body={"resourceType": "Bundle", "type": "searchset", "entry": []})
        body = _valid()
        body["prefetch"] = {k: v for k, v in body["prefetch"].items() if k in advertised}
        body["prefetch"]["medications"] = None
        body["fhirServer"] = ehr.base_url
        body["fhirAuthorization"] = AUTH
        response = client.post(SIGN, json=body)
    assert response.status_code == 200, response.text
    fetched = sorted(path.split("?")[0] for path, _ in ehr.requests)
    assert fetched == [
        "/Condition",
        "/MedicationAdministration",
        "/MedicationRequest",
        "/Observation",
    ]
    assert _coverage_information(response.json())


def test_inactive_coverage_is_not_covered(client: TestClient) -> None:
    ended = coverage(period={"start": "2024-01-01", "end": "2025-12-31"})
    body = hook_request([blinatumomab_order()], full_prefetch(coverages=[ended]))
    body["extension"] = {"davinci-crd.requestedVersion": "2.2"}
    info = _coverage_information(client.post(SIGN, json=body).json())
    assert info["covered"]["valueCode"] == "not-covered"
    assert "pa-needed" not in info, "CRD crd-ci-q2"
    assert info["reason"]["valueCodeableConcept"]["coding"][0]["code"] == "no-active-coverage"
    # CRD 2.0.1 (the default) has no such code: the reason goes as text.
    del body["extension"]
    info = _coverage_information(client.post(SIGN, json=body).json())
    assert info["covered"]["valueCode"] == "not-covered" and "pa-needed" not in info
    assert info["reason"]["valueCodeableConcept"] == {
        "text": "The patient's coverage is not active on this date."
    }


def test_unfetchable_clinical_data_in_crd_2_0_is_conditional_technical(client: TestClient) -> None:
    with loopback_fhir() as ehr:
        ehr.serve("Condition?patient=pat1", status=503, body={})
        body = _valid()
        del body["prefetch"]["conditions"]
        body["fhirServer"] = ehr.base_url
        body["extension"] = {"davinci-crd.requestedVersion": "2.0"}
        response = client.post(SIGN, json=body)
    assert response.status_code == 200, response.text
    info = _coverage_information(response.json())
    assert info["covered"]["valueCode"] == "conditional", "2.0.1 has no indeterminate"
    assert info["info-needed"]["valueCode"] == "OTH"
    # 2.0.1's reason value set has no `technical`: said in text; crd-ci-q2 asks for pa-needed.
    assert "coding" not in info["reason"]["valueCodeableConcept"]
    assert "could not be retrieved" in info["reason"]["valueCodeableConcept"]["text"]
    assert info["pa-needed"]["valueCode"] == "auth-needed"


def test_the_evaluation_is_stored_under_the_assertion_id(settings: Settings) -> None:
    with TestClient(examples_app(settings)) as app_client:
        body = app_client.post(SIGN, json=_valid()).json()
    assertion_id = _coverage_information(body)["coverage-assertion-id"]["valueString"]
    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "select policy_id, order_ref, coverage_ref, evaluation from coverage_assertion "
                "where assertion_id = :id"
            ),
            {"id": assertion_id},
        ).one()
    engine.dispose()
    assert (row.policy_id, row.order_ref, row.coverage_ref) == (
        "blinatumomab",
        "MedicationRequest/mr1",
        "Coverage/cov1",
    )
    stored = json.loads(row.evaluation) if isinstance(row.evaluation, str) else row.evaluation
    assert stored["criteria"]["DX"]["status"] == "unknown"
    assert stored["outcome"] == "incomplete"


def test_a_malformed_coverage_is_a_400_not_a_guess(client: TestClient) -> None:
    """Which payer's rules apply rests on the Coverage: it is validated as FHIR."""
    broken = coverage()
    broken["period"] = 2026
    body = hook_request([blinatumomab_order()], full_prefetch(coverages=[broken]))
    response = client.post(SIGN, json=body)
    assert response.status_code == 400, response.text
    assert "Coverage.period" in response.text
