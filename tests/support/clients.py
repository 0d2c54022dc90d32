"""Registered EHR clients for tests: each with its own ES384 key, able to sign CDS Hooks JWTs and
SMART Backend Services client assertions, and written to a SMART_CLIENTS_FILE."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from tests.support.clock import EXAMPLES_NOON

BASE = "https://payer.example.org"
TOKEN_URL = f"{BASE}/auth/token"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# When tokens are signed unless a test says otherwise: where the in-process apps' clock stands.
SIGNED_AT = EXAMPLES_NOON.timestamp()


@dataclass
class Ehr:
    client_id: str
    iss: str
    fhir_server: str
    key: Any = field(default_factory=lambda: ec.generate_private_key(ec.SECP384R1()))
    kid: str = "k1"

    def jwk(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))
        return dict(public, kid=self.kid, alg="ES384", use="sig")

    def entry(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "iss": self.iss,
            "jwks": {"keys": [self.jwk()]},
            "fhir_servers": [self.fhir_server],
        }

    def sign(self, claims: dict[str, Any], key: Any = None, **header: Any) -> str:
        headers = {"kid": self.kid, "typ": "JWT", **header}
        return jwt.encode(claims, key or self.key, algorithm="ES384", headers=headers)

    def hook_token(self, audience: str, now: float | None = None, **claims: Any) -> str:
        """Signed at `now`, by default the moment in-process apps stand at (EXAMPLES_NOON); a
        test against a server process on the system clock gives `SYSTEM_CLOCK.time()`."""
        now = SIGNED_AT if now is None else now
        payload = {
            "iss": self.iss,
            "aud": audience,
            "iat": now,
            "exp": now + 120,
            "jti": str(uuid.uuid4()),
        }
        return self.sign({**payload, **claims})

    def assertion(self, now: float | None = None, **claims: Any) -> dict[str, Any]:
        now = SIGNED_AT if now is None else now
        payload = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": TOKEN_URL,
            "exp": now + 240,
            "jti": str(uuid.uuid4()),
        }
        return {k: v for k, v in {**payload, **claims}.items() if v is not None}


EHR_A = Ehr("ehr-a", "https://ehr-a.example.org", "https://ehr-a.example.org/fhir")
EHR_B = Ehr("ehr-b", "https://ehr-b.example.org", "https://ehr-b.example.org/fhir")


def registry_file(directory: Path, *ehrs: Ehr) -> Path:
    path = directory / "smart-clients.json"
    path.write_text(json.dumps({"clients": [ehr.entry() for ehr in ehrs]}))
    return path


def token_form(assertion: str, scope: str = "system/Questionnaire.rs") -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "scope": scope,
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
    }


def system_token(
    client: TestClient,
    ehr: Ehr,
    scope: str = "system/Questionnaire.rs system/QuestionnaireResponse.crs",
) -> str:
    answer = client.post("/auth/token", data=token_form(ehr.sign(ehr.assertion()), scope))
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
