"""Authentication through HTTP (bare 401s, a good token passes) and secrets kept out of logs,
error bodies and the audit log."""

from __future__ import annotations

import json
import logging
import uuid
import warnings
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from tests.conftest import make_settings
from tests.support.clients import BASE as CLIENTS_BASE
from tests.support.clients import EHR_A, EHR_B, SIGNED_AT, registry_file
from tests.support.clock import examples_app
from tests.support.loopback_fhir import loopback_fhir
from tests.support.resources import (
    blinatumomab_order,
    coverage,
    fhir_authorization,
    hook_request,
    patient,
    searchset,
)

ISSUER = "https://ehr.example.org"
BASE = "https://payer.example.org"
KEY = ec.generate_private_key(ec.SECP384R1())
SIGN = "/cds-services/crd-order-sign"


def _token(audience: str, **claims: object) -> str:
    payload = {
        "iss": ISSUER,
        "aud": audience,
        "iat": SIGNED_AT,
        "exp": SIGNED_AT + 120,
        "jti": str(uuid.uuid4()),
        **claims,
    }
    return jwt.encode(payload, KEY, algorithm="ES384", headers={"kid": "k1"})


@pytest.fixture
def secured(database_url: str, tmp_path: Path) -> TestClient:
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(KEY.public_key()))
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps({"keys": [dict(jwk, kid="k1", alg="ES384")]}))
    return _trusting(database_url, keys)


def _trusting(database_url: str, keys: Path) -> TestClient:
    """The app with client authentication on, trusting ISSUER's JWK Set in `keys`."""
    settings = make_settings(
        database_url,
        auth_mode="jwt",
        base_url=BASE,
        jwt_trusted_issuers=[ISSUER],
        jwt_jwks_file=keys,
    )
    return TestClient(examples_app(settings))


