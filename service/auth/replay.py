"""`jti` replay protection for client-signed JWTs (CDS Hooks 2.0: "the jti ... SHALL NOT be
reused"; SMART Backend Services: "the authorization server SHALL NOT accept a jti value again").

The authority is a table in the service's database (`jwt_replay`), so a token replayed to another
worker or replica is refused; rows are pruned once expired. In front of it each worker keeps an
in-memory cache that refuses a replay to the same worker before any work is done.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import Table, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from service.storage.tables import JwtReplay

Clock = Callable[[], float]
_TABLE: Table = JwtReplay.__table__  # type: ignore[assignment]
PRUNE_INTERVAL_S = 60.0


class InMemoryReplayCache:
    """Per worker: refuses what this worker saw; the shared table refuses the rest."""

    # Expired entries are dropped at most this often, so the cache holds about one token
    # lifetime of traffic (memory flat under steady load) instead of filling up to the maximum.
    PRUNE_INTERVAL_S = 10.0

    def __init__(self, clock: Clock, max_entries: int = 100_000) -> None:
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
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_TABLE)
    statement = insert.values(issuer=issuer[:255], jti=jti[:255], expires_at=expires_at)
    statement = statement.on_conflict_do_update(
        index_elements=["issuer", "jti"],
        set_={"expires_at": statement.excluded.expires_at},
        where=_TABLE.c.expires_at <= now,
    )
    # RETURNING, not rowcount: psycopg reports -1 for an upsert.
    return session.execute(statement.returning(_TABLE.c.jti)).first() is not None


def prune_expired(session: Session, now: float) -> int:
    result = session.execute(delete(_TABLE).where(_TABLE.c.expires_at <= now))
    return int(result.rowcount)  # type: ignore[attr-defined]


class DatabaseReplayStore:
    """For the token endpoint and feedback: one short transaction per check. (Hook calls claim
    their `jti` in the transaction that stores their answer, service/storage/commits.py.)"""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
        self._pruned_at = 0.0

    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        now = self._clock()
        with self._sessions.begin() as session:
            if now - self._pruned_at >= PRUNE_INTERVAL_S:
                prune_expired(session, now)
                self._pruned_at = now
            return claim_jti(session, issuer, jti, expires_at, now)
