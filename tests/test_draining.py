"""SIGTERM begins the drain and reaches the server's own handler only after DRAIN_SECONDS; a
second SIGTERM (the kubelet's, after the preStop hook) does not cut the drain short."""

from __future__ import annotations

import asyncio
import os
import signal
from types import FrameType

from service.draining import Drain


def test_sigterm_drains_first_then_reaches_the_server() -> None:
    received: list[int] = []

    def server_handler(number: int, _frame: FrameType | None) -> None:
        received.append(number)

    async def scenario(drain: Drain) -> list[bool]:
        drain.install()
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)
        seen = [drain.draining and not received]
        for _ in range(100):  # loop turns, not time: the handler is due after 0 s
            if received:
                break
            await asyncio.sleep(0)
        drain.uninstall()
        return seen

    before = signal.signal(signal.SIGTERM, server_handler)
    try:
        drain = Drain(seconds=0)
        assert asyncio.run(scenario(drain)) == [True], "draining before the server hears of it"
        assert received == [signal.SIGTERM], "the server gets it once"
        assert signal.getsignal(signal.SIGTERM) is server_handler, "uninstall gives it back"
    finally:
        signal.signal(signal.SIGTERM, before)
