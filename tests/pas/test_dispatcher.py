"""The outbox across processes: two replicas on one database, the first of them sending. A
decision made on it while the EHR's endpoint refuses, the replica SIGKILLed half a second later,
the endpoint back: the other replica takes the outbox over and delivers the decision, then a
second decision too, numbered after it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.pas.test_decisions import Reviewer, _submit_cases
from tests.pas.test_outbox import _event
from tests.pas.test_subscriptions import subscription
from tests.support.receiver import Receiver, receiver
from tests.support.replicas import replica_process
from tests.support.waiting import settled

SENDS = "this process delivers the notification outbox"
# Short pauses, so a test sees several attempts and a take-over within seconds of wall time.
OUTBOX = {
    "NOTIFICATION_POLL_S": "0.2",
    "NOTIFICATION_FIRST_RETRY_S": "0.2",
    "NOTIFICATION_LONGEST_RETRY_S": "1",
}


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as started:
        yield started


def _logged(log: Path, words: str, within_s: float = 30.0) -> bool:
    """Whether `words` appear in the log within `within_s` (a deadline, not a measurement)."""
    return settled(
        lambda: log.is_file() and words in log.read_text(errors="replace"), bool, within_s
    )


def _delivered(hook: Receiver, case_id: str, within_s: float = 30.0) -> dict[str, Any] | None:
    """The first notification about `case_id` that the endpoint took (answered 2xx)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        posts = list(zip(hook.received, hook.answered, strict=False))
        for (_, body), status in posts:
            if status < 300 and len(body["entry"]) > 1 and _event(body)[2] == case_id:
                return dict(body)
        time.sleep(0.05)
    return None


def _settled(url: str, subscription_id: str) -> str:
    """The Subscription's status once it is `active`, or as it stands after 15 s (a delivery's
    outcome is committed just after the endpoint answers)."""
    with httpx.Client(base_url=url, timeout=30) as http:

        def status() -> str:
            found = http.get(f"/fhir/Subscription/{subscription_id}/$status").json()
            parameters = {p["name"]: p for p in found["entry"][0]["resource"]["parameter"]}
            return str(parameters["status"]["valueCode"])

        return settled(status, lambda found: found == "active")


def test_a_decision_outlives_the_replica_that_made_it(
    database_url: str, tmp_path: Path, reviewers_file: Path, hook: Receiver
) -> None:
    environment = {"REVIEWERS_FILE": str(reviewers_file), **OUTBOX}
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    with replica_process(database_url, first_log, **environment) as (first, process):
        assert _logged(first_log, SENDS), "the first replica never took the outbox"
        with replica_process(database_url, second_log, **environment) as (second, _):
            with httpx.Client(base_url=second, timeout=30) as http:
                made = http.post("/fhir/Subscription", json=subscription(hook.url))
            assert made.status_code == 201 and made.json()["status"] == "requested", made.text
            assert _settled(second, made.json()["id"]) == "active"  # the handshake was taken
            (case_id, later_case) = _submit_cases(second, 2)
            hook.status = 503
            deciding = Reviewer(first, "rn.lee")
            assert deciding.decide(case_id, {"action": "approve"}).status_code == 303
            deciding.close()
            assert len(hook.wait_for(2)) == 2  # the handshake; the first replica tried, was refused
            time.sleep(0.5)  # the scenario's half second, not a measurement
            process.kill()
            process.wait()
            hook.status = 200

            found = _delivered(hook, case_id)
            assert found is not None, "the decision was never delivered"
            assert _event(found)[0] == "1"
            assert _logged(second_log, SENDS, within_s=0)  # the second replica sent it
            other = Reviewer(second, "rn.lee")
            decided = other.decide(later_case, {"action": "deny", "reason": "DOSE"})
            assert decided.status_code == 303
            other.close()
            later = _delivered(hook, later_case)
            assert later is not None, "the second decision was never delivered"
            assert _event(later)[0] == "2"
            assert _settled(second, made.json()["id"]) == "active"
