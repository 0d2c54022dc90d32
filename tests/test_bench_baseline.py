"""The benchmark baseline endpoint exists only in bench mode."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from tests.conftest import make_settings
from tests.support.clock import examples_app


@pytest.mark.parametrize("floor", ["noop", "durable"])
def test_the_floors_are_absent_unless_bench_mode(database_url: str, floor: str) -> None:
    with TestClient(examples_app(make_settings(database_url))) as client:
        assert client.post(f"/bench/{floor}", content=b"{}").status_code in (404, 405)


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


def test_the_durable_floor_commits_one_row_before_it_answers(database_url: str) -> None:
    settings = make_settings(database_url, bench_mode=True)
    with TestClient(examples_app(settings)) as client:
        answers = [client.post("/bench/durable", content=b'{"hook": "order-sign"}') for _ in "abc"]
        assert all(a.status_code == 200 and a.json() == {"cards": []} for a in answers)
        assert client.post("/bench/durable", content=b"{").status_code == 400
        engine = create_engine(database_url)
        with engine.connect() as connection:
            kept = connection.execute(text("select count(*) from feedback")).scalar_one()
        engine.dispose()
    assert kept == 3
