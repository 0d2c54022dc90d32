"""CDS Hooks 2.0 client authentication ("Trusting CDS Clients"): the EHR signs a JWT per call.

The signer is the registered client whose `iss` the token names (service/auth/clients.py); the
token's checks are those of every client-signed JWT (service/auth/signed_jwt.py), `aud` the
service URL that was called. A `jti` this worker already saw is refused here, before any work; the
durable check, shared by every worker and replica, is made when the answer is stored (the hook
router claims the `jti` in the same transaction). The client only ever sees a bare 401.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from service.auth.clients import ClientRegistry, RegisteredClient, load_registry
from service.auth.keys import KeyStore
from service.auth.replay import InMemoryReplayCache
from service.auth.signed_jwt import SignedJwtVerifier, TimeRules, bearer_token
from service.clock import Seconds
from service.errors import Unauthorized
from service.settings import Settings

__all__ = ["ClientIdentity", "InMemoryReplayCache", "JwtVerifier", "ReplayCache"]


@dataclass(frozen=True)
class ClientIdentity:
    client_id: str
    issuer: str
    subject: str | None
    jti: str
    kid: str
    expires_at: float


class ReplayCache(Protocol):
    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool: ...


def time_rules(settings: Settings) -> TimeRules:
    return TimeRules(settings.jwt_leeway_s, settings.jwt_max_lifetime_s)


class JwtVerifier:
    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        replay: ReplayCache,
        clock: Seconds,
        registry: ClientRegistry | None = None,
        keys: KeyStore | None = None,
    ) -> None:
        """`registry` and `keys`: the runtime's, shared with the token endpoint (one JWK Set
        cache per process); built from the settings when not given."""
        self._registry = registry if registry is not None else load_registry(settings)
        self._replay = replay
        keys = keys if keys is not None else KeyStore(http, settings.jwks_cache_ttl_s, clock)
        self._jwts = SignedJwtVerifier(keys, time_rules(settings), clock)

    async def verify(self, authorization: str | None, audience: str) -> ClientIdentity:
        token = bearer_token(authorization)

        def signer(claims: dict[str, Any]) -> RegisteredClient | None:
            issuer = claims.get("iss")
            return self._registry.by_issuer(issuer) if isinstance(issuer, str) else None

        verified = await self._jwts.verify(token, audience, signer)
        issuer = verified.client.issuer
        if not self._replay.first_use(issuer, verified.jti, verified.expires_at):
            raise Unauthorized("jti replayed")
        subject = verified.claims.get("sub")
        return ClientIdentity(
            client_id=verified.client.client_id,
            issuer=issuer,
            subject=subject if isinstance(subject, str) else None,
            jti=verified.jti,
            kid=verified.kid,
            expires_at=verified.expires_at,
        )
