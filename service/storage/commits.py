"""The one writer of a worker process: every row the service writes goes through its thread.

- Units of work an answer waits for (`commit`, `commit_now`): a hook answer with its coverage
  assertions and the calling JWT's `jti` (CRD found-11/37: kept before it is sent), a
  questionnaire response, feedback. Units that arrive together share one transaction (group
  commit), so a commit's cost is paid once per batch, not once per request. Each unit runs in a
  savepoint of its own: one that refuses (a `ServiceError`: a replayed `jti`, a response for an
  unknown assertion) or that the database refuses (a constraint, a value too long) is undone and
  fails only its own caller, with its own error; its batch-mates are committed. What fails the
  transaction itself (the commit, a lost connection) fails every caller of the batch with
  `StorageUnavailable` (503): nothing is acknowledged that was not stored.
- Audit rows nobody waits for (`record`, `store`): queued, and written with the next unit's
  transaction or, when none comes, within `flush_interval_s` (default 1 s). A crash can lose at
  most that interval of audit rows; shutdown flushes what is queued.

One thread, one transaction at a time: two writers in one process took turns on SQLite's write
lock through its busy handler's sleeps, which cost milliseconds on every request.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Generic, TypeVar

from sqlalchemy import Table
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from service.errors import ServiceError, StorageUnavailable
from service.storage.audit import HookAudit, Row, write_rows
from service.storage.tables import AuditEntry, Base

T = TypeVar("T")
Work = Callable[[Session], T]
log = logging.getLogger(__name__)
_AUDIT: Table = AuditEntry.__table__  # type: ignore[assignment]
_AUDIT_FIELDS = [f.name for f in fields(HookAudit)]


@dataclass(frozen=True)
class _Unit(Generic[T]):
    work: Work[T]
    done: concurrent.futures.Future[T]


@dataclass
class _Batch:
    """What the writer has taken from its queue and not yet written: units of work (written at
    once) and audit rows (written with the next units, or once the oldest has waited the flush
    interval); `running` turns False at the queue's end mark."""

    units: list[_Unit[Any]] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    first_row_at: float = 0.0
    running: bool = True

    def add(self, item: object) -> None:
        if item is None:
            self.running = False
        elif isinstance(item, _Unit):
            self.units.append(item)
        elif isinstance(item, tuple):
            if not self.rows:
                self.first_row_at = _now()
            self.rows.append(item)

    def rows_due_at(self, flush_interval: float) -> float:
        """Seconds until the oldest row must be written (zero or less: now)."""
        return self.first_row_at + flush_interval - _now()


