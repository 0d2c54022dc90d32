"""One decision per case, across processes: two replicas of the service on one database, two
reviewers pressing approve and deny on the same case at the same moment. Every case ends with
exactly one final decision; the loser is told, on a clear page, who decided it and when;
`$inquire` answers with what the database holds; a submitter subscribed full-resource hears
that one decision once. And the same Claim sent to both replicas at once is one request, both
answered with it (PAS: the same Claim identifier is the same request)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from service.auth.login_form import LOGIN_COOKIE
from service.auth.reviewers import COOKIE, hash_password
from tests.pas.test_submit import INQUIRE, SUBMIT, _action
from tests.pas.test_subscriptions import subscription
from tests.pas.test_workbench import _csrf
from tests.policy.test_scenarios import SCENARIOS
from tests.support.pas_requests import inquiry_bundle, pas_bundle
from tests.support.receiver import Receiver, receiver
from tests.support.replicas import replicas

RACES = 30
PASSWORD = "correct horse battery staple"
REVIEWERS = ("rn.lee", "md.park")
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
def urls(database_url: str, tmp_path: Path) -> Iterator[list[str]]:
    listed = [
        {"username": name, "name": name, "passwordHash": hash_password(PASSWORD)}
        for name in REVIEWERS
    ]
    reviewers = tmp_path / "reviewers.json"
    reviewers.write_text(json.dumps({"reviewers": listed}))
    with replicas(2, database_url, tmp_path, REVIEWERS_FILE=str(reviewers)) as started:
        yield started


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as started:
        yield started


class Reviewer:
    """A reviewer signed in on one replica (the session cookie is sent by hand: it is Secure, and
    the replicas are reached over plain loopback HTTP)."""

    def __init__(self, url: str, username: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        page = self.http.get("/review/login")
        form_cookie = {"cookie": f"{LOGIN_COOKIE}={page.cookies[LOGIN_COOKIE]}"}
        login = f"csrf={_csrf(page.text)}&username={username}&password={PASSWORD.replace(' ', '+')}"
        signed = self.http.post("/review/login", content=login, headers=FORM | form_cookie)
        assert signed.status_code == 303, signed.text
        found = re.search(rf"{COOKIE}=([^;]+)", signed.headers["set-cookie"])
        assert found is not None
        self.cookie = {"cookie": f"{COOKIE}={found.group(1)}"}
        self.csrf = _csrf(self.http.get("/review", headers=self.cookie).text)

    def decide(self, case_id: str, form: dict[str, str]) -> httpx.Response:
        """The decision as its confirmation page posts it (the page itself restates it only)."""
        body = "&".join(f"{k}={v}" for k, v in {"csrf": self.csrf, **form}.items())
        return self.http.post(
            f"/review/cases/{case_id}/confirm", content=body, headers=FORM | self.cookie
        )

    def close(self) -> None:
        self.http.close()


def _together(*calls: Any) -> list[Any]:
    """The calls at the same moment, from threads released by one barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call: Any) -> Any:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def _submit_cases(url: str, count: int) -> dict[str, dict[str, Any]]:
    """case id -> the Bundle that made it."""
    cases = {}
    with httpx.Client(base_url=url, timeout=30) as http:
        for number in range(count):
            bundle = pas_bundle(
                SCENARIOS[0], None, identifier=f"race-{number}", order_id=f"order-{number}"
            )
            answer = http.post(SUBMIT, json=bundle)
            assert answer.status_code == 200, answer.text
            cases[answer.json()["entry"][0]["resource"]["id"]] = bundle
    return cases


