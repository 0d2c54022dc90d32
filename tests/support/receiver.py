"""A real HTTP endpoint on 127.0.0.1 that records what is POSTed to it (a rest-hook receiver for
notification tests), answering with a status the test chooses."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.loopback_fhir import serving


@dataclass
class Receiver:
    url: str = ""
    status: int = 200
    received: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)  # the status each post was answered with

    def wait_for(self, count: int, within_s: float = 15.0) -> list[tuple[dict[str, str], Any]]:
        """The first `count` posts, waiting for them as long as `within_s` (a deadline, not a
        timing assertion: what is checked is what arrived)."""
        deadline = time.monotonic() + within_s
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received[:count]


@contextmanager
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            status = state.status
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            state.answered.append(status)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    with serving(Handler) as port:
        state.url = f"http://127.0.0.1:{port}/notify"
        yield state
