"""Draining on SIGTERM, so a replica leaves its load balancer without losing a request.

On SIGTERM the process keeps serving for DRAIN_SECONDS, but /health/ready answers 503 (the
balancer stops sending) and every answer says `Connection: close` (no client is left holding an
idle keep-alive connection we are about to close under it). Then the signal goes on to the server
(uvicorn), which stops accepting, lets the requests in flight finish within
GRACEFUL_SHUTDOWN_TIMEOUT_S, and runs the lifespan's shutdown.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SignalHandler = Callable[[int, FrameType | None], object]


class Drain:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._started = False
        self._server_handler: SignalHandler | None = None

    @property
    def draining(self) -> bool:
        return self._started

    def begin(self) -> None:
        self._started = True

    def install(self) -> None:
        """Take SIGTERM over from the server of this process, within its running loop. Only the
        main thread receives signals: elsewhere (a test client's thread) nothing changes."""
        if threading.current_thread() is not threading.main_thread():
            return
        handler = signal.getsignal(signal.SIGTERM)
        if not callable(handler):
            return  # no server listens for it: the default (end the process) stands
        self._server_handler = handler
        loop = asyncio.get_running_loop()

        def on_sigterm(number: int, _frame: FrameType | None) -> None:
            # A second SIGTERM (the kubelet's, after the preStop hook began the drain) changes
            # nothing: the drain already under way ends on its own schedule.
            if self._started:
                return
            self.begin()
            loop.call_soon_threadsafe(loop.call_later, self.seconds, handler, number, None)

        signal.signal(signal.SIGTERM, on_sigterm)

    def uninstall(self) -> None:
        if self._server_handler is not None:
            signal.signal(signal.SIGTERM, self._server_handler)
            self._server_handler = None


class CloseWhileDraining:
    """Adds `Connection: close` to every answer once the drain began."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and self.drain.draining:
                message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            await send(message)

        await self.app(scope, receive, send_closing)


async def get_drain(request: Request) -> Drain:
    drain: Drain = request.app.state.drain
    return drain
