"""A registered client's public keys, by `kid`: its inline JWK Set, or a JWK Set fetched from a URL
the registry names for it, cached for `jwks_cache_ttl_s`; an unknown `kid` refetches at most once
per `REFETCH_INTERVAL_S` (key rotation without letting a stranger make us fetch on every call)."""

from __future__ import annotations

import json

import httpx
import jwt

from service.auth.clients import RegisteredClient
from service.clock import Seconds
from service.errors import Unauthorized

JWKS_MAX_BYTES = 1024 * 1024
REFETCH_INTERVAL_S = 10.0


class KeyStore:
    def __init__(self, http: httpx.AsyncClient, cache_ttl_s: float, clock: Seconds) -> None:
        self._http = http
        self._ttl = cache_ttl_s
        self._clock = clock
        self._fetched: dict[str, tuple[float, jwt.PyJWKSet]] = {}

    async def key(self, client: RegisteredClient, jku: str | None, kid: str) -> jwt.PyJWK:
        if jku is None:
            if client.jwks is not None:
                return _find(client.jwks, kid)
            if client.jwks_uri is None:
                raise Unauthorized("no jku and no configured JWK Set")
            jku = client.jwks_uri
        elif jku not in client.jku_allowlist:
            raise Unauthorized("jku is not on the allowlist")
        cached = self._fetched.get(jku)
        now = self._clock()
        if cached is not None:
            age = now - cached[0]
            has_kid = any(k.key_id == kid for k in cached[1].keys)
            if age < self._ttl and (has_kid or age < REFETCH_INTERVAL_S):
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
        return key_set(body)


def key_set(body: bytes) -> jwt.PyJWKSet:
    try:
        return jwt.PyJWKSet.from_dict(json.loads(body))
    except (ValueError, jwt.PyJWKSetError, jwt.InvalidKeyError) as error:
        raise Unauthorized(f"JWK Set unusable: {type(error).__name__}") from None


def _find(keys: jwt.PyJWKSet, kid: str) -> jwt.PyJWK:
    for key in keys.keys:
        if key.key_id == kid:
            return key
    raise Unauthorized("no key with that kid")
