"""The engines: a failed write's log names the statement, never its parameters (patient ids,
Claim identifiers and order references are PHI, and logs leave the payer's database)."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from tests.dtr.test_responses import _completed
from tests.pas.test_submit import SUBMIT
from tests.policy.test_scenarios import SCENARIOS
from tests.support.pas_requests import pas_bundle

REFUSE_SQLITE = (
    "CREATE TRIGGER refuse BEFORE INSERT ON prior_auth_request "
    "BEGIN SELECT RAISE(ABORT, 'refused'); END"
)
REFUSE_POSTGRESQL = "ALTER TABLE prior_auth_request ADD CONSTRAINT refuse CHECK (false) NOT VALID"


def _refuse_new_requests(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as connection:
        sqlite = database_url.startswith("sqlite")
        connection.execute(text(REFUSE_SQLITE if sqlite else REFUSE_POSTGRESQL))
    engine.dispose()


def test_a_failed_write_logs_no_parameters(
    client: TestClient, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    bundle = pas_bundle(SCENARIOS[0], _completed(client), identifier="claim-phi-7781")
    order = next(
        f"MedicationRequest/{e['resource']['id']}"
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "MedicationRequest"
    )
    _refuse_new_requests(database_url)
    with caplog.at_level(logging.DEBUG):
        answer = client.post(SUBMIT, json=bundle)
    assert answer.status_code >= 500, answer.text  # nothing stored, nothing acknowledged
    assert "prior_auth_request" in caplog.text  # the failure is logged, with its statement
    assert "claim-phi-7781" not in caplog.text
    assert order not in caplog.text
    assert "Failing row" not in caplog.text and "parameters:" not in caplog.text
