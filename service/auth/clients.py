"""The registry of trusted EHR clients: one place from which CDS Hooks (by the JWT's `iss`) and the
DTR token endpoint (by `client_id`, SMART Backend Services) take their trust.

`SMART_CLIENTS_FILE` holds
    {"clients": [{"client_id": "ehr-a", "iss": "https://ehr-a.example.org",
                  "jwks": {"keys": [...]} or "jwks_uri": "https://ehr-a.example.org/jwks",
                  "fhir_servers": ["https://ehr-a.example.org/fhir"],
                  "scopes": ["system/Questionnaire.rs", ...]}]}
- `iss`: what the client puts in its CDS Hooks JWTs; `client_id`: the `iss` and `sub` of its
  token-endpoint client assertions. Both unique across the file.
- `jwks` inline, or `jwks_uri`: the operator's file is the allowlist for that URL (https outside
  development). A CDS Hooks `jku` header must name that same URL.
- `fhir_servers`: the EHR FHIR bases whose SMART launches speak for this client (the prescriber
  app's token exchange, service/auth/launch.py). Optional.
- `scopes`: the most this client may be granted; default: every scope the token endpoint offers.
- `introspection`: how the prescriber app's token exchange asks this EHR about a launch's token
  (SMART App Launch 2 "Token Introspection", service/auth/launch.py). `endpoint`: the EHR's
  introspection URL; default: the `introspection_endpoint` of each FHIR server's
  `.well-known/smart-configuration`. `bearer_token_file`: a file holding the credential the EHR
  issued the payer for introspecting; default: the launch's token authorizes its own
  introspection. Optional.

The older settings still work: each `JWT_TRUSTED_ISSUERS` entry is a client whose client_id is
its `iss`, its keys from `JWT_JWKS_FILE` or a `jku` on `JWT_JKU_ALLOWLIST`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import jwt
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from service.errors import ConfigurationError
from service.settings import Settings
from service.types import JsonObject


@dataclass(frozen=True)
class Introspection:
    """Where and how a launch's token is introspected at this client's EHR."""

    endpoint: str | None = None  # None: the FHIR server's smart-configuration says
    bearer_token: SecretStr | None = None  # None: the launch's token itself


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    issuer: str
    jwks: jwt.PyJWKSet | None
    # Where its keys are when its token names no `jku`.
    jwks_uri: str | None
    # The JWK Set URLs a `jku` header of this client may name (its own `jwks_uri`; for a client
    # from the older settings, JWT_JKU_ALLOWLIST).
    jku_allowlist: tuple[str, ...]
    fhir_servers: tuple[str, ...]
    scopes: frozenset[str] | None
    introspection: Introspection = Introspection()

    @property
    def home_server(self) -> str | None:
        """The FHIR server this client's patient ids belong to when a call does not say: its
        only registered one. With several, or none, it is not known."""
        return self.fhir_servers[0] if len(self.fhir_servers) == 1 else None


class _IntrospectionEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str | None = None
    bearer_token_file: Path | None = None


class _ClientEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str = Field(min_length=1, max_length=255)
    iss: str = Field(min_length=1, max_length=255)
    jwks: JsonObject | None = None
    jwks_uri: str | None = None
    fhir_servers: list[str] = Field(default_factory=list)
    scopes: list[str] | None = None
    introspection: _IntrospectionEntry = _IntrospectionEntry()

    @model_validator(mode="after")
    def _one_key_source(self) -> _ClientEntry:
        if (self.jwks is None) == (self.jwks_uri is None):
            raise ValueError("give exactly one of jwks and jwks_uri")
        return self


class _RegistryFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    clients: list[_ClientEntry]


class ClientRegistry:
    def __init__(self, clients: Iterable[RegisteredClient]) -> None:
        self._by_id: dict[str, RegisteredClient] = {}
        self._by_issuer: dict[str, RegisteredClient] = {}
        for client in clients:
            for index, key in ((self._by_id, client.client_id), (self._by_issuer, client.issuer)):
                if key in index:
                    raise ConfigurationError(
                        f"SMART_CLIENTS_FILE or JWT_TRUSTED_ISSUERS: {key!r} is registered twice"
                    )
                index[key] = client

    def __len__(self) -> int:
        return len(self._by_id)

    def by_issuer(self, issuer: str) -> RegisteredClient | None:
        return self._by_issuer.get(issuer)

    def by_client_id(self, client_id: str) -> RegisteredClient | None:
        return self._by_id.get(client_id)

    def home_server(self, client_id: str) -> str | None:
        client = self._by_id.get(client_id)
        return client.home_server if client is not None else None

    def by_fhir_server(self, fhir_server: str) -> RegisteredClient | None:
        wanted = fhir_server.rstrip("/")
        return next(
            (c for c in self._by_id.values() if wanted in c.fhir_servers),
            None,
        )


def load_registry(settings: Settings) -> ClientRegistry:
    clients: list[RegisteredClient] = []
    if settings.smart_clients_file is not None:
        clients += _from_file(settings.smart_clients_file, settings)
    clients += _from_older_settings(settings)
    return ClientRegistry(clients)


def _from_file(path: Path, settings: Settings) -> list[RegisteredClient]:
    try:
        parsed = _RegistryFile.model_validate(json.loads(path.read_bytes()))
    except OSError as error:
        raise ConfigurationError(f"SMART_CLIENTS_FILE {path}: {error.strerror}") from None
    except ValueError as error:  # JSON or schema (ValidationError is a ValueError)
        raise ConfigurationError(f"SMART_CLIENTS_FILE {path}: {_first_error(error)}") from None
    return [_client(entry, path, settings) for entry in parsed.clients]


def _first_error(error: ValueError) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}"
    return str(error)


def _client(entry: _ClientEntry, path: Path, settings: Settings) -> RegisteredClient:
    where = f"SMART_CLIENTS_FILE {path}, client {entry.client_id!r}"
    keys = None
    if entry.jwks is not None:
        try:
            keys = jwt.PyJWKSet.from_dict(entry.jwks)
        except (jwt.PyJWKSetError, jwt.InvalidKeyError) as error:
            raise ConfigurationError(f"{where}: jwks unusable ({error})") from None
    uris = (entry.jwks_uri,) if entry.jwks_uri else ()
    introspection = entry.introspection
    endpoints = (introspection.endpoint,) if introspection.endpoint else ()
    for url in (*uris, *entry.fhir_servers, *endpoints):
        if not _acceptable_url(url, settings):
            raise ConfigurationError(f"{where}: {url!r} must be an https URL")
    return RegisteredClient(
        client_id=entry.client_id,
        issuer=entry.iss,
        jwks=keys,
        jwks_uri=entry.jwks_uri,
        jku_allowlist=uris,
        fhir_servers=tuple(url.rstrip("/") for url in entry.fhir_servers),
        scopes=frozenset(entry.scopes) if entry.scopes is not None else None,
        introspection=Introspection(
            introspection.endpoint, _secret(introspection.bearer_token_file, where)
        ),
    )


def _secret(path: Path | None, where: str) -> SecretStr | None:
    """A credential kept in a file of its own (a mounted secret), read once at start-up."""
    if path is None:
        return None
    try:
        secret = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"{where}: introspection.bearer_token_file: {error}") from None
    if not secret:
        raise ConfigurationError(f"{where}: introspection.bearer_token_file {path} is empty")
    return SecretStr(secret)


def _acceptable_url(url: str, settings: Settings) -> bool:
    parts = urlsplit(url)
    allowed = ("https", "http") if settings.is_development else ("https",)
    return parts.scheme in allowed and bool(parts.netloc)


def _from_older_settings(settings: Settings) -> list[RegisteredClient]:
    keys = None
    if settings.jwt_jwks_file is not None:
        try:
            keys = jwt.PyJWKSet.from_dict(json.loads(settings.jwt_jwks_file.read_bytes()))
        except (OSError, ValueError, jwt.PyJWKSetError, jwt.InvalidKeyError) as error:
            raise ConfigurationError(f"JWT_JWKS_FILE unusable: {error}") from None
    return [
        RegisteredClient(
            client_id=issuer,
            issuer=issuer,
            jwks=keys,
            jwks_uri=None,
            jku_allowlist=tuple(settings.jwt_jku_allowlist),
            fhir_servers=(),
            scopes=None,
        )
        for issuer in settings.jwt_trusted_issuers
    ]