def _stored(database_url: str) -> dict[str, tuple[str, str | None, list[str]]]:
    """case id -> (status, authorization number, its final decisions' actions)."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(text("select id, status, preauth_ref from prior_auth_request"))
        found = {row.id: (row.status, row.preauth_ref, []) for row in rows}
        decisions = connection.execute(
            text(
                "select request_id, action from prior_auth_decision"
                " where action in ('approve', 'deny') order by id"
            )
        )
        for request_id, action in decisions:
            found[request_id][2].append(action)
    engine.dispose()
    return {key: (status, ref, list(actions)) for key, (status, ref, actions) in found.items()}


def _race(case_id: str, number: int, first: Reviewer, second: Reviewer) -> dict[str, Any]:
    """Approve on one replica, deny on the other, at once (which replica approves alternates)."""
    approver, denier = (first, second) if number % 2 == 0 else (second, first)
    approved, denied = _together(
        lambda: approver.decide(case_id, {"action": "approve"}),
        lambda: denier.decide(case_id, {"action": "deny", "reason": "DOSE"}),
    )
    return {"approve": approved, "deny": denied}


def test_approve_and_deny_at_once_decide_a_case_once(
    urls: list[str], database_url: str, hook: Receiver
) -> None:
    with httpx.Client(base_url=urls[0], timeout=30) as http:
        made = http.post("/fhir/Subscription", json=subscription(hook.url, "full-resource"))
    assert made.status_code == 201 and made.json()["status"] == "requested", made.text
    cases = _submit_cases(urls[0], RACES)
    first, second = Reviewer(urls[0], REVIEWERS[0]), Reviewer(urls[1], REVIEWERS[1])
    answers = {case_id: _race(case_id, n, first, second) for n, case_id in enumerate(cases)}

    first.close(), second.close()
    stored = _stored(database_url)
    twice = {case_id: stored[case_id][2] for case_id in cases if len(stored[case_id][2]) != 1}
    assert twice == {}, f"{len(twice)} of {RACES} cases decided other than once"
    winners = {}
    for case_id, answer in answers.items():
        status, ref, (winner,) = stored[case_id]
        loser = "deny" if winner == "approve" else "approve"
        assert answer[winner].status_code == 303, answer[winner].text
        refused = answer[loser]
        assert refused.status_code == 409, refused.text  # a refusal, not a success
        words = "approved" if winner == "approve" else "denied"
        assert f"already {words} by " in refused.text and any(
            name in refused.text for name in REVIEWERS
        )
        assert (status, ref is not None) == (words, winner == "approve")
        winners[case_id] = winner

    with httpx.Client(base_url=urls[1], timeout=30) as http:
        for case_id, bundle in cases.items():
            current = http.post(INQUIRE, json=inquiry_bundle(bundle)).json()["entry"][0]
            resource = current["resource"]
            assert _action(resource) == ("A1" if winners[case_id] == "approve" else "A3")
            assert resource.get("preAuthRef") == stored[case_id][1]

    heard = hook.wait_for(RACES + 1)  # the handshake, then one notification per case
    late = hook.wait_for(RACES + 2, within_s=2.0)  # a second notification of a case, if any
    assert len(late) == len(heard) == RACES + 1
    notified = [entry["resource"] for _, bundle in heard[1:] for entry in bundle["entry"][1:]]
    assert sorted(r["id"] for r in notified) == sorted(cases)
    for focus in notified:
        assert _action(focus) == ("A1" if winners[focus["id"]] == "approve" else "A3")


def test_the_same_claim_sent_to_two_replicas_at_once_is_one_request(
    urls: list[str], database_url: str
) -> None:
    clients = [httpx.Client(base_url=url, timeout=30) for url in urls]
    try:
        for number in range(RACES):
            bundle = pas_bundle(
                SCENARIOS[0], None, identifier=f"twice-{number}", order_id=f"order-{number}"
            )
            answers = _together(*(partial(c.post, SUBMIT, json=bundle) for c in clients))
            assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
            ids = {a.json()["entry"][0]["resource"]["id"] for a in answers}
            assert len(ids) == 1  # both were answered with the one stored request
    finally:
        for client in clients:
            client.close()
    assert len(_stored(database_url)) == RACES
