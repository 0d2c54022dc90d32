"""Schemathesis against the service's own OpenAPI document: every operation, with bodies and
parameters generated from the documented schemas (service/openapi_bodies.py) and beyond them.
The one check that must hold: no 5xx. The service still answers afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from service.storage.migrate import upgrade
from tests.conftest import make_settings
from tests.crd.test_answers import hook_request
from tests.policy.test_scenarios import SCENARIOS
from tests.support.clock import examples_app


def _app(directory: Path) -> FastAPI:
    url = f"sqlite:///{directory / 'service.db'}"
    upgrade(url)
    return examples_app(make_settings(url))


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    application = _app(tmp_path_factory.mktemp("openapi-fuzz"))
    with TestClient(application):  # runs the lifespan: the audit writer starts and stops
        yield application


def _operations(app: FastAPI) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


# Run without schemathesis' pytest plugin (it does not support this pytest): one hypothesis run
# per operation, cases drawn from the operation's strategy, sent to the app in process.
def test_no_operation_answers_5xx(app: FastAPI) -> None:
    operations = _operations(app)
    assert len(operations) >= 11, "every route is in the OpenAPI document"
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=150,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=[not_a_server_error])

        check()


def test_the_service_still_answers(app: FastAPI) -> None:
    with TestClient(app) as client:
        answer = client.post("/cds-services/crd-order-sign", json=hook_request(SCENARIOS[0]))
    assert answer.status_code == 200 and answer.json()["systemActions"]
