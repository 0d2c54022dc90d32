"""Nothing acknowledged is lost: the service runs as its own process, clients submit questionnaire
responses and hook calls concurrently, the process is killed with SIGKILL mid-stream, restarted on
the same database, and every response it acknowledged (201) is there, intact. On SQLite (WAL,
synchronous=FULL) and on a real PostgreSQL server (tools/postgres.py; .ci/run installs it)."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.settings import PROJECT_ROOT
from tests.crd.test_answers import hook_request
from tests.policy.test_scenarios import SCENARIOS
from tests.robustness.test_mutated_requests import _response_bases
from tests.support.clock import EXAMPLES_DATE
from tools import postgres
from tools.processes import free_port, stop, wait_until_up

CLIENTS = 6
KILL_AFTER = 60  # acknowledged responses before the kill


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'service.db'}"
        return
    if not postgres.available():
        pytest.fail("no PostgreSQL server: apt-get install postgresql (.ci/run does)")
    with postgres.server() as url:
        yield postgres.create_database(url, f"durability_{uuid.uuid4().hex[:8]}")


class Service:
    def __init__(self, database_url: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = os.environ | {
            "ENVIRONMENT": "development",
            "AUTH_MODE": "off",
            "DATABASE_URL": database_url,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            # One public address across the restart, as a deployment has (the canonical URLs of
            # what it publishes hang on it: service/policy/canonical.py).
            "BASE_URL": "https://payer.example.org",
            "EVALUATION_DATE": EXAMPLES_DATE.isoformat(),
        }
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_until_up(f"{self.url}/cds-services", self.process, log)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.log.close()

    def stop(self) -> None:
        stop(self.process)
        self.log.close()


def _clients(
    service: Service, stop: threading.Event
) -> tuple[list[threading.Thread], dict[str, Any]]:
    acknowledged: dict[str, Any] = {}  # id -> the response as sent
    lock = threading.Lock()
    base = _response_bases()[0]
    hook = hook_request(SCENARIOS[0])

    def submit() -> None:
        with httpx.Client(base_url=service.url, timeout=10) as http:
            while not stop.is_set():
                sent = copy.deepcopy(base)
                sent["identifier"] = {"system": "urn:ehr:qr", "value": uuid.uuid4().hex}
                try:
                    answer = http.post("/fhir/QuestionnaireResponse", json=sent)
                except httpx.HTTPError:
                    continue  # killed mid-request: not acknowledged, nothing promised
                if answer.status_code == 201:
                    with lock:
                        acknowledged[answer.json()["id"]] = sent

    def sign() -> None:
        with httpx.Client(base_url=service.url, timeout=10) as http:
            while not stop.is_set():
                try:
                    http.post("/cds-services/crd-order-sign", json=hook)
                except httpx.HTTPError:
                    continue

    threads = [threading.Thread(target=submit) for _ in range(CLIENTS - 2)]
    threads += [threading.Thread(target=sign) for _ in range(2)]
    for thread in threads:
        thread.start()
    return threads, acknowledged


def test_acknowledged_responses_survive_sigkill(database_url: str, tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    service = Service(database_url, log)
    stop = threading.Event()
    threads, acknowledged = _clients(service, stop)
    deadline = time.monotonic() + 60
    while len(acknowledged) < KILL_AFTER and time.monotonic() < deadline:
        time.sleep(0.01)
    service.kill()  # mid-stream: the clients are still sending
    stop.set()
    for thread in threads:
        thread.join()
    assert len(acknowledged) >= KILL_AFTER, log.read_text()[-2000:]

    restarted = Service(database_url, log)
    try:
        with httpx.Client(base_url=restarted.url, timeout=10) as http:
            for response_id, sent in acknowledged.items():
                stored = http.get(f"/fhir/QuestionnaireResponse/{response_id}")
                assert stored.status_code == 200, response_id
                body = stored.json()
                assert body["identifier"] == sent["identifier"]
                assert body["item"] == sent["item"]
                assert body["status"] == "completed"
            # Sent again after the crash, an acknowledged response is not stored twice.
            some_id, some = next(iter(acknowledged.items()))
            again = http.post("/fhir/QuestionnaireResponse", json=some)
            assert again.status_code == 200 and again.json()["id"] == some_id
    finally:
        restarted.stop()
