"""A CDS Hooks JWT is good once: refused when replayed to the same worker, to another worker of the
same service (WORKERS=2, a real server) and to another replica on the same database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from service.auth.replay import claim as claim_unit
from service.auth.replay import claim_jti
from service.clock import SYSTEM_CLOCK
from service.settings import PROJECT_ROOT
from service.storage.retention import prune_expired
from service.storage.tables import AuditEntry, CoverageAssertion, HookAnswer
from tests.conftest import make_settings
from tests.crd.test_answers import hook_request
from tests.policy.test_scenarios import SCENARIOS
from tests.support.clients import BASE, EHR_A, EHR_B, Ehr, bearer, registry_file
from tests.support.clock import EXAMPLES_DATE, ManualClock, examples_app
from tools.processes import free_port, stop, wait_until_up

SIGN = "/cds-services/crd-order-sign"


def test_a_jti_is_claimed_once_until_it_expires(sessions: sessionmaker[Session]) -> None:

    def claim(jti: str, expires_at: float, now: float) -> bool:
        with sessions.begin() as session:
            return claim_jti(session, "iss", jti, expires_at, now)

    assert claim("j1", expires_at=100, now=50)
    assert not claim("j1", expires_at=100, now=60), "replayed while live"
    assert claim("j1", expires_at=200, now=150), "its earlier use has expired"
    assert claim("j2", expires_at=100, now=60)
    with sessions.begin() as session:
        assert prune_expired(session, now=160) == 1  # j2; j1 now lives until 200
    with sessions.begin() as session:
        assert not claim_unit("iss", "j1", 300, lambda: 170.0)(session)
        assert claim_unit("other-iss", "j1", 300, lambda: 170.0)(session), "per issuer"


def _replica(database_url: str, registry: Path) -> TestClient:
    settings = make_settings(
        database_url, auth_mode="jwt", base_url="http://testserver", smart_clients_file=registry
    )
    return TestClient(examples_app(settings))


def test_a_token_replayed_to_another_replica_is_refused(database_url: str, tmp_path: Path) -> None:
    registry = registry_file(tmp_path, EHR_A)
    token = EHR_A.hook_token(f"http://testserver{SIGN}")
    request = hook_request(SCENARIOS[0])
    with _replica(database_url, registry) as first, _replica(database_url, registry) as second:
        assert first.post(SIGN, json=request, headers=bearer(token)).status_code == 200
        replayed = second.post(SIGN, json=request, headers=bearer(token))
        fresh = second.post(
            SIGN, json=request, headers=bearer(EHR_A.hook_token(f"http://testserver{SIGN}"))
        )
    assert replayed.status_code == 401 and replayed.content == b""
    assert fresh.status_code == 200


def test_the_refused_replay_left_nothing_behind(
    database_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    registry = registry_file(tmp_path, EHR_A)
    token = EHR_A.hook_token(f"http://testserver{SIGN}")
    request = hook_request(SCENARIOS[0])
    with _replica(database_url, registry) as first, _replica(database_url, registry) as second:
        first.post(SIGN, json=request, headers=bearer(token))
        second.post(SIGN, json=request, headers=bearer(token))
    with sessions() as session:
        answers = session.scalar(select(func.count()).select_from(HookAnswer))
        assertions = session.scalar(select(func.count()).select_from(CoverageAssertion))
    assert (answers, assertions) == (1, 1)


@pytest.fixture
def two_workers(database_url: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "AUTH_"))} | {
        "ENVIRONMENT": "development",
        "AUTH_MODE": "jwt",
        "SMART_CLIENTS_FILE": str(registry_file(tmp_path, EHR_A)),
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "BASE_URL": url,
        "WORKERS": "2",
        "EVALUATION_DATE": EXAMPLES_DATE.isoformat(),
    }
    log = tmp_path / "service.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_up(f"{url}/cds-services", process, log)
            yield url
        finally:
            stop(process)


def test_a_token_replayed_to_the_other_worker_is_refused(two_workers: str) -> None:
    # A server process runs on the system clock: its tokens are signed by the same.
    token = EHR_A.hook_token(f"{two_workers}{SIGN}", now=SYSTEM_CLOCK.time())
    request = hook_request(SCENARIOS[0])
    statuses = []
    # A new connection each time: the kernel hands them to either worker, and a per-worker cache
    # alone would let one replay through on the worker that has not seen the token.
    for _ in range(12):
        with httpx.Client(timeout=30) as http:
            statuses.append(
                http.post(f"{two_workers}{SIGN}", json=request, headers=bearer(token)).status_code
            )
        time.sleep(0.05)
    assert statuses.count(200) == 1 and statuses.count(401) == 11, statuses
    fresh = httpx.post(
        f"{two_workers}{SIGN}",
        json=request,
        headers=bearer(EHR_A.hook_token(f"{two_workers}{SIGN}", now=SYSTEM_CLOCK.time())),
        timeout=30,
    )
    assert fresh.status_code == 200


def _cached(
    database_url: str, tmp_path: Path, clock: ManualClock, entries: int, per_issuer: int
) -> TestClient:
    """Two registered EHRs; each worker's jti cache as small as a test can fill."""
    settings = make_settings(
        database_url,
        auth_mode="jwt",
        base_url=BASE,
        smart_clients_file=registry_file(tmp_path, EHR_A, EHR_B),
        replay_cache_entries=entries,
        replay_cache_entries_per_issuer=per_issuer,
    )
    return TestClient(examples_app(settings, clock), raise_server_exceptions=False)


