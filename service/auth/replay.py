"""`jti` replay protection for client-signed JWTs (CDS Hooks 2.0: "the jti ... SHALL NOT be
reused"; SMART Backend Services: "the authorization server SHALL NOT accept a jti value again").

The authority is a table in the service's database (`jwt_replay`), so a token replayed to another
worker or replica is refused; the writer prunes expired rows once a minute
(service/storage/retention.py). Every caller claims there: the token endpoint at once, a CDS Hooks
call with what it stores, or alone when the call fails (service/api/cds_hooks.py). In front of it
each worker keeps an in-memory cache that refuses a replay to the same worker before any work is
done. The cache only ever saves work: what it cannot hold, the table decides.

A row lives until its token's `exp`, which the verifier caps at JWT_MAX_LIFETIME_S (+ leeway)
from now, plus up to a minute until pruned: the table holds at most (signed calls per second) x
(that lifetime + a minute) rows, whoever sends them, and only registered clients can sign.
"""

from __future__ import annotations

import functools
import threading
from collections import Counter
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
MAX_JTI = 255  # the column's length: longer jtis are kept, and compared, by their first 255
_TABLE: Table = JwtReplay.__table__  # type: ignore[assignment]


class InMemoryReplayCache:
    """Per worker: refuses a live `jti` this worker saw; the shared table refuses the rest.

    Each issuer holds at most `per_issuer` entries, and all of them at most `max_entries`: one
    client's flood of signed calls (an empty body is enough) no longer fills the cache and locks
    every other client out. A `jti` that does not fit is not remembered here, and not refused
    either: the table decides, as it does for every call in the end."""

    # Expired entries are dropped at most this often, so the cache holds about one token
    # lifetime of traffic (memory flat under steady load) instead of filling up to the maximum.
    PRUNE_INTERVAL_S = 10.0

    def __init__(
        self, clock: Seconds, max_entries: int = 100_000, per_issuer: int = 10_000
    ) -> None:
        self._clock = clock
        self._max, self._per_issuer = max_entries, per_issuer
        self._seen: dict[tuple[str, str], float] = {}
        self._held: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._pruned_at = clock()

    def __len__(self) -> int:
        return len(self._seen)

    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        """False when this worker saw the (issuer, jti) and its token has not expired."""
        key = (issuer, jti[:MAX_JTI])  # as the table keeps it, and a bounded size per entry
        with self._lock:
            now = self._clock()
            if now - self._pruned_at >= self.PRUNE_INTERVAL_S:
                self._prune(now)
            held = self._seen.get(key)
            if held is not None and held > now:
                return False
            if held is None:
                if not self._room_for(issuer):
                    return True  # not remembered here: the shared table decides
                self._held[issuer] += 1
            self._seen[key] = expires_at
            return True

    def _room_for(self, issuer: str) -> bool:
        return len(self._seen) < self._max and self._held[issuer] < self._per_issuer

    def _prune(self, now: float) -> None:
        self._seen = {key: exp for key, exp in self._seen.items() if exp > now}
        self._held = Counter(issuer for issuer, _ in self._seen)
        self._pruned_at = now


def claim_jti(session: Session, issuer: str, jti: str, expires_at: float, now: float) -> bool:
    """Inside the caller's transaction: True when this (issuer, jti) is new or its earlier use
    has expired; False when a live use is recorded (a replay)."""
    statement = _claim_statement(session.get_bind().dialect.name)
    values = {"issuer": issuer[:255], "jti": jti[:MAX_JTI], "expires_at": expires_at, "now": now}
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
