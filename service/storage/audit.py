"""The audit log's rows: one per hook call (HookAudit) and one per DTR access, with the patient
as a keyed hash. Nobody waits for them: the writer (service/storage/commits.py) queues them and
writes them with its next transaction, within `audit_flush_interval_s` at the latest."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.storage.tables import Base


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
    return hmac.digest(key, patient_id.encode(), "sha256").hex()


# A queued row: its table and its column values. Plain values, not ORM objects: building a mapped
# instance on the request path cost more than writing the row later.
Row = tuple[Table, Mapping[str, Any]]


def write_rows(session: Session, rows: list[Row]) -> None:
    """One multi-row statement per table: the writer thread shares the GIL with the request path,
    so it spends as little Python time per row as it can (no ORM unit of work)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    for table, values in _rows_by_table(rows).items():
        session.execute(_upsert(table, dialect), values)


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
