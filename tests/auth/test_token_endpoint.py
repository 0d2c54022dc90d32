"""SMART Backend Services on the payer's side: discovery, the token endpoint's refusals (RFC 6749
section 5.2 bodies) and grants, the prescriber app's token exchange, and the access tokens every
DTR route with patient data checks (401 with a Bearer challenge, 403 for a missing scope)."""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient

from service.auth.access_tokens import AccessGrant, AccessTokens
from service.auth.launch import Launch
from service.auth.scopes import parse_scopes
from tests.conftest import ACCESS_TOKEN_KEY, make_settings
from tests.support.clients import (
    BASE,
    EHR_A,
    SIGNED_AT,
    TOKEN_URL,
    bearer,
    registry_file,
    system_token,
    token_form,
)
from tests.support.clock import ManualClock, examples_app

KEY = ACCESS_TOKEN_KEY
PACKAGE = "/fhir/Questionnaire/$questionnaire-package"
STRANGER = ec.generate_private_key(ec.SECP384R1())


@pytest.fixture
def client(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[TestClient]:
    settings = make_settings(
        database_url,
        auth_mode="jwt",
        base_url=BASE,
        smart_clients_file=registry_file(tmp_path, EHR_A),
    )
    with TestClient(examples_app(settings, clock)) as test_client:
        yield test_client


def _b64(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def _unsigned(claims: dict[str, Any]) -> str:
    return f"{_b64({'alg': 'none', 'kid': EHR_A.kid})}.{_b64(claims)}."


def _hs256(claims: dict[str, Any]) -> str:
    return jwt.encode(
        claims, "any-shared-secret-at-all-0123456789", algorithm="HS256", headers={"kid": EHR_A.kid}
    )


BAD_ASSERTIONS: list[Any] = [
    pytest.param(lambda: EHR_A.sign(EHR_A.assertion(exp=SIGNED_AT - 120)), id="expired"),
    pytest.param(lambda: EHR_A.sign(EHR_A.assertion(aud=f"{BASE}/other")), id="wrong-aud"),
    pytest.param(
        lambda: EHR_A.sign(EHR_A.assertion(iss="nobody", sub="nobody")), id="unknown-client"
    ),
    pytest.param(lambda: EHR_A.sign(EHR_A.assertion(sub="someone-else")), id="sub-not-iss"),
    pytest.param(lambda: EHR_A.sign(EHR_A.assertion(), key=STRANGER), id="key-not-registered"),
    pytest.param(lambda: EHR_A.sign(EHR_A.assertion(), kid="k9"), id="unknown-kid"),
    pytest.param(lambda: _unsigned(EHR_A.assertion()), id="alg-none"),
    pytest.param(lambda: _hs256(EHR_A.assertion()), id="hs256"),
    pytest.param(lambda: EHR_A.sign(EHR_A.assertion(jti=None)), id="no-jti"),
    pytest.param(
        lambda: EHR_A.sign(EHR_A.assertion(exp=SIGNED_AT + 3600)), id="lifetime-over-5-min"
    ),
    pytest.param(lambda: "not-a-jwt", id="garbage"),
]


def test_smart_configuration(client: TestClient) -> None:
    found = client.get("/fhir/.well-known/smart-configuration").json()
    assert found["token_endpoint"] == TOKEN_URL
    assert "client_credentials" in found["grant_types_supported"]
    assert found["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert set(found["token_endpoint_auth_signing_alg_values_supported"]) == {
        "RS384",
        "ES384",
        "RS256",  # docs/decisions/0010
    }
    assert "system/QuestionnaireResponse.crs" in found["scopes_supported"]


@pytest.mark.parametrize("make", BAD_ASSERTIONS)
def test_bad_client_assertions_are_refused(client: TestClient, make: Callable[[], str]) -> None:
    answer = client.post("/auth/token", data=token_form(make()))
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert answer.headers["Cache-Control"] == "no-store"


def test_a_replayed_assertion_is_refused(client: TestClient) -> None:
    assertion = EHR_A.sign(EHR_A.assertion())
    assert client.post("/auth/token", data=token_form(assertion)).status_code == 200
    again = client.post("/auth/token", data=token_form(assertion))
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("form", "error"),
    [
        pytest.param({"grant_type": "password"}, "unsupported_grant_type", id="grant-type"),
        pytest.param({"grant_type": "client_credentials"}, "invalid_request", id="no-assertion"),
        pytest.param(
            {**token_form("x"), "client_assertion_type": "urn:other"}, "invalid_request", id="type"
        ),
    ],
)
def test_malformed_token_requests(client: TestClient, form: dict[str, str], error: str) -> None:
    answer = client.post("/auth/token", data=form)
    assert answer.status_code == 400 and answer.json()["error"] == error


def test_not_a_form_is_invalid_request(client: TestClient) -> None:
    answer = client.post("/auth/token", json=token_form("x"))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "scope", ["patient/QuestionnaireResponse.r", "system/Patient.r", "openid", "system/*.cruds"]
)
def test_scopes_beyond_the_offer_are_not_granted(client: TestClient, scope: str) -> None:
    answer = client.post("/auth/token", data=token_form(EHR_A.sign(EHR_A.assertion()), scope))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_scope"


