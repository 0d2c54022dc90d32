"""At most LOGIN_CONCURRENT_CHECKS password checks run at once in a worker: sign-ins beyond them
wait LOGIN_CHECK_WAIT_S, then are answered 503 with Retry-After (and are not counted against
their username), and the other routes answer while the checks run. Counted by a checker that
holds every check until the test lets it go; what that bounds in memory is measured by
bench/login_memory.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from service.auth import reviewers
from tests.auth.conftest import reviewer_app
from tests.pas.test_workbench import _sign_in
from tests.support.clock import ManualClock

SLOTS = 2
SIGN_INS = 6


class HeldHasher(PasswordHasher):
    """Checks that wait for the test's word, counting how many run at once."""

    def __init__(self) -> None:
        super().__init__()
        self.go = threading.Event()
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            self.go.wait(timeout=30)
            return super().verify(hash, password)
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldHasher]:
    hasher = HeldHasher()
    monkeypatch.setattr(reviewers, "_HASHER", hasher)
    yield hasher
    hasher.go.set()  # whatever the test did, no check stays held


@pytest.fixture
def client(database_url: str, reviewers_file: Path, clock: ManualClock) -> Iterator[TestClient]:
    settings: dict[str, Any] = {"login_concurrent_checks": SLOTS, "login_check_wait_s": 0.2}
    with reviewer_app(database_url, reviewers_file, clock, **settings) as test_client:
        yield test_client


def test_no_more_password_checks_run_at_once_than_the_slots(
    client: TestClient, held: HeldHasher
) -> None:
    client.get("/review/login")  # one browser: its form token first, then the parallel posts
    with ThreadPoolExecutor(SIGN_INS) as pool:
        futures = [pool.submit(_sign_in, client, "wrong guess") for _ in range(SIGN_INS)]
        # The checks are held: the sign-ins answered meanwhile are those that found no slot.
        done = as_completed(futures, timeout=20)
        turned_away = [next(done).result() for _ in range(SIGN_INS - SLOTS)]
        assert client.get("/review/login").status_code == 200, "other routes still answer"
        held.go.set()
        answers = [f.result(timeout=20) for f in futures]
    assert held.most == SLOTS
    assert [a.status_code for a in turned_away] == [503] * (SIGN_INS - SLOTS)
    assert all(a.headers["retry-after"] == "1" for a in turned_away)
    assert "busy" in turned_away[0].text
    assert sorted(a.status_code for a in answers) == [401] * SLOTS + [503] * (SIGN_INS - SLOTS)
    # Turned away unchecked, they were not counted: ten wrong passwords still get their answer.
    statuses = [_sign_in(client, "wrong guess").status_code for _ in range(10 - SLOTS)]
    assert statuses == [401] * (10 - SLOTS)