def _body() -> dict[str, object]:
    prefetch = {
        "patient": patient(),
        "coverage": searchset(coverage()),
        "conditions": None,
        "observations": None,
        "medicationRequests": None,
        "medicationAdministrations": None,
    }
    return hook_request([blinatumomab_order()], prefetch)


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="none"),
        pytest.param("Bearer garbage", id="garbage"),
        pytest.param(
            f"Bearer {_token(BASE + '/cds-services/crd-order-select')}",
            id="token-for-another-service",
        ),
        pytest.param(
            f"Bearer {_token(BASE + '/cds-services/crd-order-sign', iss='https://x.example')}",
            id="untrusted-issuer",
        ),
    ],
)
def test_refused_calls_get_a_bare_401(secured: TestClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    with secured:
        response = secured.post(SIGN, json=_body(), headers=headers)
        feedback = secured.post(f"{SIGN}/feedback", json={"feedback": []}, headers=headers)
    assert (response.status_code, response.content) == (401, b"")
    assert (feedback.status_code, feedback.content) == (401, b"")


def test_a_good_token_passes_once(secured: TestClient) -> None:
    token = _token(BASE + SIGN)
    with secured:
        first = secured.post(SIGN, json=_body(), headers={"Authorization": f"Bearer {token}"})
        replay = secured.post(SIGN, json=_body(), headers={"Authorization": f"Bearer {token}"})
        discovery = secured.get("/cds-services")
    assert first.status_code == 200, first.text
    assert replay.status_code == 401
    assert discovery.status_code == 200, "discovery is public (CDS Hooks 2.0)"


def test_feedback_audience_is_the_feedback_url(secured: TestClient) -> None:
    token = _token(BASE + SIGN + "/feedback")
    body = {
        "feedback": [
            {"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-11-24T10:00:00Z"}
        ]
    }
    with secured:
        response = secured.post(
            f"{SIGN}/feedback", json=body, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 200


def test_the_access_token_reaches_no_log_no_answer_and_no_audit_row(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cr3t-access-token-" + uuid.uuid4().hex
    with loopback_fhir() as ehr:
        ehr.serve("Coverage?patient=pat1&status=active", status=500, body={"oops": secret[:4]})
        body = hook_request([blinatumomab_order()], {"patient": patient()})
        body["fhirServer"] = ehr.base_url
        body["fhirAuthorization"] = fhir_authorization(secret)
        caplog.set_level(logging.DEBUG)
        settings = make_settings(database_url, audit_flush_interval_s=0.01)
        with TestClient(examples_app(settings)) as client:
            response = client.post(SIGN, json=body)
    assert response.status_code == 200, response.text
    assert any(auth == f"Bearer {secret}" for _, auth in ehr.requests), "the token was used"
    assert secret not in response.text
    assert secret not in caplog.text
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(text("select * from audit_log")).all()
    engine.dispose()
    assert rows and secret not in repr(rows)
    assert "pat1" not in repr(rows), "the audit log keeps a keyed hash, not the patient id"


@pytest.mark.parametrize(
    ("named", "fetched"),
    [
        pytest.param(EHR_B.fhir_server, True, id="its-own-server"),
        pytest.param(EHR_A.fhir_server, False, id="another-clients-server"),
    ],
)
def test_a_hook_is_fetched_for_only_from_the_callers_registered_servers(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    named: str,
    fetched: bool,
) -> None:
    """EHR B's call naming EHR A's FHIR server (both allowlisted) made the payer send B's token
    to A. Outside development, fhirServer must be one of the caller's registered servers."""
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=searchset())

    real_client = httpx.AsyncClient
    monkeypatch.setattr(
        "service.runtime.httpx.AsyncClient",
        lambda **options: real_client(transport=httpx.MockTransport(answer), **options),
    )
    settings = make_settings(
        database_url,
        environment="production",
        base_url=CLIENTS_BASE,
        payer_identifiers=["P1"],
        smart_clients_file=registry_file(tmp_path, EHR_A, EHR_B),
        fhir_server_allowlist=[EHR_A.fhir_server, EHR_B.fhir_server],
    )
    body = hook_request([blinatumomab_order()], {})
    body["fhirServer"] = named
    body["fhirAuthorization"] = fhir_authorization("ehr-b-token")
    token = EHR_B.hook_token(f"{CLIENTS_BASE}{SIGN}")
    with TestClient(examples_app(settings)) as client:
        answered = client.post(SIGN, json=body, headers={"authorization": f"Bearer {token}"})
    assert bool(seen) == fetched, seen
    assert all(url.startswith(EHR_B.fhir_server) for url in seen)
    if not fetched:
        assert answered.status_code == 412, answered.text


def test_calls_refused_before_they_are_understood_are_audited(
    secured: TestClient, database_url: str
) -> None:
    """A refused token, a body that is not JSON and one that is not a hook request each leave an
    audit row (README: the audit log has every hook call), with no token and no patient id."""
    forged = _token(BASE + SIGN, iss="https://x.example")
    calls = [
        (forged, json.dumps(_body())),
        (_token(BASE + SIGN), "{not json"),
        (_token(BASE + SIGN), json.dumps({"hook": "order-sign", "context": {"patientId": "pat1"}})),
    ]
    with secured:
        answers = [
            secured.post(SIGN, content=body, headers={"Authorization": f"Bearer {token}"})
            for token, body in calls
        ]
    assert [a.status_code for a in answers] == [401, 400, 400]
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("select outcome, status_code, client from audit_log order by id")
        ).all()
        everything = repr(connection.execute(text("select * from audit_log")).all())
    engine.dispose()
    assert [tuple(row) for row in rows] == [
        ("Unauthorized", 401, None),
        ("BadRequest", 400, ISSUER),
        ("BadRequest", 400, ISSUER),
    ]
    assert forged not in everything
    assert "pat1" not in everything


RSA_KEYS = {
    bits: rsa.generate_private_key(public_exponent=65537, key_size=bits) for bits in (1024, 2048)
}


@pytest.fixture
def rsa_secured(database_url: str, tmp_path: Path) -> TestClient:
    """The issuer's JWK Set holds an RSA key of 2048 bits and one of 1024 (docs/decisions/0010)."""
    keys = tmp_path / "jwks.json"
    jwks = [
        dict(json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), kid=f"r{bits}")
        for bits, key in RSA_KEYS.items()
    ]
    keys.write_text(json.dumps({"keys": jwks}))
    return _trusting(database_url, keys)


@pytest.mark.parametrize(
    ("algorithm", "bits", "answered"),
    [
        pytest.param("RS256", 2048, 200, id="rs256-as-the-crd-request-generator-signs"),
        pytest.param("RS384", 2048, 200, id="rs384"),
        pytest.param("RS256", 1024, 401, id="rs256-short-key"),
        pytest.param("RS512", 2048, 401, id="rs512-not-on-the-list"),
        pytest.param("PS256", 2048, 401, id="ps256-not-on-the-list"),
    ],
)
def test_rsa_signed_calls(
    rsa_secured: TestClient, algorithm: str, bits: int, answered: int
) -> None:
    payload = {
        "iss": ISSUER,
        "aud": BASE + SIGN,
        "iat": SIGNED_AT,
        "exp": SIGNED_AT + 120,
        "jti": str(uuid.uuid4()),
    }
    with warnings.catch_warnings():  # PyJWT warns of the short key: that key is the point
        warnings.simplefilter("ignore")
        token = jwt.encode(
            payload, RSA_KEYS[bits], algorithm=algorithm, headers={"kid": f"r{bits}"}
        )
    with rsa_secured:
        response = rsa_secured.post(
            SIGN, json=_body(), headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == answered, response.text
