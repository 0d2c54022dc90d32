"""The sign-in throttle's counts (`login_attempts`): read, locked for a change, written, forgotten.

A change is a read-modify-write of one row under its lock, so two workers or replicas counting
the same username at once both count: the row is made if absent (INSERT ... ON CONFLICT DO
NOTHING), then read with SELECT ... FOR UPDATE, which on PostgreSQL holds every other writer of
that row until the transaction ends. SQLite has no row locks, but the INSERT, the transaction's
first statement, takes the database's write lock, which holds every other writer, in any process,
for as long: the same guarantee.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.storage.tables import LoginAttempts

_TABLE: Table = LoginAttempts.__table__  # type: ignore[assignment]
_COLUMNS = (
    LoginAttempts.failures,
    LoginAttempts.window_started_at,
    LoginAttempts.locked_until,
    LoginAttempts.lockouts,
    LoginAttempts.forget_at,
)


@dataclass(frozen=True)
class AttemptCount:
    """One row's values: failures since `window_started_at`, a lockout until `locked_until`,
    how many lockouts came before, and when all of it may be forgotten."""

    failures: int
    window_started_at: float
    locked_until: float
    lockouts: int
    forget_at: float


def fresh(now: float) -> AttemptCount:
    return AttemptCount(0, now, 0.0, 0, now)


def read_counts(session: Session, keys: Iterable[str]) -> list[AttemptCount]:
    """The counts there are, unlocked: for refusing an attempt without writing anything."""
    statement = select(*_COLUMNS).where(LoginAttempts.key.in_(list(keys)))
    return [AttemptCount(*row) for row in session.execute(statement)]


def locked_count(session: Session, key: str, now: float) -> AttemptCount:
    """The key's count, made fresh if absent, its row locked until the transaction ends."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = asdict(fresh(now)) | {"key": key}
    session.execute(insert(_TABLE).values(values).on_conflict_do_nothing(index_elements=["key"]))
    statement = select(*_COLUMNS).where(LoginAttempts.key == key).with_for_update()
    return AttemptCount(*session.execute(statement).one())


def write_count(session: Session, key: str, count: AttemptCount) -> None:
    session.execute(update(LoginAttempts).where(LoginAttempts.key == key).values(asdict(count)))


def forget(session: Session, key: str) -> None:
    session.execute(delete(LoginAttempts).where(LoginAttempts.key == key))


def prune_forgotten(session: Session, now: float) -> int:
    result = session.execute(delete(LoginAttempts).where(LoginAttempts.forget_at <= now))
    return int(result.rowcount)  # type: ignore[attr-defined]
