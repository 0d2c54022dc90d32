"""The benchmark baseline endpoint exists only in bench mode."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import make_settings
from tests.support.clock import examples_app


def test_noop_is_absent_unless_bench_mode(database_url: str) -> None:
    with TestClient(examples_app(make_settings(database_url))) as client:
        assert client.post("/bench/noop", content=b"{}").status_code in (404, 405)


def test_noop_parses_the_payload_and_answers_no_cards(database_url: str) -> None:
    settings = make_settings(database_url, bench_mode=True)
    payload = (
        b'{"hook": "order-sign", "prefetch": {"x": [' + b",".join([b'{"a": 1}'] * 1000) + b"]}}"
    )
    with TestClient(examples_app(settings)) as client:
        answer = client.post("/bench/noop", content=payload)
        assert answer.status_code == 200 and answer.json() == {"cards": []}
        # The floor parses what it reads, as a hook call does: a body that is not JSON is refused.
        assert client.post("/bench/noop", content=payload[:-1]).status_code == 400
