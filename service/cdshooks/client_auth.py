"""CDS Hooks 2.0 client authentication ("Trusting CDS Clients"): the EHR signs a JWT per call.

Accepted: `alg` RS384 or ES384 only (checked before any key is touched: no `none`, no HMAC with a
public key as secret); `kid` required; `iss` on the trusted list; the key from the `jku` JWK Set
when that URL is on the allowlist, else from the JWK Set agreed out of band; `aud` the URL that was
called; `exp` required, in the future and not too far away; `jti` required and never seen before
for that issuer until the token expires. Every failure is `Unauthorized` with a reason for the log;
the client only ever sees a bare 401.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import jwt

from service.errors import Unauthorized
from service.settings import Settings

ALLOWED_ALGORITHMS = frozenset({"RS384", "ES384"})
JWKS_MAX_BYTES = 1024 * 1024
REFETCH_INTERVAL_S = 10.0
Clock = Callable[[], float]


@dataclass(frozen=True)
class ClientIdentity:
    issuer: str
    subject: str | None
    jti: str
    kid: str


class ReplayCache(Protocol):
    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool: ...


class InMemoryReplayCache:
    """Per worker process: with several workers a replay to another worker within the token's
    lifetime (at most JWT_MAX_LIFETIME_S) is not caught; a shared store closes that gap."""

    # Expired entries are dropped at most this often, so the cache holds about one token
    # lifetime of traffic (memory flat under steady load) instead of filling up to the maximum.
    PRUNE_INTERVAL_S = 10.0

    def __init__(self, clock: Clock, max_entries: int = 100_000) -> None:
        self._clock = clock
        self._max = max_entries
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._pruned_at = clock()

    def __len__(self) -> int:
        return len(self._seen)

    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        with self._lock:
            now = self._clock()
            if len(self._seen) >= self._max or now - self._pruned_at >= self.PRUNE_INTERVAL_S:
                self._seen = {k: exp for k, exp in self._seen.items() if exp > now}
                self._pruned_at = now
            if len(self._seen) >= self._max:
                return False  # full of live tokens: refuse rather than forget one
            key = (issuer, jti)
            if self._seen.get(key, 0.0) > now:
                return False
            self._seen[key] = expires_at
            return True


class KeyStore:
    """Public keys by (jku, kid): fetched JWK Sets cached for `jwks_cache_ttl_s`, an unknown `kid`
    refetched at most once per `REFETCH_INTERVAL_S` (key rotation), configured keys read once."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient, clock: Clock) -> None:
        self._settings = settings
        self._http = http
        self._clock = clock
        self._fetched: dict[str, tuple[float, jwt.PyJWKSet]] = {}
        self._configured = _load_file(settings) if settings.jwt_jwks_file else None

    async def key(self, jku: str | None, kid: str) -> jwt.PyJWK:
        if jku is None:
            if self._configured is None:
                raise Unauthorized("no jku and no configured JWK Set")
            return _find(self._configured, kid)
        if jku not in self._settings.jwt_jku_allowlist:
            raise Unauthorized("jku is not on the allowlist")
        cached = self._fetched.get(jku)
        now = self._clock()
        if cached is not None:
            age = now - cached[0]
            has_kid = any(k.key_id == kid for k in cached[1].keys)
            if age < self._settings.jwks_cache_ttl_s and (has_kid or age < REFETCH_INTERVAL_S):
                return _find(cached[1], kid)
        keys = await self._fetch(jku)
        self._fetched[jku] = (now, keys)
        return _find(keys, kid)

    async def _fetch(self, jku: str) -> jwt.PyJWKSet:
        try:
            request = self._http.build_request("GET", jku, timeout=2.0)
            response = await self._http.send(request, stream=True, follow_redirects=False)
            try:
                if response.status_code != 200:
                    raise Unauthorized(f"JWK Set fetch answered HTTP {response.status_code}")
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > JWKS_MAX_BYTES:
                        raise Unauthorized("JWK Set too large")
            finally:
                await response.aclose()
        except httpx.HTTPError as error:
            raise Unauthorized(f"JWK Set fetch failed: {type(error).__name__}") from None
        return _key_set(body)


