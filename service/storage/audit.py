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
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from service.storage.tables import AuditEntry, Base

_AUDIT: Table = AuditEntry.__table__  # type: ignore[assignment]

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

    def store(self, model: type[Base], values: Mapping[str, Any]) -> None: ...

    def close(self) -> None: ...


def patient_hash(patient_id: str | None, key: bytes) -> str | None:
    """A keyed hash: stable for correlation, useless for looking patients up without the key."""
    if not patient_id:
        return None
    return hmac.new(key, patient_id.encode(), hashlib.sha256).hexdigest()


# A queued row: its table and its column values. Plain values, not ORM objects: building a mapped
# instance on the request path cost more than writing the row later.
Row = tuple[Table, Mapping[str, Any]]
_AUDIT_FIELDS = [f.name for f in fields(HookAudit)]


class BatchedWriter:
    def __init__(self, sessions: sessionmaker[Session], flush_interval_s: float) -> None:
        self._sessions = sessions
        self._interval = flush_interval_s
        self._queue: queue.SimpleQueue[Row | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def record(self, entry: HookAudit) -> None:
        self._queue.put((_AUDIT, {name: getattr(entry, name) for name in _AUDIT_FIELDS}))

    def store(self, model: type[Base], values: Mapping[str, Any]) -> None:
        """Insert or replace (by primary key) a row of `model`'s table, in the next batch."""
        self._queue.put((model.__table__, values))  # type: ignore[arg-type]

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        running = True
        while running:
            batch, running = self._collect()
            if batch:
                self._write(batch)

    def _collect(self) -> tuple[list[Row], bool]:
        batch: list[Row] = []
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

    def _write(self, batch: list[Row]) -> None:
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


def _rows_by_table(batch: list[Row]) -> dict[Table, list[Mapping[str, Any]]]:
    """Rows per table; a keyed row queued twice in a batch is written once, the last."""
    found: dict[Table, dict[object, Mapping[str, Any]]] = {}
    for position, (table, values) in enumerate(batch):
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
