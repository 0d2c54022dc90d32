"""The prescriber app's token exchange against a real EHR on loopback: the launch's patient is
what the EHR's SMART token introspection (RFC 7662 with SMART's `patient`, at the
`introspection_endpoint` its smart-configuration advertises) says about the app's token, and
nothing else. An EHR token that reads every patient (a user-level token) is no proof of the
launch's patient: the Patient read it passes is never asked. Every way introspection can fail
is a refusal."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
from fastapi.testclient import TestClient

from tests.conftest import ACCESS_TOKEN_KEY, make_settings
from tests.support.clients import BASE, SIGNED_AT, Ehr
from tests.support.clock import ManualClock, examples_app
from tests.support.loopback_fhir import LoopbackFhir, loopback_fhir

APP_TOKEN = "ehr-launch-token-01"
INTROSPECT = "auth/introspect"
CONFIGURATION = ".well-known/smart-configuration"
TIMEOUT_S = 0.5


@dataclass
class Setup:
    payer: TestClient
    ehr: LoopbackFhir

    def exchange(self, patient: str = "01-pat", **changes: str) -> Any:
        form = {
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": APP_TOKEN,
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "fhir_server": self.ehr.base_url,
            "patient": patient,
        }
        return self.payer.post("/auth/token", data={**form, **changes})


def _introspection(**changes: Any) -> dict[str, Any]:
    """What SMART's introspection says of a launch for 01-pat (SMART App Launch 2, "Token
    Introspection": active, scope, client_id, exp, and the launch's patient)."""
    answer = {
        "active": True,
        "scope": "launch openid fhirUser patient/*.rs",
        "client_id": "payer-dtr-app",
        "exp": int(SIGNED_AT) + 600,
        "patient": "01-pat",
        "fhirUser": "Practitioner/01-prescriber",
    }
    return {k: v for k, v in {**answer, **changes}.items() if v is not None}


def _start(
    database_url: str,
    tmp_path: Path,
    clock: ManualClock,
    registration: Callable[[str], dict[str, Any]] = lambda origin: {},
) -> Iterator[Setup]:
    """The payer, with the loopback EHR registered (plus `registration(its origin)`)."""
    with loopback_fhir() as ehr:
        origin = ehr.base_url.removesuffix("/fhir")
        ehr.serve(CONFIGURATION, {"introspection_endpoint": f"{origin}/{INTROSPECT}"})
        ehr.serve(INTROSPECT, _introspection())
        # A user-level EHR token reads every patient: the check this replaces was satisfied.
        for patient in ("01-pat", "02-pat"):
            ehr.serve(f"Patient/{patient}", {"resourceType": "Patient", "id": patient})
        registry = tmp_path / "smart-clients.json"
        entry = Ehr("ehr-l", "https://ehr-l.example.org", ehr.base_url).entry()
        registry.write_text(json.dumps({"clients": [{**entry, **registration(origin)}]}))
        settings = make_settings(
            database_url,
            auth_mode="jwt",
            base_url=BASE,
            smart_clients_file=registry,
            introspection_timeout_s=TIMEOUT_S,
        )
        with TestClient(examples_app(settings, clock)) as payer:
            yield Setup(payer, ehr)


@pytest.fixture
def setup(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Setup]:
    yield from _start(database_url, tmp_path, clock)


def _claims(token: str) -> dict[str, Any]:
    found: dict[str, Any] = jwt.decode(
        token,
        ACCESS_TOKEN_KEY,
        algorithms=["HS256"],
        audience=f"{BASE}/fhir",
        options={"verify_exp": False},
    )
    return found


def test_the_launch_s_own_patient_is_granted(setup: Setup) -> None:
    answer = setup.exchange()
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["patient"] == "01-pat" and body["scope"].startswith("patient/")
    claims = _claims(body["access_token"])
    assert (claims["patient"], claims["fhir_server"]) == ("01-pat", setup.ehr.base_url)
    # RFC 7662 section 2.1: the token in a form, authorized by default with the token itself.
    assert setup.ehr.posted == [f"token={APP_TOKEN}"]
    introspected = [r for r in setup.ehr.requests if r[0] == f"/{INTROSPECT}"]
    assert introspected == [(f"/{INTROSPECT}", f"Bearer {APP_TOKEN}")]
    assert not [r for r in setup.ehr.requests if r[0].startswith("/Patient")]


