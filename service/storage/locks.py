"""Named locks shared by every process of a deployment: PostgreSQL advisory locks, or, on SQLite
(one machine), `flock` on a file beside the database. Both are released by the operating system or
the server when their process dies, so a crashed holder never leaves one behind.

- `exclusive(url, name)`: wait for the lock, hold it for a block (migrations: one runs, the others
  wait and then find the schema current).
- `Lease`: try to take it and keep it for as long as the process lives (the periodic jobs: jti
  pruning, retention, the outbox run in the one process holding their lease, not in every one).
"""

from __future__ import annotations

import fcntl
import logging
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """The advisory lock's number for a name (pg_advisory_lock takes a bigint)."""
    return zlib.crc32(f"coverage-requirements-service:{name}".encode())


def _lock_file(database_url: str, name: str) -> Path | None:
    """Beside a SQLite file; None for an in-memory database (one process, nothing to share)."""
    database = make_url(database_url).database
    if not database or database == ":memory:":
        return None
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f"{path.name}.{name}.lock")


def _is_sqlite(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "sqlite"


@contextmanager
def exclusive(database_url: str, name: str) -> Iterator[None]:
    """Until the block ends, no other process holds `name` on this database."""
    if _is_sqlite(database_url):
        path = _lock_file(database_url, name)
        if path is None:
            yield
            return
        with path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        return
    engine = create_engine(make_url(database_url), poolclass=NullPool, hide_parameters=True)
    try:
        with engine.connect() as connection:
            connection.execute(select(func.pg_advisory_lock(lock_key(name))))
            connection.commit()
            try:
                yield
            finally:
                connection.execute(select(func.pg_advisory_unlock(lock_key(name))))
                connection.commit()
    finally:
        engine.dispose()


class Lease:
    """`held()` takes the lease when it is free and answers whether this process has it;
    `release()` lets it go for good. The two are serialised: a `held()` still running in a worker
    thread when its caller was cancelled finishes before `release()` lets go of what it took,
    and none is taken after (else its connection, and the lock, outlived the process's engine)."""

    def __init__(self, engine: Engine, name: str) -> None:
        self._engine = engine
        self._name = name
        self._connection: Connection | None = None
        self._file: IO[str] | None = None
        self._guard = threading.Lock()
        self._released = False

    def held(self) -> bool:
        with self._guard:
            if self._released:
                return False
            url = self._engine.url.render_as_string(hide_password=False)
            if _is_sqlite(url):
                return self._held_file(_lock_file(url, self._name))
            return self._held_advisory()

    def release(self) -> None:
        with self._guard:
            self._released = True
            self._let_go()

    def _let_go(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the flock
            self._file = None
        if self._connection is not None:
            # Closed for good, not pooled: a session-level advisory lock outlives a rollback.
            self._connection.invalidate()
            self._connection.close()
            self._connection = None

    def _held_file(self, path: Path | None) -> bool:
        if path is None or self._file is not None:
            return True
        handle = path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def _held_advisory(self) -> bool:
        if self._connection is not None and self._still_connected(self._connection):
            return True
        connection = self._engine.connect()
        taken = connection.execute(select(func.pg_try_advisory_lock(lock_key(self._name))))
        if taken.scalar_one():
            connection.commit()
            self._connection = connection
            log.info("this process now runs the periodic job %r", self._name)
            return True
        connection.close()
        return False

    def _still_connected(self, connection: Connection) -> bool:
        """A lost connection lost its lock too (a restarted server); take it afresh."""
        try:
            connection.execute(text("SELECT 1"))
            connection.commit()
            return True
        except DBAPIError:
            connection.invalidate()
            connection.close()
            self._connection = None
            return False