def test_a_good_assertion_gets_a_short_lived_token(client: TestClient) -> None:
    scope = "system/Questionnaire.rs system/QuestionnaireResponse.r"
    answer = client.post("/auth/token", data=token_form(EHR_A.sign(EHR_A.assertion()), scope))
    assert answer.status_code == 200
    body = answer.json()
    assert (body["token_type"], body["scope"]) == ("bearer", scope)
    assert 0 < body["expires_in"] <= 300
    assert answer.headers["Cache-Control"] == "no-store"
    claims = _issued_claims(body["access_token"])
    assert claims["sub"] == EHR_A.client_id and "patient" not in claims
    assert claims["iat"] == int(SIGNED_AT) and claims["exp"] - claims["iat"] == body["expires_in"]


def _issued_claims(token: str) -> dict[str, Any]:
    """Our access token's claims. It was issued on the app's clock (the examples' noon), so its
    times are checked by the tests that read them, not against the machine's clock here."""
    claims: dict[str, Any] = jwt.decode(
        token, KEY, algorithms=["HS256"], audience=f"{BASE}/fhir", options={"verify_exp": False}
    )
    return claims


# ---------------------------------------------------------------- the DTR routes


def test_an_access_token_ends_when_the_clock_passes_its_expiry(
    client: TestClient, clock: ManualClock
) -> None:
    """Its lifetime is measured on the service's clock: moved, not waited for. (An unknown
    assertion is a 404 once the token is accepted, a 401 before.)"""
    token = system_token(client, EHR_A)

    def package() -> int:
        return client.post(PACKAGE, json=_package_body(), headers=bearer(token)).status_code

    assert package() == 404
    clock.advance(seconds=299)
    assert package() == 404
    clock.advance(seconds=1)  # its whole 300 s lifetime: no longer valid
    assert package() == 401


def _access(**changes: Any) -> str:
    now = int(SIGNED_AT)
    claims = {
        "iss": f"{BASE}/auth",
        "aud": f"{BASE}/fhir",
        "sub": EHR_A.client_id,
        "scope": "system/Questionnaire.rs",
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
    }
    claims.update(changes)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, KEY, algorithm="HS256")


BAD_ACCESS_TOKENS: list[Any] = [
    pytest.param(lambda: _access(exp=int(SIGNED_AT) - 5), id="expired"),
    pytest.param(lambda: _access(aud=f"{BASE}/cds-services"), id="wrong-aud"),
    pytest.param(lambda: _access(iss="https://elsewhere.example.org/auth"), id="wrong-iss"),
    pytest.param(
        lambda: jwt.encode(
            {"sub": "ehr-a"}, "another-key-0123456789-0123456789", algorithm="HS256"
        ),
        id="another-key",
    ),
    pytest.param(
        lambda: _unsigned({"iss": f"{BASE}/auth", "aud": f"{BASE}/fhir", "sub": "ehr-a"}),
        id="alg-none",
    ),
    pytest.param(
        lambda: jwt.encode(
            {
                "iss": f"{BASE}/auth",
                "aud": f"{BASE}/fhir",
                "sub": "ehr-a",
                "scope": "system/Questionnaire.rs",
                "iat": int(SIGNED_AT),
                "exp": int(SIGNED_AT) + 60,
            },
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
            algorithm="RS256",
        ),
        id="rs256-own-key",
    ),
    pytest.param(lambda: EHR_A.sign(EHR_A.assertion()), id="a-client-assertion"),
    pytest.param(lambda: "opaque-garbage", id="garbage"),
]


def _package_body() -> dict[str, Any]:
    context = {"name": "context", "valueString": str(uuid.uuid4())}
    return {"resourceType": "Parameters", "parameter": [context]}


@pytest.mark.parametrize("make", BAD_ACCESS_TOKENS)
def test_bad_access_tokens_are_refused(client: TestClient, make: Callable[[], str]) -> None:
    answer = client.post(PACKAGE, json=_package_body(), headers=bearer(make()))
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="payer", error="invalid_token"'


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("POST", PACKAGE, "system/QuestionnaireResponse.crs"),
        ("POST", "/fhir/QuestionnaireResponse", "system/QuestionnaireResponse.rs"),
        ("GET", "/fhir/QuestionnaireResponse/x", "system/QuestionnaireResponse.c"),
        ("GET", "/fhir/QuestionnaireResponse?subject=Patient/p", "system/QuestionnaireResponse.r"),
        ("POST", "/fhir/QuestionnaireResponse/$evaluate", "system/QuestionnaireResponse.c"),
    ],
)
def test_a_missing_scope_is_403(client: TestClient, method: str, path: str, scope: str) -> None:
    answer = client.request(method, path, json={}, headers=bearer(_access(scope=scope)))
    assert answer.status_code == 403
    assert 'error="insufficient_scope"' in answer.headers["WWW-Authenticate"]


