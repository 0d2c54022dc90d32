"""Time in tests: the one date the example records are written for, and a clock tests move by
hand. No test reads the calendar: an in-process app runs on a `ManualClock` set to the examples'
date, and tokens are signed at the same moment, so the suite answers alike on any day."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from tools.examples.build_examples import EVALUATION_DATE

if TYPE_CHECKING:
    from fastapi import FastAPI

    from service.clock import Clock
    from service.settings import Settings

# The examples' "today": their ages, 30-day weight windows and coverage periods are written for
# it (tools/examples/build_examples.py, which writes them, names it; tools/run.sh pins it too).
EXAMPLES_DATE = date.fromisoformat(EVALUATION_DATE)
EXAMPLES_NOON = datetime.combine(EXAMPLES_DATE, time(12), UTC)


class ManualClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, moment: datetime = EXAMPLES_NOON) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment

    def time(self) -> float:
        return self.moment.timestamp()

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


def examples_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    """The app on the examples' day: `clock`, or a new `ManualClock` at the examples' noon."""
    from service.app import create_app

    return create_app(settings, clock or ManualClock())
