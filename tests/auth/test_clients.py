"""The client registry: read once at start-up; a broken file stops start-up naming the file and
what is wrong; the older JWT_* settings still make clients."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.auth.clients import load_registry
from service.errors import ConfigurationError
from service.settings import Settings
from tests.support.clients import EHR_A, EHR_B


def _settings(tmp_path: Path, content: Any, **values: Any) -> Settings:
    path = tmp_path / "clients.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return Settings(smart_clients_file=path, **values)


def test_clients_are_found_by_issuer_id_and_fhir_server(tmp_path: Path) -> None:
    registry = load_registry(_settings(tmp_path, {"clients": [EHR_A.entry(), EHR_B.entry()]}))
    assert registry.by_issuer(EHR_A.iss).client_id == "ehr-a"  # type: ignore[union-attr]
    assert registry.by_client_id("ehr-b").issuer == EHR_B.iss  # type: ignore[union-attr]
    assert registry.by_fhir_server(EHR_B.fhir_server + "/").client_id == "ehr-b"  # type: ignore[union-attr]
    assert registry.by_issuer("https://nobody.example.org") is None


def _with(**changes: Any) -> dict[str, Any]:
    return {"clients": [{**EHR_A.entry(), **changes}]}


@pytest.mark.parametrize(
    ("content", "says"),
    [
        pytest.param("{not json", "clients.json", id="not-json"),
        pytest.param({"client": []}, "clients", id="wrong-key"),
        pytest.param(
            _with(jwks_uri="https://a.example.org/jwks"), "exactly one", id="two-key-sources"
        ),
        pytest.param(_with(jwks=None), "exactly one", id="no-keys"),
        pytest.param(_with(jwks={"keys": [{"kty": "EC"}]}), "jwks unusable", id="bad-jwk"),
        pytest.param(_with(colour="blue"), "colour", id="unknown-key"),
        pytest.param(
            {"clients": [EHR_A.entry(), {**EHR_B.entry(), "client_id": "ehr-a"}]},
            "registered twice",
            id="duplicate-client-id",
        ),
        pytest.param(
            _with(jwks=None, jwks_uri="http://a.example.org/jwks"), "https", id="http-in-production"
        ),
        pytest.param(
            _with(introspection={"endpoint": "http://a.example.org/introspect"}),
            "https",
            id="http-introspection-in-production",
        ),
        pytest.param(
            _with(introspection={"bearer_token_file": "/nonexistent/credential"}),
            "bearer_token_file",
            id="introspection-credential-missing",
        ),
        pytest.param(
            _with(introspection={"scheme": "basic"}), "scheme", id="unknown-introspection-key"
        ),
    ],
)
def test_a_broken_registry_stops_start_up(tmp_path: Path, content: Any, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says) as refused:
        load_registry(_settings(tmp_path, content))
    assert "SMART_CLIENTS_FILE" in str(refused.value)


def test_an_empty_introspection_credential_stops_start_up(tmp_path: Path) -> None:
    (tmp_path / "credential").write_text("\n")
    content = _with(introspection={"bearer_token_file": str(tmp_path / "credential")})
    with pytest.raises(ConfigurationError, match="is empty"):
        load_registry(_settings(tmp_path, content))


def test_the_introspection_credential_is_read_once_and_kept_secret(tmp_path: Path) -> None:
    (tmp_path / "credential").write_text("the-credential\n")
    content = _with(introspection={"bearer_token_file": str(tmp_path / "credential")})
    client = load_registry(_settings(tmp_path, content)).by_client_id("ehr-a")
    assert client is not None and client.introspection.bearer_token is not None
    assert client.introspection.bearer_token.get_secret_value() == "the-credential"
    assert "the-credential" not in repr(client)


def test_the_older_settings_still_make_clients(tmp_path: Path) -> None:
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps({"keys": [EHR_A.jwk()]}))
    registry = load_registry(
        Settings(jwt_trusted_issuers=["https://old.example.org"], jwt_jwks_file=keys)
    )
    client = registry.by_issuer("https://old.example.org")
    assert client is not None and client.client_id == "https://old.example.org"
    assert client.jwks is not None