def test_a_good_token_passes(client: TestClient) -> None:
    answer = client.post(PACKAGE, json=_package_body(), headers=bearer(system_token(client, EHR_A)))
    assert answer.status_code == 404, "authenticated: now the unknown assertion is the answer"


def test_v1_scopes_are_understood() -> None:
    (scope,) = parse_scopes("system/QuestionnaireResponse.read")
    assert scope.permissions == frozenset("rs")
    assert parse_scopes("system/QuestionnaireResponse.cruds?status=x") == []


def test_an_access_token_keeps_its_launch_binding() -> None:
    tokens = AccessTokens(KEY.encode(), f"{BASE}/auth", f"{BASE}/fhir", time.time)
    grant = AccessGrant(
        "ehr-a", tuple(parse_scopes("patient/Questionnaire.rs")), "p1", "https://e/fhir"
    )
    assert tokens.verify(tokens.issue(grant, 60)) == grant


# ---------------------------------------------------------------- the app's token exchange


class FakeEhr:
    """The launch check's other end: which (token, patient) pairs the EHR vouches for (the
    introspection itself, through HTTP, is tests/auth/test_launch.py's)."""

    def __init__(self) -> None:
        self.known: set[tuple[str, str, str]] = set()

    async def refusal(self, launch: Launch) -> str | None:
        vouched = (launch.fhir_server, launch.access_token, launch.patient) in self.known
        return None if vouched else "not vouched for"


def _exchange(client: TestClient, **changes: str) -> Any:
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": "ehr-token-1",
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "fhir_server": EHR_A.fhir_server,
        "patient": "pat",
    }
    return client.post("/auth/token", data={**form, **changes})


@pytest.fixture
def ehr(client: TestClient) -> FakeEhr:
    fake = FakeEhr()
    fake.known.add((EHR_A.fhir_server, "ehr-token-1", "pat"))
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    object.__setattr__(runtime.token_endpoint, "launches", fake)
    return fake


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        pytest.param(
            {"fhir_server": "https://other.example.org/fhir"},
            "invalid_grant",
            id="unregistered-ehr",
        ),
        pytest.param({"subject_token": "stolen"}, "invalid_grant", id="ehr-does-not-vouch"),
        pytest.param({"patient": "someone-else"}, "invalid_grant", id="another-patient"),
        pytest.param({"patient": "../Patient/x"}, "invalid_request", id="not-a-fhir-id"),
        # A FHIR id by the R4 regex, but a dot segment in Patient/{id}: the EHR's base itself.
        pytest.param({"patient": ".."}, "invalid_request", id="dot-dot"),
        pytest.param({"patient": "."}, "invalid_request", id="dot"),
        pytest.param({"subject_token_type": "urn:x"}, "invalid_request", id="token-type"),
    ],
)
def test_bad_exchanges_are_refused(
    client: TestClient, ehr: FakeEhr, changes: dict[str, str], error: str
) -> None:
    answer = _exchange(client, **changes)
    assert answer.status_code == 400 and answer.json()["error"] == error


def test_an_exchanged_token_reaches_only_its_patient(client: TestClient, ehr: FakeEhr) -> None:
    answer = _exchange(client)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["patient"] == "pat" and body["scope"].startswith("patient/")
    claims = _issued_claims(body["access_token"])
    assert (claims["patient"], claims["fhir_server"]) == ("pat", EHR_A.fhir_server)
    order = {
        "resourceType": "MedicationRequest",
        "id": "o1",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/other"},
        "medicationCodeableConcept": {"text": "x"},
    }
    refused = client.post(
        PACKAGE,
        json={"resourceType": "Parameters", "parameter": [{"name": "order", "resource": order}]},
        headers=bearer(body["access_token"]),
    )
    assert refused.status_code == 403


def test_tokens_never_reach_the_log(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    assertion = EHR_A.sign(EHR_A.assertion())
    token = client.post("/auth/token", data=token_form(assertion)).json()["access_token"]
    client.post("/auth/token", data=token_form(assertion))  # replayed: refused, and logged
    client.post(PACKAGE, json=_package_body(), headers=bearer(token))
    client.post(PACKAGE, json=_package_body(), headers=bearer(token[:-2] + "xx"))
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "refused" in logged, "the refusals are logged, with their reasons"
    for secret in (assertion, token, token.split(".")[1], assertion.split(".")[2]):
        assert secret not in logged


def test_a_client_from_the_older_settings_gets_tokens(database_url: str, tmp_path: Path) -> None:
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps({"keys": [EHR_A.jwk()]}))
    settings = make_settings(
        database_url,
        auth_mode="jwt",
        base_url=BASE,
        jwt_trusted_issuers=[EHR_A.iss],
        jwt_jwks_file=keys,
    )
    with TestClient(examples_app(settings)) as client:
        assertion = EHR_A.assertion(iss=EHR_A.iss, sub=EHR_A.iss)
        answer = client.post("/auth/token", data=token_form(EHR_A.sign(assertion)))
    assert answer.status_code == 200, answer.text
