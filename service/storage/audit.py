"""Writes off the request path: the hook-call audit log and the evaluations behind assertions.

Rows are queued in memory and committed by one background thread in a single transaction every
`audit_flush_interval_s` (default 1 s): a crash can lose at most the rows of the last interval.
Shutdown flushes what is queued. Nothing written here is acknowledged to a client as stored; what
is (feedback, questionnaire responses) is committed before the answer. A lost assertion row only
means DTR evaluates the order again instead of reusing the stored evaluation.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import queue
import threading
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from service.storage.tables import AuditEntry, Base

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HookAudit:
    at: datetime
    hook: str
    hook_instance: str
    service_id: str
    client: str | None
    patient_hash: str | None
    orders_in_scope: list[str]
    outcome: str
    status_code: int
    duration_ms: float


class AuditLog(Protocol):
    def record(self, entry: HookAudit) -> None: ...

    def store(self, row: Base) -> None: ...

    def close(self) -> None: ...


def patient_hash(patient_id: str | None, key: bytes) -> str | None:
    """A keyed hash: stable for correlation, useless for looking patients up without the key."""
    if not patient_id:
        return None
    return hmac.new(key, patient_id.encode(), hashlib.sha256).hexdigest()


class BatchedWriter:
    def __init__(self, sessions: sessionmaker[Session], flush_interval_s: float) -> None:
        self._sessions = sessions
        self._interval = flush_interval_s
        self._queue: queue.SimpleQueue[Base | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def record(self, entry: HookAudit) -> None:
        self._queue.put(AuditEntry(**asdict(entry)))

    def store(self, row: Base) -> None:
        """Insert or replace (by primary key) a row, in the next batch."""
        self._queue.put(row)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        running = True
        while running:
            batch, running = self._collect()
            if batch:
                self._write(batch)

    def _collect(self) -> tuple[list[Base], bool]:
        batch: list[Base] = []
        try:
            item = self._queue.get(timeout=self._interval)
        except queue.Empty:
            return batch, True
        while item is not None:
            batch.append(item)
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, True
        return batch, False

    def _write(self, batch: list[Base]) -> None:
        """One transaction, one multi-row statement per table: this thread shares the GIL with the
        request path, so it spends as little Python time per row as it can (no ORM unit of work)."""
        try:
            with self._sessions.begin() as session:
                dialect = session.get_bind().dialect.name
                for table, rows in _rows_by_table(batch).items():
                    session.execute(_upsert(table, dialect), rows)
        except SQLAlchemyError:
            # The writer must outlive a database hiccup; the loss is logged, with no PHI.
            log.exception("batch of %d rows not written", len(batch))


def _rows_by_table(batch: list[Base]) -> dict[Table, list[dict[str, Any]]]:
    """Column values per table; a keyed row queued twice in a batch is written once, the last."""
    found: dict[Table, dict[object, dict[str, Any]]] = {}
    for position, row in enumerate(batch):
        table = cast(Table, row.__table__)
        values = {
            column.key: getattr(row, column.key)
            for column in table.columns
            if not (column.primary_key and getattr(row, column.key) is None)
        }
        key = tuple(values.get(c.key) for c in table.primary_key.columns)
        identity = position if None in key else key
        found.setdefault(table, {})[identity] = values
    return {table: list(rows.values()) for table, rows in found.items()}


def _upsert(table: Table, dialect: str) -> Insert:
    """INSERT, replacing any row with the same primary key (an assertion evaluated again)."""
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    keys = [c.key for c in table.primary_key.columns]
    if any(c.autoincrement is True for c in table.primary_key.columns):
        return statement
    others = {c.key: statement.excluded[c.key] for c in table.columns if c.key not in keys}
    return statement.on_conflict_do_update(index_elements=keys, set_=others)
