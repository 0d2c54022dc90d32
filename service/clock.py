"""The service's one source of the current time. Everything that reads the time (token lifetimes,
replay windows, reviewer sessions, due dates, retention, "today" for the policy) takes a `Clock`,
so tests and demos can pin or move it; only `SystemClock` reads the machine's clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Protocol

# A clock read in seconds since the epoch (`Clock.time`): what JWT arithmetic takes.
Seconds = Callable[[], float]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, timezone-aware (UTC)."""
        ...

    def time(self) -> float:
        """The current moment in seconds since the epoch (JWT `iat`/`exp` arithmetic)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def time(self) -> float:
        return self.now().timestamp()


SYSTEM_CLOCK: Clock = SystemClock()


def today(clock: Clock, pinned: date | None = None) -> date:
    """ "Today" for the policy's criteria: the pinned date (EVALUATION_DATE, development only), else
    the clock's date in UTC."""
    return pinned or clock.now().date()
