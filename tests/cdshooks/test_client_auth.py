"""CDS Hooks 2.0 client authentication: a matrix of bad tokens, each refused, and good ones."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from service.cdshooks.client_auth import InMemoryReplayCache, JwtVerifier
from service.errors import Unauthorized
from service.settings import Settings

NOW = 1_800_000_000.0
ISSUER = "https://ehr.example.org"
JKU = "https://ehr.example.org/.well-known/jwks.json"
AUDIENCE = "https://payer.example.org/cds-services/crd-order-sign"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP384R1())
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _jwk(private_key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = jwt.algorithms.RSAAlgorithm if alg == "RS384" else jwt.algorithms.ECAlgorithm
    public = json.loads(algorithm.to_jwk(private_key.public_key()))
    return dict(public, kid=kid, alg=alg, use="sig")


class JwksServer:
    def __init__(self, keys: list[dict[str, Any]]) -> None:
        self.keys = keys
        self.hits: list[str] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.hits.append(str(request.url))
        return httpx.Response(200, json={"keys": self.keys})


def _token(
    key: Any = RSA_KEY,
    alg: str = "RS384",
    kid: str = "rsa1",
    jku: str | None = JKU,
    headers: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "client-1",
        "aud": AUDIENCE,
        "iat": NOW,
        "exp": NOW + 300,
        "jti": str(uuid.uuid4()),
    }
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    header: dict[str, Any] = {"kid": kid, "typ": "JWT"}
    if jku:
        header["jku"] = jku
    header.update(headers or {})
    return jwt.encode(payload, key, algorithm=alg, headers=header)


def _verifier(
    server: JwksServer, clock: Callable[[], float] = lambda: NOW, **settings: Any
) -> tuple[JwtVerifier, httpx.AsyncClient]:
    values: dict[str, Any] = {"jwt_trusted_issuers": [ISSUER], "jwt_jku_allowlist": [JKU]}
    values.update(settings)
    http = httpx.AsyncClient(transport=httpx.MockTransport(server.handler))
    return JwtVerifier(Settings(**values), http, InMemoryReplayCache(clock), clock), http


@pytest.fixture
def server() -> JwksServer:
    return JwksServer([_jwk(RSA_KEY, "rsa1", "RS384"), _jwk(EC_KEY, "ec1", "ES384")])


def _hs256_with_public_key() -> str:
    public_pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # The classic confusion attack: HMAC keyed with the RSA public key a verifier might accept.
    header = {"kid": "rsa1", "jku": JKU, "alg": "HS256"}
    payload = {"iss": ISSUER, "aud": AUDIENCE, "exp": NOW + 300, "jti": "x"}
    return _forge_hs256(public_pem, header, payload)


def _forge_hs256(secret: bytes, header: dict[str, Any], payload: dict[str, Any]) -> str:
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def _alg_none() -> str:
    import base64

    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    header = {"alg": "none", "kid": "rsa1", "jku": JKU}
    payload = {"iss": ISSUER, "aud": AUDIENCE, "exp": NOW + 300, "jti": "n"}
    return f"{b64(header)}.{b64(payload)}."


def _tampered() -> str:
    head, body, signature = _token().split(".")
    claims = json.loads(jwt.utils.base64url_decode(body))
    claims["sub"] = "someone-else"
    forged = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    return f"{head}.{forged}.{signature}"


BAD_TOKENS: list[Any] = [
    pytest.param(lambda: _token(exp=NOW - 60), "expired", id="expired"),
    pytest.param(lambda: _token(nbf=NOW + 120), "not yet valid", id="not-yet-valid"),
    pytest.param(lambda: _token(iat=NOW + 120), "iat in the future", id="iat-in-future"),
    pytest.param(
        lambda: _token(aud="https://payer.example.org/cds-services/other"), "aud", id="wrong-aud"
    ),
    pytest.param(lambda: _token(aud=None), "aud", id="no-aud"),
    pytest.param(lambda: _token(iss="https://unknown.example.org"), "iss", id="unknown-iss"),
    pytest.param(_alg_none, "alg", id="alg-none"),
    pytest.param(_hs256_with_public_key, "alg", id="hs256-with-public-key"),
    pytest.param(lambda: _token(kid="nope"), "kid", id="unknown-kid"),
    pytest.param(
        lambda: _token(jku="https://evil.example.org/jwks.json"),
        "allowlist",
        id="jku-off-allowlist",
    ),
    pytest.param(_tampered, "rejected", id="tampered-signature"),
    pytest.param(lambda: _token(key=OTHER_RSA_KEY), "rejected", id="signed-by-another-key"),
    pytest.param(lambda: _token(jti=None), "jti", id="no-jti"),
    pytest.param(lambda: _token(exp=None), "exp", id="no-exp"),
    pytest.param(lambda: _token(kid=""), "kid", id="empty-kid"),
    pytest.param(lambda: _token(exp=NOW + 3600), "lifetime", id="lifetime-too-long"),
    pytest.param(
        lambda: _token(key=EC_KEY, alg="ES384", kid="rsa1"), "key is for", id="key-type-mismatch"
    ),
    pytest.param(lambda: _token(jku=None), "configured", id="no-jku-no-configured-keys"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("make", "reason"), BAD_TOKENS)
async def test_bad_tokens_are_refused(
    server: JwksServer, make: Callable[[], str], reason: str
) -> None:
    verifier, http = _verifier(server)
    async with http:
        with pytest.raises(Unauthorized, match=reason) as refused:
            await verifier.verify(f"Bearer {make()}", AUDIENCE)
    assert "eyJ" not in refused.value.reason, "the reason must not quote the token"


@pytest.mark.anyio
async def test_jku_off_the_allowlist_is_never_fetched(server: JwksServer) -> None:
    verifier, http = _verifier(server)
    async with http:
        with pytest.raises(Unauthorized):
            await verifier.verify(f"Bearer {_token(jku='https://evil.example.org/jwks')}", AUDIENCE)
    assert server.hits == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    "header",
    [None, "", "Basic dXNlcjpwdw==", "Bearer", "Bearer    ", "Bearer not.a.jwt", "garbage"],
)
async def test_malformed_authorization_header(server: JwksServer, header: str | None) -> None:
    verifier, http = _verifier(server)
    async with http:
        with pytest.raises(Unauthorized):
            await verifier.verify(header, AUDIENCE)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("key", "alg", "kid"), [(RSA_KEY, "RS384", "rsa1"), (EC_KEY, "ES384", "ec1")]
)
async def test_good_tokens_pass(server: JwksServer, key: Any, alg: str, kid: str) -> None:
    verifier, http = _verifier(server)
    async with http:
        identity = await verifier.verify(f"Bearer {_token(key, alg, kid)}", AUDIENCE)
        again = await verifier.verify(f"Bearer {_token(key, alg, kid)}", AUDIENCE + "/")
    assert (identity.issuer, identity.subject, identity.kid) == (ISSUER, "client-1", kid)
    assert again.jti != identity.jti
    assert server.hits == [JKU], "keys are cached between calls"


@pytest.mark.anyio
async def test_replayed_jti_is_refused_until_it_expires(server: JwksServer) -> None:
    now = [NOW]
    verifier, http = _verifier(server, clock=lambda: now[0])
    token = _token(jti="once", exp=NOW + 60)
    async with http:
        await verifier.verify(f"Bearer {token}", AUDIENCE)
        with pytest.raises(Unauthorized, match="replayed"):
            await verifier.verify(f"Bearer {token}", AUDIENCE)
        now[0] = NOW + 30
        with pytest.raises(Unauthorized, match="replayed"):
            await verifier.verify(f"Bearer {_token(jti='once', exp=NOW + 60)}", AUDIENCE)


@pytest.mark.anyio
async def test_key_rotation_refetches_once(server: JwksServer) -> None:
    now = [NOW]
    verifier, http = _verifier(server, clock=lambda: now[0])
    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    async with http:
        await verifier.verify(f"Bearer {_token()}", AUDIENCE)
        server.keys.append(_jwk(rotated, "rsa2", "RS384"))
        now[0] = NOW + 11
        identity = await verifier.verify(
            f"Bearer {_token(rotated, kid='rsa2', iat=now[0], exp=now[0] + 300)}", AUDIENCE
        )
        with pytest.raises(Unauthorized, match="kid"):
            await verifier.verify(
                f"Bearer {_token(kid='rsa3', iat=now[0], exp=now[0] + 300)}", AUDIENCE
            )
    assert identity.kid == "rsa2"
    assert len(server.hits) == 2, (
        "one fetch, one refetch for the new kid, none for the unknown one within 10 s"
    )


@pytest.mark.anyio
async def test_configured_key_set_without_jku(server: JwksServer, tmp_path: Path) -> None:
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps({"keys": [_jwk(EC_KEY, "ec1", "ES384")]}))
    verifier, http = _verifier(server, jwt_jwks_file=keys)
    async with http:
        identity = await verifier.verify(
            f"Bearer {_token(EC_KEY, 'ES384', 'ec1', jku=None)}", AUDIENCE
        )
    assert identity.kid == "ec1"
    assert server.hits == []


def test_the_replay_cache_forgets_expired_tokens() -> None:
    now = [1000.0]
    cache = InMemoryReplayCache(lambda: now[0])
    for index in range(50):
        assert cache.first_use("iss", f"j{index}", expires_at=now[0] + 60)
    assert not cache.first_use("iss", "j0", expires_at=now[0] + 60)
    now[0] += 61  # every token above has expired
    assert cache.first_use("iss", "fresh", expires_at=now[0] + 60)
    assert len(cache) == 1
