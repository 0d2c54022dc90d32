"""The notification outbox on the runtime's clock: an endpoint down for a minute gets the decision
when it answers again, the Subscription says `error` meanwhile and `active` after; an event given
up after the retry period leaves a gap in the event numbers the EHR can see, and `$status` tells
the truth throughout (Subscriptions Backport, "Handling Errors as a Server")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_settings
from tests.pas.test_subscriptions import _parameters, subscription
from tests.pas.test_workbench import _decide, _sign_in, _submit
from tests.support.clock import ManualClock, examples_app
from tests.support.receiver import Receiver, receiver
from tests.support.waiting import settled

# How often the outbox is looked at in these tests: the clock is moved by hand, and each move
# is seen within this (wall) time.
POLL_S = 0.05


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as started:
        yield started


def _app(
    database_url: str, reviewers_file: Path, clock: ManualClock, **settings: Any
) -> Iterator[TestClient]:
    configured = make_settings(
        database_url, reviewers_file=reviewers_file, notification_poll_s=POLL_S, **settings
    )
    with TestClient(examples_app(configured, clock), base_url="https://testserver") as test_client:
        yield test_client


@pytest.fixture
def client(database_url: str, reviewers_file: Path, clock: ManualClock) -> Iterator[TestClient]:
    yield from _app(database_url, reviewers_file, clock)


@pytest.fixture
def short_lived(
    database_url: str, reviewers_file: Path, clock: ManualClock
) -> Iterator[TestClient]:
    """Events given up a minute after their decision."""
    yield from _app(database_url, reviewers_file, clock, notification_retry_period_s=60)


def _subscribe(client: TestClient, hook: Receiver) -> str:
    made = client.post("/fhir/Subscription", json=subscription(hook.url, "full-resource"))
    assert made.status_code == 201 and made.json()["status"] == "requested", made.text
    assert len(hook.wait_for(1)) == 1  # the handshake
    subscription_id = str(made.json()["id"])
    assert _settled(client, subscription_id, "active")["status"]["valueCode"] == "active"
    return subscription_id


def _decided(client: TestClient, identifier: str) -> str:
    _, case_id = _submit(client, identifier=identifier)
    assert _decide(client, case_id, action="approve").status_code == 303
    return case_id


def _event(notification: dict[str, Any]) -> tuple[str, str, str]:
    """(event number, events since the start, the focus's id)."""
    parameters = _parameters(notification)
    part = {p["name"]: p for p in parameters["notification-event"]["part"]}
    focus = part["focus"]["valueReference"]["reference"].rsplit("/", 1)[1]
    since = parameters["events-since-subscription-start"]["valueString"]
    return part["event-number"]["valueString"], since, focus


def _status(client: TestClient, subscription_id: str) -> dict[str, Any]:
    answer = client.get(f"/fhir/Subscription/{subscription_id}/$status")
    assert answer.status_code == 200, answer.text
    bundle = answer.json()
    assert bundle["type"] == "searchset" and bundle["total"] == 1
    parameters = {p["name"]: p for p in bundle["entry"][0]["resource"]["parameter"]}
    assert parameters["type"]["valueCode"] == "query-status"
    return parameters


def _settled(client: TestClient, subscription_id: str, wanted: str) -> dict[str, Any]:
    """`$status` once it says `wanted`, or as it stands after 15 s: a delivery's outcome is
    committed just after the endpoint answers (a deadline, not a measurement)."""
    return settled(
        lambda: _status(client, subscription_id),
        lambda found: found["status"]["valueCode"] == wanted,
    )


def _arrived(hook: Receiver, count: int) -> list[tuple[dict[str, str], Any]]:
    arrived = hook.wait_for(count)
    assert len(arrived) == count, f"{len(arrived)} of {count} posts arrived"
    return arrived


def test_an_endpoint_down_for_a_minute_gets_the_decision_when_it_is_back(
    client: TestClient, hook: Receiver, clock: ManualClock
) -> None:
    subscription_id = _subscribe(client, hook)
    _sign_in(client)
    hook.status = 503
    first_case = _decided(client, "down-1")
    _arrived(hook, 2)  # the first attempt, refused
    down = _settled(client, subscription_id, "error")
    assert down["status"]["valueCode"] == "error"
    assert "HTTP 503" in down["error"]["valueCodeableConcept"]["text"]
    assert client.get(f"/fhir/Subscription/{subscription_id}").json()["status"] == "error"

    clock.advance(seconds=60)
    _arrived(hook, 3)  # tried again within the minute, still refused
    hook.status = 200
    clock.advance(seconds=300)  # past the longest pause between attempts
    (_, delivered) = _arrived(hook, 4)[3]
    assert _event(delivered) == ("1", "1", first_case)
    assert delivered["entry"][1]["resource"]["preAuthRef"]  # full-resource: the decision

    second_case = _decided(client, "down-2")
    (_, second) = _arrived(hook, 5)[4]
    assert _event(second) == ("2", "2", second_case)
    assert _settled(client, subscription_id, "active")["status"]["valueCode"] == "active"
    read = client.get(f"/fhir/Subscription/{subscription_id}").json()
    assert read["status"] == "active" and "error" not in read


def test_a_later_decision_waits_behind_an_undelivered_one_and_follows_it(
    client: TestClient, hook: Receiver, clock: ManualClock
) -> None:
    _subscribe(client, hook)
    _sign_in(client)
    hook.status = 500
    first_case = _decided(client, "order-1")
    _arrived(hook, 2)
    second_case = _decided(client, "order-2")
    hook.status = 200
    clock.advance(seconds=300)
    sent = [_event(body) for _, body in _arrived(hook, 4)[2:]]
    assert sent == [("1", "2", first_case), ("2", "2", second_case)]


def test_an_event_given_up_leaves_a_gap_the_ehr_can_see(
    short_lived: TestClient, hook: Receiver, clock: ManualClock
) -> None:
    client = short_lived
    subscription_id = _subscribe(client, hook)
    _sign_in(client)
    hook.status = 503
    _decided(client, "lost-1")
    _arrived(hook, 2)
    clock.advance(seconds=61)  # the retry period is over: this attempt is the last
    _arrived(hook, 3)
    hook.status = 200
    second_case = _decided(client, "lost-2")
    (_, second) = _arrived(hook, 4)[3]
    assert _event(second) == ("2", "2", second_case)  # event 1 never came: a gap
    assert len(hook.wait_for(5, within_s=1.0)) == 4  # and it is not sent again
    status = _status(client, subscription_id)
    # The subscriber recovers from a lost event ($inquire), so the server does not say active.
    assert status["status"]["valueCode"] == "error"
    assert status["events-since-subscription-start"]["valueString"] == "2"


def test_status_lists_the_callers_subscriptions_by_status(
    client: TestClient, hook: Receiver
) -> None:
    subscription_id = _subscribe(client, hook)
    listed = client.get("/fhir/Subscription/$status", params={"status": "active,error"}).json()
    assert [e["fullUrl"].split("/")[-2] for e in listed["entry"]] == [subscription_id]
    none = client.get("/fhir/Subscription/$status", params={"status": "off"}).json()
    assert none["total"] == 0
    assert client.get("/fhir/Subscription/unknown/$status").status_code == 404
