"""Faults in the EHR's FHIR server (a real HTTP server on loopback): slow, failing, garbage,
oversized, resetting the connection, redirecting elsewhere. Every order-sign still answers 200
within the prefetch budget, `indeterminate` / `technical` for what could not be had, and the
access token never shows in the answer, the logs or the audit log."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from tests.cdshooks.test_router import SIGN, _coverage_information, _valid
from tests.conftest import make_settings
from tests.crd.test_answers import hook_request
from tests.dtr.test_package import PACKAGE
from tests.dtr.test_responses import CONSOLIDATION_ANSWERS, answer, evaluate, outcome, prefilled
from tests.policy.test_scenarios import SCENARIOS
from tests.support.clock import examples_app
from tests.support.loopback_fhir import loopback_fhir
from tests.support.resources import fhir_authorization

TOKEN = "ehr-access-token-7f3a9c"
BUDGET_MS = 800

FAULTS: dict[str, dict[str, Any]] = {
    "slow": {"body": {"resourceType": "Bundle", "type": "searchset"}, "delay_s": 30.0},
    "server-error": {"status": 500, "body": {}},
    "garbage": {"raw": b"{'resourceType': Bundle,,,"},
    "not-a-bundle": {"body": {"resourceType": "Patient", "id": "x"}},
    "huge": {"raw": b'{"resourceType": "Bundle", "entry": [' + b'{"x": 1},' * 200_000 + b"{}]}"},
    "reset": {"reset": True},
    "redirect-elsewhere": {"status": 302, "location": "http://169.254.169.254/fhir/Condition"},
}


@pytest.mark.parametrize("fault", FAULTS)
def test_order_sign_survives_the_ehr(
    fault: str, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(database_url, prefetch_budget_ms=BUDGET_MS, fetch_max_bytes=512 * 1024)
    caplog.set_level(logging.DEBUG)
    with loopback_fhir() as ehr, TestClient(examples_app(settings)) as client:
        ehr.serve("Condition?patient=pat1", **FAULTS[fault])
        body = _valid()
        del body["prefetch"]["conditions"]
        body["fhirServer"] = ehr.base_url
        body["fhirAuthorization"] = fhir_authorization(TOKEN, scope="patient/Condition.read")
        body["extension"] = {"davinci-crd.requestedVersion": "2.2"}  # 2.2 says indeterminate
        response = client.post(SIGN, json=body)
        # A slow EHR is still searching when the answer is out: the budget cut it off.
        assert ehr.answered == ([] if fault == "slow" else ["/Condition?patient=pat1"])
    assert response.status_code == 200, response.text
    info = _coverage_information(response.json())
    assert info["covered"]["valueCode"] == "indeterminate"
    assert info["reason"]["valueCodeableConcept"]["coding"][0]["code"] == "technical"
    assert [path for path, _ in ehr.requests] == ["/Condition?patient=pat1"]
    assert ehr.requests[0][1] == f"Bearer {TOKEN}"
    assert TOKEN not in response.text
    assert TOKEN not in caplog.text
    engine = create_engine(database_url)
    with engine.connect() as connection:
        audit = [str(tuple(row)) for row in connection.execute(text("select * from audit_log"))]
    engine.dispose()
    assert audit and not any(TOKEN in row for row in audit)


SLOW_SEARCH: dict[str, Any] = {"body": {"resourceType": "Bundle", "type": "searchset"}}


@pytest.mark.parametrize(
    "not_sent",
    [
        pytest.param(("conditions", "observations"), id="clinical-data-slow"),
        pytest.param(
            ("coverage", "conditions", "observations", "medicationRequests"), id="everything-slow"
        ),
    ],
)
def test_a_slow_ehr_strands_no_prescriber(not_sent: tuple[str, ...], database_url: str) -> None:
    """Issue 28: the record could not be read in time, so the answer is `technical`; its
    assertion id is still known to DTR, the form opens, and the prescriber's completed form is
    accepted and evaluated by the payer."""
    settings = make_settings(database_url, prefetch_budget_ms=200)
    with loopback_fhir() as ehr, TestClient(examples_app(settings)) as client:
        ehr.serve_otherwise(**SLOW_SEARCH, delay_s=1.0)
        # What the app's own CQL reads from the EHR: the form of a sign that was not degraded.
        read_in_the_browser = prefilled(client, SCENARIOS[0])
        body = hook_request(SCENARIOS[0])
        for key in not_sent:
            del body["prefetch"][key]
        body["fhirServer"] = ehr.base_url
        body["fhirAuthorization"] = fhir_authorization(TOKEN, scope="patient/*.read")
        body["extension"] = {"davinci-crd.requestedVersion": "2.2"}
        signed = client.post(SIGN, json=body)
        assert signed.status_code == 200, signed.text
        info = _coverage_information(signed.json())
        assert info["reason"]["valueCodeableConcept"]["coding"][0]["code"] == "technical"
        package = client.post(
            PACKAGE,
            json={
                "resourceType": "Parameters",
                "parameter": [
                    {"name": "context", "valueString": info["coverage-assertion-id"]["valueString"]}
                ],
            },
        )
        assert package.status_code == 200, package.text
        (parameter,) = package.json()["parameter"]
        form = parameter["resource"]["entry"][-1]["resource"]
        assert form["resourceType"] == "QuestionnaireResponse"
        form["item"] = read_in_the_browser["item"]
        for link_id, value in CONSOLIDATION_ANSWERS.items():
            answer(form, link_id, value)
        form["status"] = "completed"
        form["identifier"] = {"system": "urn:ehr:qr", "value": f"qr-{'-'.join(not_sent)}"}
        submitted = client.post("/fhir/QuestionnaireResponse", json=form)
        assert submitted.status_code == 201, submitted.text
        assert outcome(evaluate(client, submitted.json())) == "criteria-met"
