"""The access tokens our token endpoint issues and the DTR routes accept: JWTs signed with HS256
under ACCESS_TOKEN_KEY, since only this service (every worker and replica, one shared key) ever
reads them. PyJWT does the signing and the checks: algorithm pinned to HS256, `iss`, `aud`,
`exp`, `iat` required. Tokens are never stored or logged; a token proves itself.

A token names its client, its scopes and, for the prescriber app's launch tokens, the patient
and the EHR FHIR server the launch was for (`patient`, `fhir_server`): such a token reaches only
that patient's data.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import jwt

from service.auth.scopes import Scope, parse_scopes
from service.auth.signed_jwt import is_number
from service.clock import Seconds
from service.errors import TokenRejected

ALGORITHM = "HS256"


@dataclass(frozen=True)
class AccessGrant:
    client_id: str
    scopes: tuple[Scope, ...]
    patient: str | None = None
    fhir_server: str | None = None

    @property
    def scope_text(self) -> str:
        return " ".join(scope.text for scope in self.scopes)


class AccessTokens:
    def __init__(self, key: bytes, issuer: str, audience: str, clock: Seconds) -> None:
        self._key = key
        self._issuer = issuer
        self._audience = audience
        self._clock = clock

    def issue(self, grant: AccessGrant, lifetime_s: int) -> str:
        now = int(self._clock())
        claims: dict[str, object] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": grant.client_id,
            "scope": grant.scope_text,
            "iat": now,
            "exp": now + lifetime_s,
            "jti": str(uuid.uuid4()),
        }
        if grant.patient is not None:
            claims["patient"] = grant.patient
        if grant.fhir_server is not None:
            claims["fhir_server"] = grant.fhir_server
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str) -> AccessGrant:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                # Times are checked below with our own clock, not the library's.
                options={
                    "require": ["exp", "iat", "sub", "scope"],
                    "verify_iat": False,
                    "verify_exp": False,
                },
            )
        except jwt.PyJWTError as error:
            raise TokenRejected(f"access token rejected: {type(error).__name__}") from None
        now = self._clock()
        if not is_number(claims["exp"]) or claims["exp"] <= now:
            raise TokenRejected("access token expired")
        if not is_number(claims["iat"]) or claims["iat"] > now + 30:
            raise TokenRejected("access token issued in the future")
        patient, fhir_server = claims.get("patient"), claims.get("fhir_server")
        return AccessGrant(
            client_id=str(claims["sub"]),
            scopes=tuple(parse_scopes(str(claims["scope"]))),
            patient=patient if isinstance(patient, str) else None,
            fhir_server=fhir_server if isinstance(fhir_server, str) else None,
        )