def _load_file(settings: Settings) -> jwt.PyJWKSet:
    assert settings.jwt_jwks_file is not None
    return _key_set(settings.jwt_jwks_file.read_bytes())


def _key_set(body: bytes) -> jwt.PyJWKSet:
    try:
        return jwt.PyJWKSet.from_dict(json.loads(body))
    except (ValueError, jwt.PyJWKSetError, jwt.InvalidKeyError) as error:
        raise Unauthorized(f"JWK Set unusable: {type(error).__name__}") from None


def _find(keys: jwt.PyJWKSet, kid: str) -> jwt.PyJWK:
    for key in keys.keys:
        if key.key_id == kid:
            return key
    raise Unauthorized("no key with that kid")


class JwtVerifier:
    def __init__(
        self, settings: Settings, http: httpx.AsyncClient, replay: ReplayCache, clock: Clock
    ) -> None:
        self._settings = settings
        self._replay = replay
        self._clock = clock
        self._keys = KeyStore(settings, http, clock)

    async def verify(self, authorization: str | None, audience: str) -> ClientIdentity:
        token = _bearer_token(authorization)
        header = _header(token)
        unverified = _claims(token, None, header["alg"], audience)
        issuer = unverified.get("iss")
        if not isinstance(issuer, str) or issuer not in self._settings.jwt_trusted_issuers:
            raise Unauthorized("iss is not a trusted client")
        key = await self._keys.key(header.get("jku"), header["kid"])
        claims = _claims(token, key, header["alg"], audience)
        expires_at = self._check_times(claims)
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise Unauthorized("jti missing")
        if not self._replay.first_use(issuer, jti, expires_at):
            raise Unauthorized("jti replayed")
        subject = claims.get("sub")
        return ClientIdentity(
            issuer, subject if isinstance(subject, str) else None, jti, header["kid"]
        )

    def _check_times(self, claims: dict[str, Any]) -> float:
        now, leeway = self._clock(), self._settings.jwt_leeway_s
        raw_exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf")
        if not isinstance(raw_exp, (int, float)) or isinstance(raw_exp, bool):
            raise Unauthorized("exp missing")
        exp = float(raw_exp)
        if exp <= now - leeway:
            raise Unauthorized("token expired")
        if exp - now > self._settings.jwt_max_lifetime_s + leeway:
            raise Unauthorized("token lifetime too long")
        if iat is not None and (not _number(iat) or iat > now + leeway):
            raise Unauthorized("iat in the future")
        if nbf is not None and (not _number(nbf) or nbf > now + leeway):
            raise Unauthorized("token not yet valid")
        return exp


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized("no Authorization header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization is not a bearer token")
    return token.strip()


def _header(token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError:
        raise Unauthorized("token is not a JWT") from None
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise Unauthorized(f"alg {header.get('alg')!r} not accepted")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise Unauthorized("kid missing")
    jku = header.get("jku")
    if jku is not None and not isinstance(jku, str):
        raise Unauthorized("jku is not a string")
    return header


def _claims(token: str, key: jwt.PyJWK | None, algorithm: str, audience: str) -> dict[str, Any]:
    """Signature (when a key is given) and audience; times are checked with our own clock."""
    audiences = [audience.rstrip("/"), audience.rstrip("/") + "/"]
    options: jwt.types.Options = {"verify_exp": False, "verify_nbf": False, "verify_iat": False}
    try:
        if key is None:
            claims = jwt.decode(token, options={"verify_signature": False})
        else:
            claims = jwt.decode(
                token, key, algorithms=[algorithm], audience=audiences, options=options
            )
    except jwt.InvalidAudienceError:
        raise Unauthorized("aud is not this service") from None
    except jwt.MissingRequiredClaimError as error:
        raise Unauthorized(f"claim missing: {error.claim}") from None
    except jwt.PyJWTError as error:
        raise Unauthorized(f"token rejected: {type(error).__name__}") from None
    if not isinstance(claims, dict):
        raise Unauthorized("claims are not an object")
    return claims
