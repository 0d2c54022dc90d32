"""Engine creation. SQLite runs in WAL mode with `synchronous=FULL`: a commit survives a crash of
the process and of the machine, which is what "acknowledged means stored" needs. Its transactions
begin when SQLAlchemy's do, with our own BEGIN: the driver's own would begin only at the first
write (the reads before it outside any transaction) and would end a savepoint with a commit, where
the writer needs one savepoint per unit of work (service/storage/commits.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(
    database_url: str, sqlite_busy_timeout_s: float = 30, sqlite_begin: str = "BEGIN"
) -> Engine:
    """`sqlite_busy_timeout_s`: how long SQLite itself waits for another process's write lock.
    Its wait sleeps in steps of 1 to 100 ms; the writer (service/storage/commits.py) takes 0 and
    retries on its own, in steps of a tenth of a millisecond. `sqlite_begin`: the writer's is
    `BEGIN IMMEDIATE`, so a batch reads what it decides on under the write lock it writes with."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, json_serializer=_json)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": sqlite_busy_timeout_s},
        json_serializer=_json,
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", lambda connection: connection.exec_driver_sql(sqlite_begin))
    return engine


def _json(value: object) -> str:
    """JSON columns through orjson (a stored evaluation: about 12 us with json.dumps, 1 us with
    orjson, on the writer thread that shares the GIL with requests); the standard library for
    what orjson refuses (integers beyond 64 bits, non-string keys)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def _sqlite_pragmas(connection: Any, _record: object) -> None:
    connection.isolation_level = None  # the driver begins nothing; the "begin" listener does
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