class GroupCommitter:
    # Most units one transaction takes: bounds the latency a burst adds to its first caller.
    MAX_BATCH = 256

    def __init__(
        self,
        sessions: sessionmaker[Session],
        flush_interval_s: float = 1.0,
        housekeeping: Callable[[Session], None] | None = None,
        housekeeping_interval_s: float = 60.0,
    ) -> None:
        self._sessions = sessions
        self._flush_interval = flush_interval_s
        self._housekeeping = housekeeping
        self._housekeeping_interval = housekeeping_interval_s
        self._kept_at = 0.0
        # Units, audit rows, and None to stop.
        self._queue: queue.SimpleQueue[_Unit[Any] | Row | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    async def commit(self, work: Work[T]) -> T:
        return await asyncio.wrap_future(self._submit(work))

    def commit_now(self, work: Work[T]) -> T:
        """The same, from a thread that may block (the thread pool)."""
        return self._submit(work).result()

    def record(self, entry: HookAudit) -> None:
        self._put((_AUDIT, {name: getattr(entry, name) for name in _AUDIT_FIELDS}))

    def store(self, model: type[Base], values: Mapping[str, Any]) -> None:
        """Insert (or, for a table keyed by its values, replace) a row, with the next write."""
        self._put((model.__table__, values))  # type: ignore[arg-type]

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join(timeout=10)

    def _submit(self, work: Work[T]) -> concurrent.futures.Future[T]:
        done: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._put(_Unit(work, done))
        return done

    def _put(self, item: _Unit[Any] | Row) -> None:
        with self._lock:
            # Started on first use and again after `close` (an app whose lifespan runs twice).
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="writer", daemon=True)
                self._thread.start()
            self._queue.put(item)

    def _run(self) -> None:
        batch = _Batch()
        while batch.running:
            wait = None if not batch.rows else max(0.0, batch.rows_due_at(self._flush_interval))
            try:
                item: object = self._queue.get(timeout=wait)
            except queue.Empty:
                item = _FLUSH
            self._gather(batch, item)
            rows_due = batch.rows and (
                batch.rows_due_at(self._flush_interval) <= 0 or not batch.running
            )
            if batch.units or rows_due:
                self._write(batch.units, batch.rows)
                batch.units, batch.rows = [], []

    def _gather(self, batch: _Batch, item: object) -> None:
        """`item` and whatever else is queued already, up to a batch's worth of units."""
        while True:
            batch.add(item)
            if not batch.running or len(batch.units) >= self.MAX_BATCH:
                return
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return

    def _write(self, units: list[_Unit[Any]], rows: list[Row]) -> None:
        try:
            outcomes = self._transaction(units, rows)
        except SQLAlchemyError:
            # The writer outlives a database hiccup; the loss is logged, with no PHI.
            log.exception("write of %d units and %d audit rows failed", len(units), len(rows))
            self._fail(units, StorageUnavailable("the answer could not be stored; try again"))
            return
        except Exception as error:  # noqa: BLE001 - a bug in one unit must not end the thread
            log.exception("a unit of work failed; the batch of %d was rolled back", len(units))
            self._fail(units, error)
            return
        for unit, value, problem in outcomes:
            if problem is None:
                unit.done.set_result(value)
            else:
                unit.done.set_exception(problem)

    def _transaction(
        self, units: list[_Unit[Any]], rows: list[Row]
    ) -> list[tuple[_Unit[Any], Any, BaseException | None]]:
        """One transaction for the batch; run again from the start when another process holds
        SQLite's write lock (nothing of the first run was kept, so running again is safe).

        First without savepoints (four statements and a nested transaction per call saved on
        the path every order-sign takes); when anything in it is refused, the batch is run again
        from the start with each unit, and the audit rows, in a savepoint of its own, so what
        one caller's unit or one row brings down is that caller's or that row's alone."""
        started = _now()
        pause = LOCKED_FIRST_PAUSE_S
        isolated = False
        while True:
            try:
                with self._sessions.begin() as session:
                    # The transaction (and on SQLite its write lock) begins here, outside every
                    # unit's savepoint: a lock held elsewhere is the batch's to wait for.
                    session.connection()
                    outcomes: list[tuple[_Unit[Any], Any, BaseException | None]] = (
                        [_isolated(session, unit) for unit in units]
                        if isolated
                        else [(unit, unit.work(session), None) for unit in units]
                    )
                    _write_audit(session, rows, isolated)
                    self._keep_house(session)
                return outcomes
            except OperationalError as error:
                if not _locked(error) or _now() - started > LOCKED_GIVE_UP_S:
                    raise
            except Exception:
                if isolated:
                    raise
                isolated = True  # rolled back whole: again, each unit in its savepoint
                continue
            time.sleep(pause)
            pause = min(pause * 2, LOCKED_MAX_PAUSE_S)

    @staticmethod
    def _fail(units: list[_Unit[Any]], error: BaseException) -> None:
        for unit in units:
            unit.done.set_exception(error)

    def _keep_house(self, session: Session) -> None:
        now = _now()
        if self._housekeeping is not None and now - self._kept_at >= self._housekeeping_interval:
            self._housekeeping(session)
            self._kept_at = now


def _isolated(session: Session, unit: _Unit[T]) -> tuple[_Unit[T], T | None, BaseException | None]:
    """The unit in its own savepoint: what it or the database refuses is undone and goes to its
    caller alone: never a 503 for another caller's mistake."""
    try:
        with session.begin_nested():
            return unit, unit.work(session), None
    except ServiceError as refused:
        return unit, None, refused
    except OperationalError:
        raise  # the database itself (a lock held elsewhere, a lost connection): the batch's
    except Exception as error:  # noqa: BLE001 - a bug or a refused statement: its caller's only
        log.exception("a unit of work failed; its savepoint was rolled back, its batch went on")
        return unit, None, error


def _write_audit(session: Session, rows: list[Row], isolated: bool = True) -> None:
    """Audit rows in a savepoint (`isolated`, else in the batch's transaction itself); when the
    database refuses the lot, each alone, so one bad row neither fails the units it shares a
    transaction with nor takes the good rows with it."""
    if not rows:
        return
    if not isolated:
        write_rows(session, rows)
        return
    try:
        with session.begin_nested():
            write_rows(session, rows)
        return
    except OperationalError:
        raise
    except SQLAlchemyError:
        log.exception("%d audit rows refused together; writing each alone", len(rows))
    for row in rows:
        try:
            with session.begin_nested():
                write_rows(session, [row])
        except OperationalError:
            raise
        except SQLAlchemyError:
            log.exception("an audit row of %s was refused and is lost", row[0].name)


_FLUSH = object()  # the flush interval ran out with audit rows waiting
# Another process holding SQLite's write lock: try again after 0.1 ms, doubling up to 5 ms, for
# at most 30 s (SQLite's own busy handler sleeps 1 ms first, then 2, 5, 10 ... 100 ms).
LOCKED_FIRST_PAUSE_S = 0.0001
LOCKED_MAX_PAUSE_S = 0.005
LOCKED_GIVE_UP_S = 30.0


def _locked(error: OperationalError) -> bool:
    text = str(error.orig).lower()
    return "database is locked" in text or "database is busy" in text


def _now() -> float:
    return time.monotonic()