def test_a_launch_for_one_patient_is_not_traded_for_another(setup: Setup) -> None:
    """The finding: a launch for 01-pat asked for 02-pat, with a token the EHR would let read
    Patient/02-pat."""
    answer = setup.exchange(patient="02-pat")
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("route", "canned"),
    [
        pytest.param(INTROSPECT, {"body": _introspection(active=False)}, id="inactive"),
        pytest.param(INTROSPECT, {"body": _introspection(active="true")}, id="active-not-boolean"),
        pytest.param(INTROSPECT, {"body": _introspection(patient=None)}, id="no-patient"),
        pytest.param(INTROSPECT, {"body": _introspection(patient="02-pat")}, id="other-patient"),
        pytest.param(INTROSPECT, {"body": _introspection(patient=["01-pat"])}, id="patient-list"),
        pytest.param(
            INTROSPECT, {"body": _introspection(exp=int(SIGNED_AT))}, id="expired-by-our-clock"
        ),
        pytest.param(INTROSPECT, {"body": _introspection(exp=None)}, id="no-exp"),
        pytest.param(INTROSPECT, {"body": _introspection(exp="never")}, id="exp-not-a-number"),
        pytest.param(INTROSPECT, {"body": {"error": "invalid_client"}, "status": 401}, id="401"),
        pytest.param(INTROSPECT, {"body": {}, "status": 500}, id="500"),
        pytest.param(INTROSPECT, {"raw": b"<html>active</html>"}, id="not-json"),
        pytest.param(INTROSPECT, {"body": [_introspection()]}, id="not-an-object"),
        pytest.param(INTROSPECT, {"body": _introspection(), "delay_s": 1.0}, id="timeout"),
        pytest.param(INTROSPECT, {"reset": True}, id="connection-reset"),
        pytest.param(
            INTROSPECT,
            {"status": 302, "location": "http://127.0.0.1:9/introspect", "body": {}},
            id="redirect",
        ),
        pytest.param(CONFIGURATION, {"body": {"token_endpoint": "x"}}, id="not-advertised"),
        pytest.param(
            CONFIGURATION,
            {"body": {"introspection_endpoint": "https://elsewhere.example.org/introspect"}},
            id="advertised-off-the-allowlist",
        ),
        pytest.param(CONFIGURATION, {"body": {"introspection_endpoint": 7}}, id="not-a-url"),
        pytest.param(CONFIGURATION, {"body": {}, "status": 404}, id="no-smart-configuration"),
    ],
)
def test_every_failure_of_introspection_is_a_refusal(
    setup: Setup, route: str, canned: dict[str, Any]
) -> None:
    setup.ehr.serve(route, **canned)
    answer = setup.exchange()
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_grant"
    assert answer.headers["Cache-Control"] == "no-store"
    assert not [r for r in setup.ehr.requests if r[0].startswith("/Patient")], "no fallback"


def test_a_registered_introspection_credential_and_endpoint(
    database_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    """The EHR issued the payer a credential for its introspection endpoint: it authorizes the
    call, and the launch token goes only as the token introspected."""
    secret = tmp_path / "introspection-token"
    secret.write_text("payer-introspection-credential\n")

    def registration(origin: str) -> dict[str, Any]:
        endpoint = f"{origin}/{INTROSPECT}"
        return {"introspection": {"endpoint": endpoint, "bearer_token_file": str(secret)}}

    for setup in _start(database_url, tmp_path, clock, registration):
        setup.ehr.serve(CONFIGURATION, {}, status=404)  # not asked: the endpoint is registered
        assert setup.exchange().status_code == 200
        introspected = [r for r in setup.ehr.requests if r[0] == f"/{INTROSPECT}"]
        assert introspected == [(f"/{INTROSPECT}", "Bearer payer-introspection-credential")]
        assert setup.ehr.posted == [f"token={APP_TOKEN}"]


def test_the_launch_token_never_reaches_the_log(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    setup.ehr.serve(INTROSPECT, _introspection(patient="02-pat"))
    assert setup.exchange().status_code == 400
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "introspection" in logged, "the refusal is logged with its reason"
    assert APP_TOKEN not in logged and "02-pat" not in logged


def test_the_form_body_is_what_the_ehr_parses(setup: Setup) -> None:
    """A token with characters a form must escape reaches the EHR as it was."""
    odd = "a+b/c=d&e"
    setup.exchange(subject_token=odd)
    assert parse_qs(setup.ehr.posted[-1]) == {"token": [odd]}
