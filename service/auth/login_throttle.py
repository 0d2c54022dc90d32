"""The reviewer sign-in throttle (OWASP Authentication Cheat Sheet, "Protect against automated
attacks"): failed attempts are counted per username and per client address in the shared
database (service/storage/login_attempts.py), so every worker and replica holds one count.

An attempt is counted as failed before its password is checked and given back when it succeeds,
so a burst of parallel guesses cannot all pass the count before the first of them fails. Once a
budget is spent (LOGIN_USERNAME_FAILURES, LOGIN_ADDRESS_FAILURES within LOGIN_FAILURE_WINDOW_S),
the next attempt locks the key for LOGIN_LOCKOUT_S, doubling with each lockout up to
LOGIN_LOCKOUT_MAX_S; while locked, an attempt is refused before any password is checked. Unknown
usernames are counted exactly as known ones, so a refusal tells nothing about who exists. Keys are
HMACs under AUDIT_HASH_KEY: the table holds no username and no address.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass, replace

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from service.clock import Clock
from service.settings import Settings
from service.storage.login_attempts import (
    AttemptCount,
    forget,
    fresh,
    locked_count,
    read_counts,
    write_count,
)


@dataclass(frozen=True)
class Budget:
    failures: int
    window_s: float
    lockout_s: float
    lockout_max_s: float

    def lockout(self, earlier_lockouts: int) -> float:
        return min(self.lockout_s * 2.0 ** min(earlier_lockouts, 64), self.lockout_max_s)

    def forget_at(self, count: AttemptCount) -> float:
        """When nothing of the count matters any more; the lockouts too, after a quiet spell
        as long as the longest lockout."""
        return max(count.window_started_at + self.window_s, count.locked_until) + (
            self.lockout_max_s
        )


def charged(count: AttemptCount, budget: Budget, now: float) -> tuple[AttemptCount, float]:
    """The count with one more attempt, and how long that attempt must wait (0: it goes on)."""
    if now >= count.forget_at:
        count = fresh(now)
    if count.locked_until > now:
        return count, count.locked_until - now
    if now - count.window_started_at >= budget.window_s:
        count = replace(count, failures=0, window_started_at=now)
    if count.failures >= budget.failures:
        wait = budget.lockout(count.lockouts)
        count = AttemptCount(0, now, now + wait, count.lockouts + 1, 0.0)
    else:
        count, wait = replace(count, failures=count.failures + 1), 0.0
    return replace(count, forget_at=budget.forget_at(count)), wait


def refunded(count: AttemptCount) -> AttemptCount:
    return replace(count, failures=max(count.failures - 1, 0))


@dataclass(frozen=True)
class Attempt:
    """One sign-in's keys: its username's and its client address's."""

    username_key: str
    address_key: str


class LoginThrottle:
    """Each change is a short transaction of its own that locks the attempt's two rows in key
    order, not a unit of the group-committed writer: a batch holds every row it locked until it
    commits, so two replicas' batches counting the same address could deadlock, and take the
    hook answers they carry down with them."""

    def __init__(
        self, settings: Settings, key: bytes, sessions: sessionmaker[Session], clock: Clock
    ) -> None:
        self._key, self._sessions, self._clock = key, sessions, clock
        self._username = _budget(settings, settings.login_username_failures)
        self._address = _budget(settings, settings.login_address_failures)

    def attempt(self, username: str, address: str) -> Attempt:
        return Attempt(self._hash("username", username), self._hash("address", address))

    async def admit(self, attempt: Attempt) -> int:
        """Counts the attempt; 0 when it may go on, else the seconds it must wait (Retry-After).
        A locked key is refused on a read, so a flood of refused attempts writes nothing."""
        if wait := await run_in_threadpool(self._locked_for, attempt):
            return wait
        return _seconds(await run_in_threadpool(self._charge, attempt))

    async def refund(self, attempt: Attempt) -> None:
        """The attempt checked no password (the checks were busy): it does not count."""
        await run_in_threadpool(self._refund, attempt, False)

    async def signed_in(self, attempt: Attempt) -> None:
        """The username's count is cleared, the address's attempt given back."""
        await run_in_threadpool(self._refund, attempt, True)

    def _locked_for(self, attempt: Attempt) -> int:
        now = self._clock.time()
        with self._sessions() as session:
            counts = read_counts(session, (attempt.username_key, attempt.address_key))
        return _seconds(max((c.locked_until - now for c in counts if c.forget_at > now), default=0))

    def _charge(self, attempt: Attempt) -> float:
        now = self._clock.time()
        with self._sessions.begin() as session:
            counts = _locked(session, attempt, now)
            budgets = ((attempt.username_key, self._username), (attempt.address_key, self._address))
            outcomes = [(key, *charged(counts[key], budget, now)) for key, budget in budgets]
            wait = max(own_wait for _, _, own_wait in outcomes)
            for key, count, own_wait in outcomes:
                # A refused attempt is not counted against the other key; a lockout it began is.
                if wait == 0 or own_wait > 0:
                    write_count(session, key, count)
        return wait

    def _refund(self, attempt: Attempt, signed_in: bool) -> None:
        now = self._clock.time()
        with self._sessions.begin() as session:
            counts = _locked(session, attempt, now)
            write_count(session, attempt.address_key, refunded(counts[attempt.address_key]))
            if signed_in:
                forget(session, attempt.username_key)
            else:
                write_count(session, attempt.username_key, refunded(counts[attempt.username_key]))

    def _hash(self, kind: str, value: str) -> str:
        return hmac.digest(self._key, f"sign-in {kind}\0{value}".encode(), hashlib.sha256).hex()


def _locked(session: Session, attempt: Attempt, now: float) -> dict[str, AttemptCount]:
    """Both rows, locked in one order (the keys'), so two transactions never wait on each other
    in a circle."""
    keys = sorted({attempt.username_key, attempt.address_key})
    return {key: locked_count(session, key, now) for key in keys}


def _budget(settings: Settings, failures: int) -> Budget:
    return Budget(
        failures,
        settings.login_failure_window_s,
        settings.login_lockout_s,
        settings.login_lockout_max_s,
    )


def _seconds(wait: float) -> int:
    """Retry-After is whole seconds: rounded up, so a retry on time is never early."""
    return math.ceil(wait) if wait > 0 else 0
