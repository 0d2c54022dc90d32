"""The reviewer sign-in throttle, through `/review/login`: ten failed attempts for a username lock
it for LOGIN_LOCKOUT_S (60 s), the right password included, with 429 and Retry-After and before
any password is checked; lockouts double; an unknown username reads the same; a client address has
its own budget, and X-Forwarded-For counts only from a trusted proxy; the count is shared by
replicas on one database."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from service.auth import reviewers
from tests.auth.conftest import reviewer_app
from tests.pas.conftest import PASSWORD
from tests.pas.test_workbench import _sign_in
from tests.support.clock import ManualClock

LOCKOUT_S = 60  # LOGIN_LOCKOUT_S's default


class CountingHasher(PasswordHasher):
    """Argon2id as the service uses it, counting the checks it makes."""

    def __init__(self) -> None:
        super().__init__()
        self.checks = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
        self.checks += 1
        return super().verify(hash, password)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    counting = CountingHasher()
    monkeypatch.setattr(reviewers, "_HASHER", counting)
    return counting


@pytest.fixture
def client(database_url: str, reviewers_file: Path, clock: ManualClock) -> Iterator[TestClient]:
    with reviewer_app(database_url, reviewers_file, clock) as test_client:
        yield test_client


def _fail(client: TestClient, times: int, username: str = "rn.lee") -> list[int]:
    return [_sign_in(client, "wrong guess", username).status_code for _ in range(times)]


def test_the_eleventh_attempt_is_refused_for_a_minute_even_with_the_right_password(
    client: TestClient, clock: ManualClock, hasher: CountingHasher
) -> None:
    assert _fail(client, 10) == [401] * 10
    refused = _sign_in(client)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == str(LOCKOUT_S)
    assert "Too many sign-in attempts" in refused.text and "wait 1 minute" in refused.text
    assert hasher.checks == 10, "a refused attempt checks no password"
    clock.advance(seconds=LOCKOUT_S - 1)
    still = _sign_in(client)
    assert (still.status_code, still.headers["retry-after"]) == (429, "1")
    clock.advance(seconds=1)
    assert _sign_in(client).status_code == 303


def test_lockouts_double_and_signing_in_clears_them(client: TestClient, clock: ManualClock) -> None:
    waits = []
    for _ in range(3):
        _fail(client, 10)
        refused = _sign_in(client)
        waits.append(int(refused.headers["retry-after"]))
        clock.advance(seconds=waits[-1])
    assert waits == [LOCKOUT_S, 2 * LOCKOUT_S, 4 * LOCKOUT_S]
    assert _sign_in(client).status_code == 303
    client.cookies.clear()  # another browser
    assert _fail(client, 10) == [401] * 10, "signing in cleared the count"
    assert _sign_in(client).headers["retry-after"] == str(LOCKOUT_S), "and the lockouts"


def test_an_unknown_username_is_locked_out_alike(client: TestClient) -> None:
    _fail(client, 10, "rn.lee")
    _fail(client, 10, "nobody")
    known, unknown = _sign_in(client), _sign_in(client, PASSWORD, "nobody")
    assert known.status_code == unknown.status_code == 429
    assert known.headers["retry-after"] == unknown.headers["retry-after"]
    assert known.text == unknown.text  # the same form token: the browser holds its cookie


def test_failures_older_than_the_window_do_not_count(
    client: TestClient, clock: ManualClock
) -> None:
    _fail(client, 9)
    clock.advance(minutes=15)
    assert _fail(client, 10) == [401] * 10
    assert _sign_in(client).status_code == 429


def test_one_address_has_its_own_budget_across_usernames(
    database_url: str, reviewers_file: Path, clock: ManualClock
) -> None:
    with reviewer_app(database_url, reviewers_file, clock, login_address_failures=5) as client:
        statuses = [_sign_in(client, "guess", f"user-{n}").status_code for n in range(5)]
        assert statuses == [401] * 5
        assert _sign_in(client).status_code == 429, "a sixth name from the same address"
        client.headers["X-Forwarded-For"] = "198.51.100.9"
        assert _sign_in(client).status_code == 429, "X-Forwarded-For is not believed"
    with reviewer_app(database_url, reviewers_file, clock, peer=("198.51.100.20", 1)) as other:
        assert _sign_in(other).status_code == 303, "another address, the same database"


def test_behind_a_trusted_proxy_the_forwarded_address_counts(
    database_url: str, reviewers_file: Path, clock: ManualClock
) -> None:
    proxy = ("10.0.0.2", 443)
    with reviewer_app(
        database_url,
        reviewers_file,
        clock,
        peer=proxy,
        login_address_failures=2,
        trusted_proxies=["10.0.0.0/8"],
    ) as client:
        client.headers["X-Forwarded-For"] = "192.0.2.1, 198.51.100.3"
        assert [_sign_in(client, "guess", f"u{n}").status_code for n in range(2)] == [401, 401]
        assert _sign_in(client).status_code == 429
        client.headers["X-Forwarded-For"] = "192.0.2.1, 198.51.100.4"
        assert _sign_in(client).status_code == 303, "the proxy's other clients sign in"


def test_the_count_is_shared_by_replicas(
    database_url: str, reviewers_file: Path, clock: ManualClock
) -> None:
    with (
        reviewer_app(database_url, reviewers_file, clock) as first,
        reviewer_app(database_url, reviewers_file, clock) as second,
    ):
        statuses = [_sign_in(app, "guess").status_code for app in (first, second) * 5]
        assert statuses == [401] * 10
        assert _sign_in(first).status_code == _sign_in(second).status_code == 429


def test_an_ipv6_client_is_counted_by_its_64(
    database_url: str, reviewers_file: Path, clock: ManualClock
) -> None:
    """One host holds a whole /64: a new address per attempt must not buy a new budget."""
    for host in ("2001:db8:1:2::a", "2001:db8:1:2::b"):
        with reviewer_app(
            database_url, reviewers_file, clock, (host, 1), login_address_failures=2
        ) as client:
            _sign_in(client, "guess", f"from-{host}")
    with reviewer_app(
        database_url, reviewers_file, clock, ("2001:db8:1:2::c", 1), login_address_failures=2
    ) as same:
        assert _sign_in(same).status_code == 429
    with reviewer_app(
        database_url, reviewers_file, clock, ("2001:db8:1:3::a", 1), login_address_failures=2
    ) as other:
        assert _sign_in(other).status_code == 303


def test_parallel_attempts_on_two_replicas_are_each_counted(
    database_url: str, reviewers_file: Path, clock: ManualClock
) -> None:
    """Twenty wrong passwords at once, half to each replica: exactly ten are checked."""
    settings: dict[str, Any] = {"login_check_wait_s": 60}
    with (
        reviewer_app(database_url, reviewers_file, clock, **settings) as first,
        reviewer_app(database_url, reviewers_file, clock, **settings) as second,
    ):
        for app in (first, second):
            app.get("/review/login")  # each browser's form token, before the parallel posts
        with ThreadPoolExecutor(8) as pool:
            answers = pool.map(lambda app: _sign_in(app, "guess"), [first, second] * 10)
            statuses = [answer.status_code for answer in answers]
    assert sorted(statuses) == [401] * 10 + [429] * 10
