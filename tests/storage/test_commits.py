"""The group committer: every unit's rows are committed before its caller goes on; a unit that
refuses, or that the database refuses, takes only its own caller down; a failed commit fails the
whole batch, loudly."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from service.errors import StorageUnavailable, Unauthorized
from service.storage.commits import GroupCommitter
from service.storage.db import make_engine, session_factory
from service.storage.tables import DtrAccess
from tests.support.clock import EXAMPLES_NOON


def _row(action: str) -> dict[str, object]:

    return {"at": EXAMPLES_NOON, "client_id": "c", "action": action, "status_code": 200}


@pytest.fixture
def committer(sessions: sessionmaker[Session]) -> GroupCommitter:
    return GroupCommitter(sessions)


@pytest.fixture
def count(sessions: sessionmaker[Session]) -> Callable[[], int]:
    def rows() -> int:
        with sessions() as session:
            return int(session.scalar(select(func.count()).select_from(DtrAccess)) or 0)

    return rows


def test_concurrent_units_are_all_committed_before_their_callers_go_on(
    committer: GroupCommitter, count: Callable[[], int]
) -> None:
    def unit(index: int):  # type: ignore[no-untyped-def]
        def work(session: Session) -> int:
            session.execute(insert(DtrAccess), [_row(f"a{index}")])
            return index

        return work

    async def many() -> list[int]:
        return list(await asyncio.gather(*(committer.commit(unit(i)) for i in range(300))))

    assert asyncio.run(many()) == list(range(300))
    assert count() == 300, "every acknowledged unit is in the database"
    committer.close()


def test_a_refusing_unit_fails_alone(committer: GroupCommitter, count: Callable[[], int]) -> None:
    def good(session: Session) -> str:
        session.execute(insert(DtrAccess), [_row("good")])
        return "ok"

    def refuses(session: Session) -> str:
        raise Unauthorized("jti replayed")

    async def both() -> list[object]:
        return list(
            await asyncio.gather(
                committer.commit(good), committer.commit(refuses), return_exceptions=True
            )
        )

    first, second = asyncio.run(both())
    assert first == "ok" and isinstance(second, Unauthorized)
    assert count() == 1
    committer.close()


def _one_batch(committer: GroupCommitter, works: list[Callable[[Session], object]]) -> list[object]:
    """The works committed as one batch: queued while a first unit holds the writer."""
    held, release = threading.Event(), threading.Event()

    def hold(session: Session) -> None:
        held.set()
        release.wait()

    async def run() -> list[object]:
        first = asyncio.ensure_future(committer.commit(hold))
        await asyncio.to_thread(held.wait)
        queued = [asyncio.ensure_future(committer.commit(work)) for work in works]
        await asyncio.sleep(0)  # every unit is queued before the writer goes on
        release.set()
        await first
        return list(await asyncio.gather(*queued, return_exceptions=True))

    return asyncio.run(run())


def test_a_unit_the_database_refuses_fails_alone(
    committer: GroupCommitter, count: Callable[[], int]
) -> None:
    """Each unit runs in its own savepoint: a unit breaking a constraint (NOT NULL here) fails
    only its own caller, with its own error; its batch-mates are committed."""

    def good(index: int) -> Callable[[Session], object]:
        def work(session: Session) -> object:
            session.execute(insert(DtrAccess), [_row(f"good-{index}")])
            return index

        return work

    def broken(session: Session) -> None:
        session.execute(insert(DtrAccess), [_row("broken-but-first")])
        session.execute(insert(DtrAccess), [{"at": None, "client_id": None}])  # NOT NULL

    works = [good(0), good(1), broken, good(2), good(3)]
    outcomes = _one_batch(committer, works)
    assert outcomes[:2] + outcomes[3:] == [0, 1, 2, 3]
    assert isinstance(outcomes[2], IntegrityError)  # its own error, not a 503 for everyone
    assert count() == 4, "the refused unit's first row went with it"
    committer.close()


def test_a_failed_commit_is_storage_unavailable(
    sessions: sessionmaker[Session], count: Callable[[], int]
) -> None:
    """What fails the transaction itself (here its COMMIT) fails every caller of the batch."""

    class Unwritable:
        def begin(self) -> Any:
            return _FailingCommit(sessions)

    committer = GroupCommitter(Unwritable())  # type: ignore[arg-type]

    def unit(session: Session) -> None:
        session.execute(insert(DtrAccess), [_row("lost")])

    with pytest.raises(StorageUnavailable):
        committer.commit_now(unit)
    assert count() == 0
    committer.close()


class _FailingCommit:
    """A session whose commit fails as a lost connection's does."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._session = sessions()

    def __enter__(self) -> Session:
        self._session.begin()
        return self._session

    def __exit__(self, *exc: object) -> None:
        self._session.rollback()
        self._session.close()
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))


