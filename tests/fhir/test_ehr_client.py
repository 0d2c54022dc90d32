from __future__ import annotations

from typing import Any

import httpx
import pytest

from service.fhir.ehr_client import (
    FetchFailed,
    FetchNotFound,
    FetchRefused,
    FhirClient,
    is_allowed_server,
)
from service.settings import Settings

ALLOWED = ["https://ehr.example.org/fhir", "https://other.example.org:8443/r4/"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize(
    ("url", "environment", "allowed"),
    [
        pytest.param("https://ehr.example.org/fhir", "production", True, id="exact"),
        pytest.param("https://ehr.example.org/fhir/", "production", True, id="trailing-slash"),
        pytest.param(
            "https://EHR.example.org/fhir/tenant1", "production", True, id="sub-path-and-case"
        ),
        pytest.param(
            "https://ehr.example.org/fhirx", "production", False, id="path-prefix-is-not-a-segment"
        ),
        pytest.param(
            "https://ehr.example.org.evil.test/fhir", "production", False, id="evil-suffix-host"
        ),
        pytest.param(
            "https://evil.test/ehr.example.org/fhir", "production", False, id="host-in-path"
        ),
        pytest.param(
            "https://ehr.example.org@evil.test/fhir", "production", False, id="userinfo-trick"
        ),
        pytest.param(
            "http://ehr.example.org/fhir", "production", False, id="plain-http-in-production"
        ),
        pytest.param("https://ehr.example.org:444/fhir", "production", False, id="other-port"),
        pytest.param("https://other.example.org:8443/r4", "production", True, id="explicit-port"),
        pytest.param(
            "http://127.0.0.1:9000/fhir", "production", False, id="loopback-in-production"
        ),
        pytest.param(
            "http://127.0.0.1:9000/fhir", "development", True, id="loopback-in-development"
        ),
        pytest.param(
            "http://[::1]:9000/fhir", "development", True, id="ipv6-loopback-in-development"
        ),
        pytest.param("http://localhost/fhir", "development", True, id="localhost-in-development"),
        pytest.param(
            "http://10.0.0.5/fhir", "development", False, id="private-range-is-not-loopback"
        ),
        pytest.param("ftp://ehr.example.org/fhir", "production", False, id="other-scheme"),
        pytest.param("not a url", "development", False, id="garbage"),
    ],
)
def test_allowlist(url: str, environment: str, allowed: bool) -> None:
    settings = Settings(environment=environment, fhir_server_allowlist=ALLOWED)  # type: ignore[arg-type]
    assert is_allowed_server(url, settings) is allowed


def _client(handler: Any, **settings: Any) -> tuple[FhirClient, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    values: dict[str, Any] = {"fhir_server_allowlist": ALLOWED}
    values.update(settings)
    return FhirClient(http, Settings(**values)), http


@pytest.mark.anyio
async def test_token_is_sent_as_bearer_and_never_quoted_in_errors() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(500, json={"echo": "nothing"})

    client, http = _client(handler)
    async with http:
        with pytest.raises(FetchFailed) as failed:
            await client.get_json(ALLOWED[0], "Patient/p-123?x=1", "tok-123", 1.0)
    assert seen[0].headers["Authorization"] == "Bearer tok-123"
    assert seen[0].headers["Accept"] == "application/fhir+json"
    assert "tok-123" not in str(failed.value)
    assert "p-123" not in str(failed.value), "errors name the resource type, not ids"


@pytest.mark.anyio
async def test_refused_server_is_not_called() -> None:
    calls: list[httpx.Request] = []
    client, http = _client(lambda r: calls.append(r) or httpx.Response(200, json={}))
    async with http:
        with pytest.raises(FetchRefused):
            await client.get_json("https://evil.test/fhir", "Patient/1", "t", 1.0)
    assert calls == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("response", "error"),
    [
        pytest.param(
            httpx.Response(302, headers={"Location": "https://evil.test/"}),
            FetchFailed,
            id="redirect",
        ),
        pytest.param(
            httpx.Response(404, json={"resourceType": "OperationOutcome"}),
            FetchNotFound,
            id="not-found",
        ),
        pytest.param(httpx.Response(200, content=b"<html>"), FetchFailed, id="not-json"),
        pytest.param(httpx.Response(200, json={"no": "type"}), FetchFailed, id="not-a-resource"),
        pytest.param(
            httpx.Response(200, content=b'{"resourceType":"Bundle","x":"' + b"a" * 3000 + b'"}'),
            FetchFailed,
            id="too-large",
        ),
    ],
)
async def test_unusable_answers(response: httpx.Response, error: type[Exception]) -> None:
    client, http = _client(lambda _: response, fetch_max_bytes=1000)
    async with http:
        with pytest.raises(error):
            await client.get_json(ALLOWED[0], "Patient/1", None, 1.0)


@pytest.mark.anyio
async def test_no_token_means_no_authorization_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"resourceType": "Patient", "id": "1"})

    client, http = _client(handler)
    async with http:
        assert (await client.get_json(ALLOWED[0], "Patient/1", None, 1.0))["id"] == "1"
    assert "Authorization" not in seen[0].headers
    assert str(seen[0].url) == "https://ehr.example.org/fhir/Patient/1"


def test_the_http_stack_finds_its_event_loop_without_searching_the_path() -> None:
    """httpcore and anyio import sniffio on every request they make to an EHR; without it each
    import fails after a search of sys.path (pyproject.toml names why it is a dependency)."""
    import importlib.util

    import anyio
    import httpcore

    assert importlib.util.find_spec("sniffio") is not None
    assert anyio.__name__ and httpcore.__name__