def _call(app: TestClient, ehr: Ehr, token: str | None = None, body: Any = None) -> tuple[str, int]:
    """A signed order-sign call (a new token unless one is given); the token and the status."""
    token = token or ehr.hook_token(f"{BASE}{SIGN}")
    request = hook_request(SCENARIOS[0]) if body is None else body
    return token, app.post(SIGN, json=request, headers=bearer(token)).status_code


@pytest.mark.parametrize(
    ("entries", "per_issuer"), [(3, 3), (8, 2)], ids=["cache-full", "issuer-quota-spent"]
)
def test_one_client_filling_the_cache_locks_no_client_out(
    database_url: str, tmp_path: Path, clock: ManualClock, entries: int, per_issuer: int
) -> None:
    with _cached(database_url, tmp_path, clock, entries, per_issuer) as app:
        flood = [_call(app, EHR_A) for _ in range(entries + 2)]
        others = [_call(app, EHR_B) for _ in range(2)]
        assert [status for _, status in flood + others] == [200] * (entries + 4)
        assert _call(app, EHR_A)[1] == 200, "the flooding client's new calls still work"
        for token, _ in (flood[-1], others[-1], flood[0], others[0]):
            assert _call(app, EHR_A if token in dict(flood) else EHR_B, token)[1] == 401


def test_a_replay_past_the_cache_is_refused_after_a_failed_call(
    database_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    """A call that fails (here a body that is no hook request) still used its jti: the replay
    with a good body is refused by the table, as the cache, full, remembers nothing."""
    with _cached(database_url, tmp_path, clock, 1, 1) as app:
        assert _call(app, EHR_A)[1] == 200  # the cache is full from here on
        token, status = _call(app, EHR_A, body={"hook": "order-sign"})
        assert status == 400
        assert _call(app, EHR_A, token)[1] == 401
        token, status = _call(app, EHR_A, body=[])
        assert status == 400
        assert _call(app, EHR_A, token)[1] == 401


def test_the_cache_refuses_a_replay_before_any_work(
    database_url: str, tmp_path: Path, clock: ManualClock, sessions: sessionmaker[Session]
) -> None:
    """Another client's jtis still fit when one client has spent its quota: its replay is
    refused by the cache (at authentication: nothing evaluated, audited with no client), the
    flooder's by the table (after its work, audited as that client's)."""
    with _cached(database_url, tmp_path, clock, 4, 2) as app:
        flood = [_call(app, EHR_A) for _ in range(4)]
        token, _ = _call(app, EHR_B)
        assert _call(app, EHR_B, token)[1] == 401
        assert _call(app, EHR_A, flood[-1][0])[1] == 401
    with sessions() as session:
        refused = session.scalars(
            select(AuditEntry.client).where(AuditEntry.status_code == 401).order_by(AuditEntry.id)
        )
        assert refused.all() == [None, EHR_A.client_id]
