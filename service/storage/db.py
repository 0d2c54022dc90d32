"""Engine creation. SQLite runs in WAL mode with `synchronous=FULL`: a commit survives a crash of
the process and of the machine, which is what "acknowledged means stored" needs. Its transactions
begin when SQLAlchemy's do, with our own BEGIN: the driver's own would begin only at the first
write (the reads before it outside any transaction) and would end a savepoint with a commit, where
the writer needs one savepoint per unit of work (service/storage/commits.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.orm import Session, sessionmaker

from service.settings import DatabaseSettings


@dataclass(frozen=True)
class PoolLimits:
    """A PostgreSQL engine's connections: `size` kept open, up to `overflow` more under load."""

    size: int = 5
    overflow: int = 5
    timeout_s: float = 10.0
    connect_timeout_s: int = 5

    @classmethod
    def for_requests(cls, settings: DatabaseSettings) -> PoolLimits:
        return cls(
            settings.db_pool_size,
            settings.db_max_overflow,
            settings.db_pool_timeout_s,
            settings.db_connect_timeout_s,
        )

    @classmethod
    def for_writer(cls, settings: DatabaseSettings) -> PoolLimits:
        """The writer's one thread uses one connection; the overflow is the periodic jobs'
        leases (service/storage/locks.py: jti pruning, the notification outbox), each held by
        one process of the cluster."""
        return cls(1, 2, settings.db_pool_timeout_s, settings.db_connect_timeout_s)


def make_engine(
    database_url: str,
    sqlite_busy_timeout_s: float = 30,
    pool: PoolLimits | None = None,
    sqlite_begin: str = "BEGIN",
) -> Engine:
    """`sqlite_busy_timeout_s`: how long SQLite itself waits for another process's write lock.
    Its wait sleeps in steps of 1 to 100 ms; the writer (service/storage/commits.py) takes 0 and
    retries on its own, in steps of a tenth of a millisecond. `sqlite_begin`: the writer's is
    `BEGIN IMMEDIATE`, so a batch reads what it decides on under the write lock it writes with."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        limits = pool or PoolLimits()
        engine = create_engine(
            url,
            pool_pre_ping=True,
            pool_size=limits.size,
            max_overflow=limits.overflow,
            pool_timeout=limits.timeout_s,
            connect_args={"connect_timeout": limits.connect_timeout_s},
            json_serializer=_json,
            hide_parameters=True,
        )
        event.listen(engine, "handle_error", without_row_data)
        return engine
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": sqlite_busy_timeout_s},
        json_serializer=_json,
        hide_parameters=True,
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", lambda connection: connection.exec_driver_sql(sqlite_begin))
    return engine


def without_row_data(context: ExceptionContext) -> None:
    """PostgreSQL's error text quotes the data: "Failing row contains (...)", "Key (client_id,
    identifier)=(...)", "invalid input syntax ...: <value>". Every log line and traceback of a
    failed statement would carry patient ids and Claim identifiers; the error keeps its class and
    SQLSTATE (what code branches on) and names only the table, column and constraint."""
    error = context.original_exception
    diag = getattr(error, "diag", None)
    if diag is None:
        return
    names = {
        "table": diag.table_name,
        "column": diag.column_name,
        "constraint": diag.constraint_name,
    }
    where = ", ".join(f"{kind} {name}" for kind, name in names.items() if name)
    text = f"{type(error).__name__} (SQLSTATE {getattr(error, 'sqlstate', None)}) {where}".strip()
    error.args = (text,)
    wrapped = context.sqlalchemy_exception
    if wrapped is not None:
        wrapped.args = (f"({type(error).__module__}.{type(error).__name__}) {text}",)


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
