"""A real HTTP FHIR endpoint on 127.0.0.1 for tests: serves canned JSON by path+query to GET and
POST, records every request (path and Authorization header; a POST's form body too), and can be
slow, fail, return garbage, redirect or reset the connection.

What a test asserts about timing it reads from the server, never from a stopwatch: `answered`
lists the paths answered so far (a client that gave up on a slow path returns before it is
there), `most_in_flight` how many requests were ever open at once (parallel fetches overlap)."""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Canned:
    body: Any = None
    status: int = 200
    delay_s: float = 0.0
    raw: bytes | None = None
    location: str | None = None
    reset: bool = False  # drop the connection with a TCP reset instead of answering


@dataclass
class LoopbackFhir:
    base_url: str = ""
    routes: dict[str, Canned] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    posted: list[str] = field(default_factory=list)  # each POST's body, as sent
    # What every path not served by name gets: 404 unless set.
    otherwise: Canned = field(default_factory=lambda: Canned(status=404, body=_not_found()))
    answered: list[str] = field(default_factory=list)
    most_in_flight: int = 0
    # Set when the server stops: a slow answer still waiting is sent at once.
    released: threading.Event = field(default_factory=threading.Event)
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def opened(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self._in_flight)

    def closed(self, path: str) -> None:
        with self._lock:
            self._in_flight -= 1
            self.answered.append(path)

    def serve(self, path_and_query: str, body: Any = None, **options: Any) -> None:
        self.routes[path_and_query] = Canned(body, **options)

    def serve_otherwise(self, body: Any = None, **options: Any) -> None:
        self.otherwise = Canned(body, **options)


def _handler(state: LoopbackFhir) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._answer()

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            state.posted.append(self.rfile.read(length).decode())
            self._answer()

        def _answer(self) -> None:
            path = self.path.removeprefix("/fhir")
            state.requests.append((path, self.headers.get("Authorization")))
            canned = state.routes.get(path.lstrip("/"), state.otherwise)
            state.opened()
            try:
                self._respond(canned)
            finally:
                state.closed(path)

        def _respond(self, canned: Canned) -> None:
            state.released.wait(canned.delay_s)
            if canned.reset:
                linger = struct.pack("ii", 1, 0)  # SO_LINGER 0: close() sends RST
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                self.connection.close()
                self.close_connection = True
                return
            payload = canned.raw if canned.raw is not None else json.dumps(canned.body).encode()
            try:
                self.send_response(canned.status)
                if canned.location:
                    self.send_header("Location", canned.location)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (budget ran out): that is the point of the test

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _not_found() -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "not-found"}],
    }


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """`handler` served on 127.0.0.1 in a thread; yields the port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def loopback_fhir() -> Iterator[LoopbackFhir]:
    state = LoopbackFhir()
    with serving(_handler(state)) as port:
        state.base_url = f"http://127.0.0.1:{port}/fhir"
        try:
            yield state
        finally:
            state.released.set()
