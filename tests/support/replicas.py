"""The service as separate processes on one database, as replicas behind a load balancer run it:
each with its own writer, its own notifier and its own port, started and stopped by the test."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO

from service.settings import PROJECT_ROOT
from tests.support.clock import EXAMPLES_DATE
from tools.processes import free_port, stop, wait_until_up


@contextmanager
def replica(database_url: str, log: Path, **environment: str) -> Iterator[str]:
    """A running service process; its loopback URL."""
    with replica_process(database_url, log, **environment) as (url, _):
        yield url


def start_service(
    database_url: str, output: IO[bytes], **environment: str
) -> tuple[str, subprocess.Popen[bytes]]:
    """`python -m service serve` on a free loopback port, as `make run` configures it (no
    client authentication, the examples' date), not yet waited for; its URL and process."""
    port = free_port()
    env = os.environ | {
        "ENVIRONMENT": "development",
        "AUTH_MODE": "off",
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "BASE_URL": "https://payer.example.org",
        "EVALUATION_DATE": EXAMPLES_DATE.isoformat(),
        **environment,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "serve"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    return f"http://127.0.0.1:{port}", process


@contextmanager
def replica_process(
    database_url: str, log: Path, **environment: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A running service process, its loopback URL and the process (a test may kill it)."""
    with log.open("ab") as output:
        url, process = start_service(database_url, output, **environment)
        try:
            wait_until_up(f"{url}/cds-services", process, log)
            yield url, process
        finally:
            stop(process)


@contextmanager
def replicas(count: int, database_url: str, logs: Path, **environment: str) -> Iterator[list[str]]:
    """`count` replicas on the same database; their URLs."""
    with ExitStack() as stack:
        yield [
            stack.enter_context(
                replica(database_url, logs / f"replica-{number}.log", **environment)
            )
            for number in range(count)
        ]
