"""Replicas as a deployment runs them: three `python -m service serve` processes started together
on one empty PostgreSQL database all migrate it and come up ready; then, under a steady load from
clients that send only to replicas whose /health/ready passes (as a load balancer does), one
replica (two workers) gets SIGTERM, drains and stops, and not one request is lost: every request
gets a 2xx answer. Bounded in requests and in time; the figures are printed (`pytest -s`)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from service.settings import PROJECT_ROOT
from tests.crd.test_answers import hook_request
from tests.policy.test_scenarios import SCENARIOS
from tests.support.replicas import start_service
from tools import postgres
from tools.processes import stop, wait_until_up

CLIENTS = 4
BEFORE_SIGTERM = 60  # answered requests before the SIGTERM
AFTER_EXIT = 60  # and after the drained replica has exited
MOST_REQUESTS = 5000
POLL_S = 0.1  # how often the clients' balancer asks each replica /health/ready
DRAIN_S = 2.0  # several polls: the balancer sees "not ready" long before the replica stops


@pytest.fixture
def empty_postgresql() -> Iterator[str]:
    if not postgres.available():
        pytest.fail("no PostgreSQL server: apt-get install postgresql (.ci/run does)")
    with postgres.server() as url:
        yield postgres.create_database(url, f"replicas_{uuid.uuid4().hex[:8]}")


def _start(database_url: str, log: IO[bytes], workers: int) -> tuple[str, subprocess.Popen[bytes]]:
    return start_service(
        database_url,
        log,
        WORKERS=str(workers),
        DRAIN_SECONDS=str(DRAIN_S),
        GRACEFUL_SHUTDOWN_TIMEOUT_S="10",
        DB_POOL_SIZE="2",
        DB_MAX_OVERFLOW="2",
    )


def _service(*command: str, port: str = "") -> int:
    """`python -m service ...` as a container's hook or health check runs it."""
    env = os.environ | ({"PORT": port} if port else {})
    done = subprocess.run(
        [sys.executable, "-m", "service", *command], cwd=PROJECT_ROOT, env=env, timeout=60
    )
    return done.returncode


@dataclass
class Balancer:
    """The replicas that last answered /health/ready with 200, as a load balancer keeps them."""

    urls: list[str]
    ready: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopped: threading.Event = field(default_factory=threading.Event)

    def follow(self) -> None:
        with httpx.Client(timeout=2) as http:
            while not self.stopped.wait(POLL_S):
                for url in self.urls:
                    try:
                        ok = http.get(f"{url}/health/ready").status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    with self.lock:
                        (self.ready.add if ok else self.ready.discard)(url)

    def pick(self, turn: int) -> str | None:
        with self.lock:
            ready = sorted(self.ready)
        return ready[turn % len(ready)] if ready else None


@dataclass
class Tally:
    answered: Counter[str] = field(default_factory=Counter)  # per replica
    closing: Counter[str] = field(default_factory=Counter)  # answered with Connection: close
    lost: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def total(self) -> int:
        with self.lock:
            return sum(self.answered.values()) + len(self.lost)


def _client(balancer: Balancer, tally: Tally, done: threading.Event, hook: Any) -> None:
    turn = 0
    with httpx.Client(timeout=30) as http:
        while not done.is_set() and tally.total() < MOST_REQUESTS:
            turn += 1
            url = balancer.pick(turn)
            if url is None:
                time.sleep(POLL_S)
                continue
            try:
                answer = http.post(f"{url}/cds-services/crd-order-sign", json=hook)
                problem = None if answer.is_success else f"{url}: {answer.status_code}"
            except httpx.HTTPError as error:
                problem = f"{url}: {type(error).__name__} {error}"
            with tally.lock:
                if problem is not None:
                    tally.lost.append(problem)
                    continue
                tally.answered[url] += 1
                if answer.headers.get("connection") == "close":
                    tally.closing[url] += 1


def _until(condition: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_replicas_start_together_and_one_leaves_under_load_without_a_lost_request(
    empty_postgresql: str, tmp_path: Path
) -> None:
    logs = [tmp_path / f"replica-{n}.log" for n in range(3)]
    files = [log.open("ab") for log in logs]
    started = [_start(empty_postgresql, file, 2 if n == 1 else 1) for n, file in enumerate(files)]
    try:
        for (url, process), log in zip(started, logs, strict=True):
            wait_until_up(f"{url}/health/ready", process, log, seconds=240)
            assert _service("probe", "ready", port=url.rsplit(":", 1)[1]) == 0
        _load_and_sigterm([url for url, _ in started], started[1][1], logs[1])
    finally:
        for (_, process), file in zip(started, files, strict=True):
            stop(process)
            file.close()


def _load_and_sigterm(urls: list[str], leaving: subprocess.Popen[bytes], log: Path) -> None:
    balancer, tally, done = Balancer(urls), Tally(), threading.Event()
    hook = hook_request(SCENARIOS[0])
    threads = [threading.Thread(target=balancer.follow)]
    threads += [
        threading.Thread(target=_client, args=(balancer, tally, done, hook)) for _ in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    try:
        _until(lambda: tally.total() >= BEFORE_SIGTERM, 120)
        sent_at, before = time.monotonic(), tally.total()
        # As Kubernetes' preStop hook does; the kubelet's SIGTERM that follows changes nothing.
        _service("drain", str(leaving.pid))
        leaving.terminate()
        drained = _drain_seen(urls[1])
        _until(lambda: urls[1] not in balancer.ready, 30)
        unready_after = time.monotonic() - sent_at
        leaving.wait(timeout=60)
        exited_after, at_exit = time.monotonic() - sent_at, tally.total()
        _until(lambda: tally.total() >= at_exit + AFTER_EXIT, 120)
    finally:
        done.set()
        balancer.stopped.set()
        for thread in threads:
            thread.join()
    print(
        f"\nleaving {urls[1]}; answered by replica: {dict(tally.answered)}; "
        f"requests before SIGTERM {before}, until exit "
        f"{at_exit - before}, after {tally.total() - at_exit}; answered with Connection: close "
        f"{dict(tally.closing)}; not ready {unready_after:.2f} s and exited {exited_after:.2f} s "
        f"after SIGTERM; lost {len(tally.lost)}"
    )
    assert drained, "after SIGTERM the replica kept answering: not ready, closing connections"
    assert tally.lost == [], log.read_text()[-3000:]
    assert tally.total() >= at_exit + AFTER_EXIT, "the two replicas left carried the load"
    assert set(tally.closing) <= {urls[1]}, "the others kept their connections open"


def _drain_seen(url: str) -> bool:
    """Whether the replica, after SIGTERM, answers not ready on a connection it then closes
    (until it does, its answers are the ones from before the signal reached its workers)."""
    with httpx.Client(timeout=5) as http:
        for _ in range(500):
            try:
                answer = http.get(f"{url}/health/ready")
            except httpx.HTTPError:
                return False  # it stopped serving without a drain
            if answer.status_code == 503:
                return answer.headers.get("connection") == "close"
            time.sleep(0.01)
    return False
