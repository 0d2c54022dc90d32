"""A FHIR server on loopback that answers in well under a millisecond: the bench's stand-in for an
EHR that is not the bottleneck, so an order-sign that fetches its record measures the service's
own cost on that path (the sandbox EHR's in-memory search takes hundreds of milliseconds).

It runs in a process of its own (uvicorn, one event loop: no thread waits on another for the
interpreter lock, as a threaded server's would, 5 ms at a time under parallel requests), holds the
bench's record of `size` resources in memory and answers what the service asks an EHR for an
order-sign: a read by id (`Type/id`) and a search by patient (`Type?patient=...`), with `code=`
honoured for Observations and `status=` for Coverages. Other parameters (`_include`) are ignored:
the record's Medications are inline. Each answer is built once, then served from memory.
`GET /_handled` tells how many requests were answered and the handler's total time in ms: the
"EHR's own time" the bench reports beside the order-sign's.

    python bench/fast_ehr.py PORT SIZE YYYY-MM-DD"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from records import record  # noqa: E402

from tools.processes import free_port, stop, wait_until_up  # noqa: E402

Resource = dict[str, Any]
NOT_FOUND = b'{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]}'
# The reference a search by patient matches, by resource type (FHIR R4 search parameters).
PATIENT_ELEMENT = {"Coverage": "beneficiary"}


class Store:
    def __init__(self, resources: list[Resource], base_url: str) -> None:
        self.resources, self.base_url = resources, base_url
        self.answers: dict[tuple[str, str], tuple[int, bytes]] = {}
        self.handled, self.handled_ms = 0, 0.0

    def answer(self, path: str, query: str) -> tuple[int, bytes]:
        key = (path, query)
        if key not in self.answers:
            found = self._find(path.removeprefix("/fhir").strip("/").split("/"), query)
            self.answers[key] = (
                (404, NOT_FOUND) if found is None else (200, json.dumps(found).encode())
            )
        return self.answers[key]

    def _find(self, path: list[str], query: str) -> Resource | None:
        if len(path) == 2:
            return next((r for r in self.resources if [r["resourceType"], r["id"]] == path), None)
        asked = {k: v[0] for k, v in parse_qs(query).items()}
        matched = [r for r in self.resources if r["resourceType"] == path[0] and _matches(r, asked)]
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(matched),
            "entry": [
                {"fullUrl": f"{self.base_url}/{r['resourceType']}/{r['id']}", "resource": r}
                for r in matched
            ],
        }


def _matches(resource: Resource, query: dict[str, str]) -> bool:
    patient = query.get("patient") or query.get("beneficiary")
    if patient is not None:
        element = PATIENT_ELEMENT.get(resource["resourceType"], "subject")
        reference = (resource.get(element) or {}).get("reference", "")
        if reference.rpartition("/")[2] != patient.rpartition("/")[2]:
            return False
    if "code" in query:
        wanted = {c.rpartition("|")[2] for c in query["code"].split(",")}
        codes = {c.get("code") for c in (resource.get("code") or {}).get("coding", [])}
        if not wanted & codes:
            return False
    return "status" not in query or resource.get("status") == query["status"]


Send = Callable[[dict[str, Any]], Awaitable[None]]


def app(store: Store) -> Callable[[dict[str, Any], Any, Send], Awaitable[None]]:
    async def asgi(scope: dict[str, Any], receive: Any, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        if scope["path"] == "/_handled":
            status, body = 200, json.dumps([store.handled, store.handled_ms]).encode()
        else:
            status, body = store.answer(scope["path"], scope["query_string"].decode())
        headers = [(b"content-type", b"application/fhir+json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        if scope["path"] != "/_handled":
            store.handled += 1
            store.handled_ms += (time.perf_counter() - started) * 1000

    return asgi


@contextmanager
def fast_ehr(size: int, today: date, work: Path) -> Iterator[str]:
    """The server's FHIR base URL while it runs."""
    port = free_port()
    log = work / f"fast-ehr-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, __file__, str(port), str(size), today.isoformat()],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/fhir"
    try:
        wait_until_up(f"{base}/Patient/pat", process, log)
        yield base
    finally:
        stop(process)


def handled(base_url: str) -> tuple[int, float]:
    """Requests answered so far, and the handler's total time for them in ms."""
    import httpx

    count, total = httpx.get(base_url.removesuffix("/fhir") + "/_handled").json()
    return int(count), float(total)


if __name__ == "__main__":
    import uvicorn

    port, size, day = int(sys.argv[1]), int(sys.argv[2]), date.fromisoformat(sys.argv[3])
    store = Store(record(size, day), f"http://127.0.0.1:{port}/fhir")
    uvicorn.run(app(store), host="127.0.0.1", port=port, log_level="warning", access_log=False)