def test_the_writer_goes_on_after_a_failed_batch_and_after_close(
    committer: GroupCommitter,
) -> None:
    assert committer.commit_now(lambda s: "working") == "working"
    committer.close()
    assert committer.commit_now(lambda s: "restarts after close") == "restarts after close"
    committer.close()


def test_a_write_lock_held_elsewhere_is_waited_for_not_failed(
    database_url: str, count: Callable[[], int]
) -> None:
    """Another process holding SQLite's write lock: the writer tries again until it is free."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock only: PostgreSQL has row locks and no such wait")
    import sqlite3
    import threading

    writer = GroupCommitter(session_factory(make_engine(database_url, sqlite_busy_timeout_s=0)))
    holder = sqlite3.connect(
        database_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
    )
    holder.execute("BEGIN IMMEDIATE")  # the write lock, as another worker's commit holds it
    attempts: list[int] = []
    tried = threading.Event()
    # The lock is let go only once the writer has met it: no timer, so no race with the clock.
    release = threading.Thread(target=lambda: (tried.wait(), holder.execute("COMMIT")))
    release.start()

    def unit(session: Session) -> str:
        attempts.append(1)
        try:
            session.execute(insert(DtrAccess), [_row("waited")])
        finally:
            tried.set()
        return "stored"

    assert writer.commit_now(unit) == "stored"
    release.join()
    holder.close()
    assert count() == 1 and len(attempts) >= 2, attempts
    writer.close()


def test_savepoints_only_when_something_in_the_batch_is_refused(
    sessions: sessionmaker[Session], count: Callable[[], int]
) -> None:
    """A batch nothing refuses runs without savepoints (the order-sign path: four statements
    fewer per call); one that something refuses is run again from the start, each unit in its
    own savepoint, so the refusal is still its caller's alone and nothing is written twice."""
    committer = GroupCommitter(sessions)
    statements: list[str] = []
    engine = sessions.kw["bind"]

    def seen(_c: object, _cur: object, statement: str, *_: object) -> None:
        statements.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", seen)
    runs: list[str] = []

    def good(name: str) -> Callable[[Session], object]:
        def work(session: Session) -> object:
            runs.append(name)
            session.execute(insert(DtrAccess), [_row(name)])
            return name

        return work

    def refuses(session: Session) -> None:
        runs.append("refuses")
        session.execute(insert(DtrAccess), [_row("refused")])
        raise Unauthorized("jti replayed")

    try:
        assert _one_batch(committer, [good("a"), good("b")]) == ["a", "b"]
        assert "SAVEPOINT" not in statements
        statements.clear()
        outcomes = _one_batch(committer, [good("c"), refuses, good("d")])
    finally:
        event.remove(engine, "before_cursor_execute", seen)
        committer.close()
    assert outcomes[0] == "c" and outcomes[2] == "d" and isinstance(outcomes[1], Unauthorized)
    assert "SAVEPOINT" in statements
    assert runs[-3:] == ["c", "refuses", "d"], "run again, each unit in its savepoint"
    assert count() == 4, "a, b, c and d once each; the refused unit's row went with it"
