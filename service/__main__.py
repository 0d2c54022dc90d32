"""`python -m service migrate` brings the database up to date; `python -m service serve` does
that and serves on HOST:PORT; `python -m service prune` deletes what is older than
RETENTION_DAYS (run it daily, from cron or a scheduler); `python -m service hash-password` reads
a reviewer's password from stdin and prints its Argon2id hash for REVIEWERS_FILE.

For containers: `python -m service probe [live|ready]` exits 0 when this container's service
answers /health/live (or /health/ready) with 200 (Docker's HEALTHCHECK: the image has no curl);
`python -m service drain [PID]` sends SIGTERM to the serving process (PID 1 by default, a
container's), which begins its drain (Kubernetes' preStop hook)."""

from __future__ import annotations

import os
import signal
import sys

import httpx
import uvicorn

from service.auth.reviewers import hash_password
from service.clock import SYSTEM_CLOCK
from service.logs import configure_logging
from service.settings import DatabaseSettings, Settings, get_settings
from service.storage.db import make_engine, session_factory
from service.storage.locks import Lease
from service.storage.migrate import upgrade
from service.storage.retention import prune

COMMANDS = ("migrate", "serve", "prune", "hash-password", "probe", "drain")


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "serve"
    if command not in COMMANDS:
        print(f"usage: python -m service [{'|'.join(COMMANDS)}], not {command!r}", file=sys.stderr)
        return 2
    if command == "probe":
        return _probe(argv[2] if len(argv) > 2 else "live")
    if command == "drain":
        os.kill(int(argv[2]) if len(argv) > 2 else 1, signal.SIGTERM)
        return 0
    if command == "hash-password":
        return _hash_password()
    # Migrating needs the database and nothing else: `EVALUATION_DATE=... make run` must not
    # stop here on a setting only serving checks.
    storage = DatabaseSettings()
    configure_logging(storage.log_level)
    upgrade(storage.database_url)
    if command == "migrate":
        return 0
    settings = get_settings()
    if command == "prune":
        return _prune(settings)
    _serve(settings)
    return 0


def _hash_password() -> int:
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        print("give the password on stdin", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def _serve(settings: Settings) -> None:
    uvicorn.run(
        "service.app:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_config=None,
        access_log=False,
        # The client is the connection's peer; X-Forwarded-For is read only from TRUSTED_PROXIES
        # (service/auth/client_address.py), not from any loopback peer as uvicorn would.
        proxy_headers=False,
        timeout_keep_alive=settings.keep_alive_timeout_s,
        timeout_graceful_shutdown=settings.graceful_shutdown_timeout_s,
    )


def _probe(which: str) -> int:
    if which not in ("live", "ready"):
        print(f"probe live or ready, not {which!r}", file=sys.stderr)
        return 2
    url = f"http://127.0.0.1:{get_settings().port}/health/{which}"
    try:
        return 0 if httpx.get(url, timeout=3).status_code == 200 else 1
    except httpx.HTTPError as error:
        print(f"{url}: {error}", file=sys.stderr)
        return 1


def _prune(settings: Settings) -> int:
    """Once per cluster: a scheduler on every replica may call it, the lease holder prunes."""
    engine = make_engine(settings.database_url)
    lease = Lease(engine, "retention")
    try:
        if not lease.held():
            print("another process is pruning; nothing done", file=sys.stderr)
            return 0
        removed = prune(session_factory(engine), settings, SYSTEM_CLOCK.now())
    finally:
        lease.release()
        engine.dispose()
    print(", ".join(f"{table}: {count}" for table, count in removed.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
