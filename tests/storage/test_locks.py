"""Cluster-wide locks: one holder of a lease at a time across processes (two engines here stand
for two worker processes), and the periodic jobs run in that holder only."""

from __future__ import annotations

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from service.runtime import build_runtime
from service.settings import Settings
from service.storage.db import make_engine
from service.storage.locks import Lease
from service.storage.tables import JwtReplay


def test_one_lease_holder_at_a_time(database_url: str) -> None:
    first_engine, second_engine = make_engine(database_url), make_engine(database_url)
    first, second = Lease(first_engine, "job"), Lease(second_engine, "job")
    other = Lease(second_engine, "other-job")
    try:
        assert first.held()
        assert first.held(), "the holder keeps it"
        assert not second.held()
        assert other.held(), "each name is its own lease"
        first.release()
        assert second.held(), "released, it is free for the next"
        assert not first.held()
    finally:
        for lease in (first, second, other):
            lease.release()
        first_engine.dispose()
        second_engine.dispose()


def _expired_jti(sessions: sessionmaker[Session], jti: str) -> None:
    with sessions.begin() as session:
        session.execute(insert(JwtReplay).values(issuer="https://ehr", jti=jti, expires_at=1.0))


def _jtis(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.execute(select(func.count()).select_from(JwtReplay)).scalar_one())


def test_expired_jtis_are_pruned_by_one_worker_of_the_cluster(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    """Two workers, each with its writer: the one holding the lease prunes, the other not."""
    first, second = build_runtime(settings), build_runtime(settings)
    try:
        _expired_jti(sessions, "a")
        first.committer.commit_now(lambda session: None)
        assert _jtis(sessions) == 0, "the first worker to write takes the lease and prunes"
        _expired_jti(sessions, "b")
        second.committer.commit_now(lambda session: None)
        assert _jtis(sessions) == 1, "the second worker leaves pruning to the lease holder"
    finally:
        for runtime in (first, second):
            runtime.committer.close()
            runtime.replay_lease.release()
            runtime.engine.dispose()
            runtime.writer_engine.dispose()


def test_a_released_lease_is_not_taken_again_and_frees_its_holder(database_url: str) -> None:
    """A `held()` still running in a worker thread when its caller was cancelled (the outbox's
    dispatcher at shutdown) must not take the lease after `release()`: its connection, and the
    lock, would outlive the process's engine, and the next process could never take it."""
    engine, other_engine = make_engine(database_url), make_engine(database_url)
    try:
        ours, next_process = Lease(engine, "job"), Lease(other_engine, "job")
        assert ours.held()
        ours.release()
        assert not ours.held(), "released for good: not taken again"
        assert next_process.held(), "and free for the next holder"
        next_process.release()
    finally:
        engine.dispose()
        other_engine.dispose()
