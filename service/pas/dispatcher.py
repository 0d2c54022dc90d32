"""Delivering the notification outbox (service/pas/outbox.py): a task of every process, of which
only the one holding the cluster's `notification-outbox` lease sends (a PostgreSQL advisory lock,
or on SQLite a file lock; both die with their process, so when the sending replica is killed
another takes the lease at its next look and sends what is still pending). Two processes never
send the same event at once; an event may be sent twice only when a holder lost its database
connection in the middle of a POST, and its event number lets the EHR see the repeat
(Subscriptions Backport: notifications are at-least-once, numbered).

The task looks every `poll_s`, at once when a decision was made in this process, and again
straight away while deliveries succeed (a backlog drains without waiting). Due times are read on
the runtime's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from service.clock import Clock
from service.errors import ServiceError
from service.pas.notifier import Notifier
from service.pas.outbox import (
    Handshake,
    Head,
    Retry,
    handshakes,
    heads,
    mark_delivered,
    mark_failed,
    mark_handshake,
)
from service.pas.subscriptions import notification
from service.storage.commits import GroupCommitter
from service.storage.locks import Lease

log = logging.getLogger(__name__)
# How long shutdown waits for a look at the outbox under way (a delivery's own timeout is 10 s).
STOP_WAIT_S = 12.0


class Dispatcher:
    def __init__(
        self,
        notifier: Notifier,
        sessions: sessionmaker[Session],
        committer: GroupCommitter,
        lease: Lease,
        clock: Clock,
        retry: Retry,
        poll_s: float,
    ) -> None:
        self._notifier = notifier
        self._sessions = sessions
        self._committer = committer
        self._lease = lease
        self._clock = clock
        self._retry = retry
        self._poll_s = poll_s
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._holding = False
        self._stopping = False

    def start(self) -> None:
        if self._task is not None and not self._task.done():
            # One delivery loop per process: an app whose lifespan is entered a second time (a
            # test harness running it in another event loop) keeps the one it has.
            return
        self._wake = asyncio.Event()
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name="outbox")

    def wake(self) -> None:
        """A decision was committed here: look now rather than at the next poll."""
        task, wake = self._task, self._wake
        if task is not None and wake is not None and not task.done():
            task.get_loop().call_soon_threadsafe(wake.set)

    async def stop(self) -> None:
        task = self._task
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            return  # not started, or started by the other lifespan, which stops it
        self._task = None
        # Asked to finish, not cancelled: a cancelled look would leave its database work running
        # in a worker thread, whose connection then outlives the engine disposed after this.
        self._stopping = True
        if self._wake is not None:
            self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), STOP_WAIT_S)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await run_in_threadpool(self._lease.release)
        self._holding = False

    async def run_once(self) -> int:
        """One look at the outbox: new Subscriptions' handshakes first, then due events; how
        many were delivered."""
        if not await run_in_threadpool(self._lease.held):
            return 0
        if not self._holding:
            self._holding = True
            log.info("this process delivers the notification outbox")
        shaken = await asyncio.gather(
            *(self._handshake(h) for h in await run_in_threadpool(self._handshakes))
        )
        now = self._clock.now()
        due = [head for head in await run_in_threadpool(self._heads) if head.next_attempt_at <= now]
        sent = await asyncio.gather(*(self._send(head) for head in due))
        return sum(shaken) + sum(sent)

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            try:
                delivered = await self.run_once()
            except (SQLAlchemyError, ServiceError):
                # The database is away: the events wait in it; look again at the next poll.
                log.exception("the notification outbox could not be read or updated")
                delivered = 0
            if delivered:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_s)
            self._wake.clear()

    def _heads(self) -> list[Head]:
        with self._sessions() as session:
            return heads(session)

    def _handshakes(self) -> list[Handshake]:
        with self._sessions() as session:
            return handshakes(session)

    async def _handshake(self, asked: Handshake) -> int:
        """Sent once; a refused handshake leaves the Subscription `error` (the Backport: the
        client corrects its endpoint and subscribes again)."""
        bundle = notification(
            self._notifier.base_url,
            asked.subscription_id,
            "handshake",
            0,
            self._clock.now(),
            status="requested",
        )
        reason = await self._notifier.post(asked.endpoint, asked.headers, bundle)
        await self._committer.commit(lambda s: mark_handshake(s, asked.subscription_id, reason))
        return 1 if reason is None else 0

    async def _send(self, head: Head) -> int:
        bundle = notification(
            self._notifier.base_url,
            head.subscription_id,
            "event-notification",
            head.event_number,
            head.created_at,
            head.focus,
            head.content,
            status=head.status,
            events_since_start=head.events_since_start,
        )
        # The attempt's time is when it started: the pause before the next one counts from it,
        # however long this one took to fail.
        now = self._clock.now()
        reason = await self._notifier.post(head.endpoint, head.headers, bundle)
        if reason is None:
            await self._committer.commit(lambda s: mark_delivered(s, head.event_id, now))
            return 1
        await self._committer.commit(
            lambda s: mark_failed(s, head.event_id, reason, now, self._retry)
        )
        return 0
