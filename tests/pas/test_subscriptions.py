"""Subscriptions to prior-authorization decisions (Subscriptions Backport on PAS's topic,
rest-hook): a handshake before the Subscription is acknowledged, an event notification to the
submitter when a reviewer decides, id-only by default (PAS 2.0.1) or with the ClaimResponse
(full-resource); the endpoint may only be on the client's own registered origin; headers are kept
for delivery and never read back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.pas.subscriptions import FILTER_CRITERIA, PAS_TOPIC, PAYLOAD_CONTENT
from tests.pas.test_submit import _action
from tests.pas.test_workbench import _decide, _sign_in, _submit
from tests.support.clients import EHR_A, bearer, system_token
from tests.support.receiver import Receiver, receiver
from tests.support.waiting import settled

CLINIC_NPI = "1234567893"  # the requesting organization of tests/support/pas_requests.py


def subscription(
    endpoint: str,
    content: str = "id-only",
    organization: str = CLINIC_NPI,
    parameter: str = "org-identifier",
) -> dict[str, Any]:
    return {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "Prior-authorization decisions for the clinic",
        "criteria": PAS_TOPIC,
        "_criteria": {
            "extension": [{"url": FILTER_CRITERIA, "valueString": f"{parameter}={organization}"}]
        },
        "channel": {
            "type": "rest-hook",
            "endpoint": endpoint,
            "payload": "application/fhir+json",
            "_payload": {"extension": [{"url": PAYLOAD_CONTENT, "valueCode": content}]},
            "header": ["Authorization: Bearer clinic-secret"],
        },
    }


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as started:
        yield started


def _parameters(notification: dict[str, Any]) -> dict[str, Any]:
    status = notification["entry"][0]["resource"]
    return {p["name"]: p for p in status["parameter"]}


def test_a_subscription_is_requested_until_its_handshake_is_taken(
    client: TestClient, hook: Receiver
) -> None:
    """Subscriptions Backport 1.1.0 (channels): the server answers `requested`, sends the
    handshake (itself saying `requested`), and the Subscription is `active` once it was taken."""
    made = client.post("/fhir/Subscription", json=subscription(hook.url))
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["status"] == "requested"
    assert "header" not in body["channel"]  # the secret stays with us
    ((headers, handshake),) = hook.wait_for(1)
    assert headers["authorization"] == "Bearer clinic-secret"
    assert handshake["type"] == "history"
    assert _parameters(handshake)["type"]["valueCode"] == "handshake"
    assert _parameters(handshake)["status"]["valueCode"] == "requested"
    read = _read_once_not(client, body["id"], "requested")
    assert read["status"] == "active" and "header" not in read["channel"]


def test_an_endpoint_that_refuses_the_handshake_is_an_error(
    client: TestClient, hook: Receiver
) -> None:
    hook.status = 500
    made = client.post("/fhir/Subscription", json=subscription(hook.url))
    assert made.status_code == 201
    assert made.json()["status"] == "requested"
    assert len(hook.wait_for(1)) == 1
    read = _read_once_not(client, made.json()["id"], "requested")
    assert read["status"] == "error"
    assert read["error"] == "handshake not delivered: HTTP 500"


def _read_once_not(client: TestClient, subscription_id: str, status: str) -> dict[str, Any]:
    """The Subscription once its status is no longer `status`, or as it stands after 15 s (the
    handshake's outcome is committed just after the endpoint answers: a deadline, not a
    measurement)."""
    return settled(
        lambda: dict(client.get(f"/fhir/Subscription/{subscription_id}").json()),
        lambda read: read["status"] != status,
    )


@pytest.mark.parametrize("parameter", ["orgIdentifier", "org-identifier"])
def test_the_topics_filter_name_is_taken(
    client: TestClient, hook: Receiver, parameter: str
) -> None:
    """PAS 2.0.1's SubscriptionTopic declares the filter `orgIdentifier`; PAS 2.2 and the PAS
    test kit write `org-identifier`. Either subscribes, and the decision is heard."""
    made = client.post("/fhir/Subscription", json=subscription(hook.url, parameter=parameter))
    assert made.status_code == 201, made.text
    _, case_id = _submit(client)
    _sign_in(client)
    assert _decide(client, case_id, action="approve").status_code == 303
    (_, notification) = hook.wait_for(2)[1]
    assert _parameters(notification)["type"]["valueCode"] == "event-notification"


@pytest.mark.parametrize("content", ["id-only", "full-resource"])
def test_a_decision_is_notified_to_the_submitter(
    client: TestClient, hook: Receiver, content: str
) -> None:
    assert (
        client.post("/fhir/Subscription", json=subscription(hook.url, content)).status_code == 201
    )
    _, case_id = _submit(client)
    _sign_in(client)
    assert _decide(client, case_id, action="approve").status_code == 303
    (_, notification) = hook.wait_for(2)[1]
    parameters = _parameters(notification)
    assert parameters["type"]["valueCode"] == "event-notification"
    event = {p["name"]: p for p in parameters["notification-event"]["part"]}
    assert event["focus"]["valueReference"]["reference"].endswith(f"/fhir/ClaimResponse/{case_id}")
    assert event["event-number"]["valueString"] == "1"
    (focus,) = notification["entry"][1:]
    if content == "id-only":
        assert "resource" not in focus
        read = client.get(f"/fhir/ClaimResponse/{case_id}").json()
    else:
        read = focus["resource"]
    assert _action(read) == "A1" and read["preAuthRef"]


def test_another_organizations_subscription_hears_nothing(
    client: TestClient, hook: Receiver
) -> None:
    client.post("/fhir/Subscription", json=subscription(hook.url, organization="another-npi"))
    _, case_id = _submit(client)
    _sign_in(client)
    _decide(client, case_id, action="deny", reason="DOSE")
    assert len(hook.wait_for(2, within_s=1.0)) == 1  # the handshake only


@pytest.mark.parametrize(
    ("change", "mentions"),
    [
        (lambda s: s.update(criteria="http://example.org/other-topic"), "PAS topic"),
        (lambda s: s.pop("_criteria"), "filter-criteria"),
        (lambda s: s["channel"].update(type="websocket"), "rest-hook"),
        (lambda s: s["channel"].update(endpoint="ftp://x"), "endpoint"),
        (lambda s: s["channel"]["_payload"]["extension"][0].update(valueCode="empty"), "payload"),
    ],
)
def test_a_wrong_subscription_is_a_422(client: TestClient, change: Any, mentions: str) -> None:
    asked = subscription("https://ehr.example.org/notify")
    change(asked)
    answer = client.post("/fhir/Subscription", json=asked)
    assert answer.status_code == 422
    assert mentions in json.dumps(answer.json())


def test_a_client_is_notified_only_on_its_own_origin(secured: TestClient) -> None:
    token = system_token(secured, EHR_A, "system/Subscription.crd")
    elsewhere = secured.post(
        "/fhir/Subscription",
        json=subscription("https://attacker.example.net/x"),
        headers=bearer(token),
    )
    assert elsewhere.status_code == 422
    assert "registered FHIR servers" in elsewhere.text
    nobody = secured.post("/fhir/Subscription", json=subscription("https://attacker.example.net/x"))
    assert nobody.status_code == 401


def _with_header(header: str) -> Any:
    return lambda s: s["channel"].update(header=[header])


@pytest.mark.parametrize(
    ("change", "mentions"),
    [
        pytest.param(_with_header("Host: other-site.example.net"), "Host", id="host"),
        pytest.param(_with_header("X-Forwarded-Host: other.example"), "X-Forwarded-Host", id="xfh"),
        pytest.param(_with_header("Transfer-Encoding: chunked"), "Transfer-Encoding", id="hop"),
        pytest.param(_with_header("Connection: close"), "Connection", id="connection"),
        pytest.param(_with_header("Content-Length: 0"), "Content-Length", id="content-length"),
        pytest.param(_with_header("Authorization: Bearer caf\u00e9"), "ASCII", id="non-ascii"),
        pytest.param(_with_header("X-K\u00e9y: 1"), "ASCII", id="non-ascii-name"),
        pytest.param(_with_header("Bad Name: 1"), "Bad Name", id="not-a-token"),
        pytest.param(lambda s: s.update(_criteria=[1]), "Subscription.criteria", id="criteria"),
        pytest.param(lambda s: s.update(channel="rest-hook"), "Subscription.channel", id="channel"),
        pytest.param(
            lambda s: s["channel"].update(_payload="x"), "Subscription.channel", id="payload"
        ),
        pytest.param(
            lambda s: s["_criteria"].update(extension="x"), "Subscription.criteria", id="ext"
        ),
    ],
)
def test_a_malformed_or_unsafe_subscription_is_a_422(
    client: TestClient, change: Any, mentions: str
) -> None:
    """A header that routes (Host) or frames (Content-Length) the notification could send the
    ClaimResponse to another site behind a proxy; malformed elements are named, not a 500."""
    asked = subscription("https://ehr.example.org/notify")
    change(asked)
    answer = client.post("/fhir/Subscription", json=asked)
    assert answer.status_code == 422, answer.text
    assert answer.json()["resourceType"] == "OperationOutcome"
    assert mentions in json.dumps(answer.json(), ensure_ascii=False)


def test_an_api_key_header_is_delivered(client: TestClient, hook: Receiver) -> None:
    asked = subscription(hook.url)
    asked["channel"]["header"] = ["Authorization: Bearer s", "X-Api-Key: k1"]
    assert client.post("/fhir/Subscription", json=asked).status_code == 201
    ((headers, _),) = hook.wait_for(1)
    assert headers["x-api-key"] == "k1"


def test_a_client_has_a_bounded_number_of_subscriptions(
    database_url: str, reviewers_file: Any, hook: Receiver
) -> None:
    """Each Subscription costs a handshake now and a delivery per decision: a client that made
    30 in two seconds had us post to its endpoint 30 times for every decision."""
    from tests.conftest import make_settings
    from tests.support.clock import examples_app

    settings = make_settings(database_url, max_subscriptions_per_client=3)
    with TestClient(examples_app(settings), raise_server_exceptions=False) as client:
        made = [client.post("/fhir/Subscription", json=subscription(hook.url)) for _ in range(3)]
        assert [answer.status_code for answer in made] == [201, 201, 201]
        refused = client.post("/fhir/Subscription", json=subscription(hook.url))
        assert refused.status_code == 422, refused.text
        assert "3 Subscriptions" in refused.text
        assert client.delete(f"/fhir/Subscription/{made[0].json()['id']}").status_code == 204
        assert client.post("/fhir/Subscription", json=subscription(hook.url)).status_code == 201
