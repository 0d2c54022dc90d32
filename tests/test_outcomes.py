"""A database outage is a 503 with Retry-After on every route that needs the database, reads
included, never a 500: the client (or the load balancer) tries again, nobody is paged for a bug."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ON_POSTGRESQL, make_settings
from tests.support.clock import examples_app
from tools.processes import free_port

PACKAGE = {"resourceType": "Parameters", "parameter": [{"name": "context", "valueString": "x"}]}
# (method, path, JSON body): each reads or writes the database before it can answer.
NEEDS_THE_DATABASE: dict[str, tuple[str, str, Any]] = {
    "questionnaire-package": ("POST", "/fhir/Questionnaire/$questionnaire-package", PACKAGE),
    "ClaimResponse read": ("GET", "/fhir/ClaimResponse/case-1", None),
    "QuestionnaireResponse read": ("GET", "/fhir/QuestionnaireResponse/r-1", None),
    "QuestionnaireResponse search": ("GET", "/fhir/QuestionnaireResponse?patient=p", None),
}


@pytest.fixture
def unreachable(tmp_path: Path) -> Iterator[TestClient]:
    if ON_POSTGRESQL:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres"
    else:
        (tmp_path / "not-a-file.db").mkdir()  # SQLite: "unable to open database file"
        url = f"sqlite:///{tmp_path / 'not-a-file.db'}"
    app = examples_app(make_settings(url, db_connect_timeout_s=1))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("route", NEEDS_THE_DATABASE.values(), ids=NEEDS_THE_DATABASE.keys())
def test_a_database_outage_is_503_with_retry_after(
    unreachable: TestClient, route: tuple[str, str, Any]
) -> None:
    method, path, body = route
    response = unreachable.request(method, path, json=body)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    (issue,) = response.json()["issue"]
    assert issue["code"] == "transient"
