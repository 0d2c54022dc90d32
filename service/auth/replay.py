"""`jti` replay protection for client-signed JWTs (CDS Hooks 2.0: "the jti ... SHALL NOT be
reused"; SMART Backend Services: "the authorization server SHALL NOT accept a jti value again").

The authority is a table in the service's database (`jwt_replay`), so a token replayed to another
worker or replica is refused; the writer prunes expired rows once a minute
(service/storage/retention.py). In front of it each worker keeps an in-memory cache that refuses a
replay to the same worker before any work is done.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Float, Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from service.clock import Seconds
from service.errors import Unauthorized
from service.storage.tables import JwtReplay

T = TypeVar("T")
_TABLE: Table = JwtReplay.__table__  # type: ignore[assignment]


class InMemoryReplayCache:
    """Per worker: refuses what this worker saw; the shared table refuses the rest."""

    # Expired entries are dropped at most this often, so the cache holds about one token
    # lifetime of traffic (memory flat under steady load) instead of filling up to the maximum.
    PRUNE_INTERVAL_S = 10.0

    def __init__(self, clock: Seconds, max_entries: int = 100_000) -> None:
        self._clock = clock
        self._max = max_entries
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._pruned_at = clock()

    def __len__(self) -> int:
        return len(self._seen)

    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        with self._lock:
            now = self._clock()
            if len(self._seen) >= self._max or now - self._pruned_at >= self.PRUNE_INTERVAL_S:
                self._seen = {k: exp for k, exp in self._seen.items() if exp > now}
                self._pruned_at = now
            if len(self._seen) >= self._max:
                return False  # full of live tokens: refuse rather than forget one
            key = (issuer, jti)
            if self._seen.get(key, 0.0) > now:
                return False
            self._seen[key] = expires_at
            return True


def claim_jti(session: Session, issuer: str, jti: str, expires_at: float, now: float) -> bool:
    """Inside the caller's transaction: True when this (issuer, jti) is new or its earlier use
    has expired; False when a live use is recorded (a replay)."""
    statement = _claim_statement(session.get_bind().dialect.name)
    values = {"issuer": issuer[:255], "jti": jti[:255], "expires_at": expires_at, "now": now}
    # RETURNING, not rowcount: psycopg reports -1 for an upsert.
    return session.execute(statement, values).first() is not None


@functools.cache
def _claim_statement(dialect: str) -> ReturningInsert[tuple[str]]:
    """Built once per dialect: building the upsert on every call cost half a millisecond."""
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_TABLE)
    statement = insert.values(
        issuer=bindparam("issuer"), jti=bindparam("jti"), expires_at=bindparam("expires_at")
    )
    upsert = statement.on_conflict_do_update(
        index_elements=["issuer", "jti"],
        set_={"expires_at": statement.excluded.expires_at},
        where=_TABLE.c.expires_at <= bindparam("now", type_=Float()),
    )
    return upsert.returning(_TABLE.c.jti)


def claim(issuer: str, jti: str, expires_at: float, clock: Seconds) -> Callable[[Session], bool]:
    """A unit of work for the writer: the claim alone (the token endpoint)."""
    return lambda session: claim_jti(session, issuer, jti, expires_at, clock())


def claimed(
    issuer: str, jti: str, expires_at: float, clock: Seconds, work: Callable[[Session], T]
) -> Callable[[Session], T]:
    """`work`, once the jti is claimed in the same transaction; a replay writes nothing."""

    def unit(session: Session) -> T:
        if not claim_jti(session, issuer, jti, expires_at, clock()):
            raise Unauthorized("jti replayed (seen by another worker)")
        return work(session)

    return unit
