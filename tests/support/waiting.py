"""Waiting in tests for what another thread or process commits a moment later (a delivery's
outcome, a handshake's, a batch of audit rows): read until the reading is what the test waits
for, or until a deadline. The deadline bounds a test that would otherwise hang; it measures
nothing, and the test asserts on the last reading either way."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def settled(read: Callable[[], T], done: Callable[[T], bool], within_s: float = 15.0) -> T:
    """`read()` again every 20 ms until `done` holds for what it returns, or `within_s` has
    passed; the last reading either way."""
    deadline = time.monotonic() + within_s
    found = read()
    while not done(found) and time.monotonic() < deadline:
        time.sleep(0.02)
        found = read()
    return found
