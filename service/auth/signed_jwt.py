"""JWTs our registered clients sign: CDS Hooks client authentication (CDS Hooks 2.0 "Trusting CDS
Clients") and SMART Backend Services client assertions (SMART App Launch 2, "Backend Services").

Both ask the same of a token: `alg` RS384, ES384 or RS256 only, checked before any key is touched
(no `none`, no HMAC keyed with a public key); `kid` required; the signer a registered client; its
key from that client's JWK Set, for that algorithm (an RSA key of at least 2048 bits); `aud` the
URL that was called; `exp` required, in the future and at most `jwt_max_lifetime_s` away; `jti`
required. Whether the `jti` was seen before is the caller's check (a store shared by every
worker, service/auth/replay.py). Every failure is `Unauthorized`
with a reason for the log that never quotes the token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from service.auth.clients import RegisteredClient
from service.auth.keys import KeyStore
from service.clock import Seconds
from service.errors import Unauthorized

# CDS Hooks 2.0 forbids `none` and symmetric algorithms and recommends ES384 and RS384, which SMART
# Backend Services requires servers to support. RS256 is asymmetric and allowed by both; the CRD
# reference request generator signs with it, so it is accepted too (docs/decisions/0010).
ALLOWED_ALGORITHMS = frozenset({"RS384", "ES384", "RS256"})
MIN_RSA_BITS = 2048
# From the unverified claims, the registered client that claims to have signed them (or None).
SignerOf = Callable[[dict[str, Any]], RegisteredClient | None]


@dataclass(frozen=True)
class VerifiedJwt:
    client: RegisteredClient
    claims: dict[str, Any]
    jti: str
    kid: str
    expires_at: float


@dataclass(frozen=True)
class TimeRules:
    leeway_s: float
    max_lifetime_s: float


class SignedJwtVerifier:
    def __init__(self, keys: KeyStore, rules: TimeRules, clock: Seconds) -> None:
        self._keys = keys
        self._rules = rules
        self._clock = clock

    async def verify(self, token: str, audience: str, signer_of: SignerOf) -> VerifiedJwt:
        header, unverified = _unverified(token)
        client = signer_of(unverified)
        if client is None:
            raise Unauthorized("iss is not a trusted client")
        key = await self._keys.key(client, header.get("jku"), header["kid"])
        claims = _claims(token, _usable(key, header["alg"]), header["alg"], audience)
        expires_at = self._check_times(claims)
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise Unauthorized("jti missing")
        return VerifiedJwt(client, claims, jti, header["kid"], expires_at)

    def _check_times(self, claims: dict[str, Any]) -> float:
        now, leeway = self._clock(), self._rules.leeway_s
        raw_exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf")
        if not isinstance(raw_exp, (int, float)) or isinstance(raw_exp, bool):
            raise Unauthorized("exp missing")
        exp = float(raw_exp)
        if exp <= now - leeway:
            raise Unauthorized("token expired")
        if exp - now > self._rules.max_lifetime_s + leeway:
            raise Unauthorized("token lifetime too long")
        if iat is not None and (not is_number(iat) or iat > now + leeway):
            raise Unauthorized("iat in the future")
        if nbf is not None and (not is_number(nbf) or nbf > now + leeway):
            raise Unauthorized("token not yet valid")
        return exp


def is_number(value: object) -> bool:
    """A JSON number (a NumericDate), not a boolean."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized("no Authorization header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization is not a bearer token")
    return token.strip()


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header, checked, and the claims, not yet trusted (they name the signer whose keys
    verify them), read in one pass."""
    try:
        decoded = jwt.api_jwt.decode_complete(token, options={"verify_signature": False})
    except jwt.DecodeError:
        raise Unauthorized("token is not a JWT") from None
    except jwt.PyJWTError as error:
        raise Unauthorized(f"token rejected: {type(error).__name__}") from None
    header, claims = decoded["header"], decoded["payload"]
    if not isinstance(claims, dict):
        raise Unauthorized("claims are not an object")
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise Unauthorized(f"alg {header.get('alg')!r} not accepted")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise Unauthorized("kid missing")
    jku = header.get("jku")
    if jku is not None and not isinstance(jku, str):
        raise Unauthorized("jku is not a string")
    return header, claims


def _usable(key: jwt.PyJWK, algorithm: str) -> Any:
    """The public key to verify an `algorithm` signature with. A JWK that names its algorithm
    (RFC 7517 `alg`) is used for that one only; one that does not, for the token's (PyJWT would
    otherwise assume RS256 for every RSA key, and refuse RS384). The key type must fit the
    algorithm (PyJWT refuses an EC key for RS384), and an RSA key must be long enough."""
    declared = getattr(key, "_jwk_data", {}).get("alg")
    if declared is not None and declared != algorithm:
        raise Unauthorized(f"key is for {declared!r}, token signed with {algorithm!r}")
    if isinstance(key.key, rsa.RSAPublicKey) and key.key.key_size < MIN_RSA_BITS:
        raise Unauthorized(f"RSA key shorter than {MIN_RSA_BITS} bits")
    return key.key


def _claims(token: str, key: Any, algorithm: str, audience: str) -> dict[str, Any]:
    """Signature and audience; times are checked with our own clock."""
    audiences = [audience.rstrip("/"), audience.rstrip("/") + "/"]
    options: jwt.types.Options = {"verify_exp": False, "verify_nbf": False, "verify_iat": False}
    try:
        claims = jwt.decode(token, key, algorithms=[algorithm], audience=audiences, options=options)
    except jwt.InvalidAudienceError:
        raise Unauthorized("aud is not this service") from None
    except jwt.MissingRequiredClaimError as error:
        raise Unauthorized(f"claim missing: {error.claim}") from None
    except jwt.PyJWTError as error:
        raise Unauthorized(f"token rejected: {type(error).__name__}") from None
    if not isinstance(claims, dict):
        raise Unauthorized("claims are not an object")
    return claims
