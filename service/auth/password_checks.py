"""Password checks, at most LOGIN_CONCURRENT_CHECKS at once in a worker: each takes Argon2id's
64 MiB for its duration, so sixteen parallel sign-ins took a worker from 144 to 1169 MiB. A check
runs in the thread pool, off the event loop, so the other routes answer while it runs; a sign-in
that finds every slot taken waits up to LOGIN_CHECK_WAIT_S, then is told to come back (503)."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool

from service.auth.reviewers import Reviewer, ReviewerAccounts


@dataclass(frozen=True)
class Busy:
    retry_after_s: int


class PasswordChecks:
    def __init__(self, accounts: ReviewerAccounts, slots: int, wait_s: float) -> None:
        self._accounts, self._slots, self._wait_s = accounts, slots, wait_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._gate = asyncio.Semaphore(slots)

    async def check(self, username: str, password: str) -> Reviewer | None | Busy:
        """The reviewer, None for a wrong password or unknown name, or Busy."""
        gate = self._gate_of_this_loop()
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for can lose an acquire that completes
            # as the timeout strikes, and with it a slot for good.
            async with asyncio.timeout(self._wait_s):
                await gate.acquire()
        except TimeoutError:
            return Busy(max(1, math.ceil(self._wait_s)))
        try:
            # Not abandoned when the request is cancelled: the slot is freed only once the
            # thread, and its 64 MiB, are done.
            return await run_in_threadpool(self._accounts.check, username, password)
        finally:
            gate.release()

    def _gate_of_this_loop(self) -> asyncio.Semaphore:
        """A semaphore belongs to the event loop it first waited in; an app whose lifespan is
        entered again in another loop (tests do) gets a new one. A worker has one loop."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._gate = loop, asyncio.Semaphore(self._slots)
        return self._gate
