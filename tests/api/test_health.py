"""Liveness and readiness: ready means database reachable, policies loaded and not draining;
a draining replica also closes every connection it answers on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.draining import Drain
from tests.conftest import ON_POSTGRESQL, make_settings
from tests.support.clock import examples_app
from tools.processes import free_port


def _checks(body: dict[str, list[dict[str, str]]]) -> dict[str, str]:
    return {name: results[0]["status"] for name, results in body.items()}


def test_a_serving_replica_is_live_and_ready(client: TestClient) -> None:
    assert client.get("/health/live").status_code == 200
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/health+json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["status"] == "pass"
    assert set(_checks(response.json()["checks"]).values()) == {"pass"}
    assert response.headers.get("connection") != "close"


def test_a_draining_replica_is_live_but_not_ready_and_closes_connections(
    client: TestClient,
) -> None:
    drain: Drain = client.app.state.drain  # type: ignore[attr-defined]
    drain.begin()
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert _checks(response.json()["checks"])["draining"] == "fail"
    live = client.get("/health/live")
    assert live.status_code == 200
    assert live.headers["connection"] == "close"
    assert client.get("/cds-services").headers["connection"] == "close"


@pytest.fixture
def without_database(tmp_path: Path) -> Iterator[TestClient]:
    if ON_POSTGRESQL:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres"
    else:
        (tmp_path / "not-a-file.db").mkdir()
        url = f"sqlite:///{tmp_path / 'not-a-file.db'}"
    with TestClient(examples_app(make_settings(url, db_connect_timeout_s=1))) as client:
        yield client


def test_a_replica_without_its_database_is_live_but_not_ready(
    without_database: TestClient,
) -> None:
    assert without_database.get("/health/live").status_code == 200
    response = without_database.get("/health/ready")
    assert response.status_code == 503
    assert _checks(response.json()["checks"]) == {
        "draining": "pass",
        "policies": "pass",
        "database": "fail",
    }
