"""The one way out to an EHR's FHIR server (CDS Hooks 2.0 "FHIR Resource Access").

- Only servers on the allowlist are contacted (`FHIR_SERVER_ALLOWLIST`; loopback is added in
  development). The check compares scheme, host, port and path prefix, never a bare string
  prefix, so `https://ehr.example.org.evil.test` is not `https://ehr.example.org`.
- https only outside development; redirects are never followed (they could leave the allowlist).
- Bodies are read in a stream and cut off at `FETCH_MAX_BYTES`.
- The bearer token goes in the Authorization header and nowhere else: not in errors, not in logs.
  (The token exchange also POSTs a launch token, as a form, to an EHR's token introspection
  endpoint: an allowed server too, service/auth/launch.py.)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import orjson

from service.errors import FetchFailed, FetchNotFound, FetchRefused
from service.settings import Settings
from service.types import JsonObject

FHIR_JSON = "application/fhir+json"
JSON = "application/json"
_LOOPBACK_NAMES = {"localhost"}


@dataclass(frozen=True)
class _Origin:
    scheme: str
    host: str
    port: int
    path: str

    @classmethod
    def of(cls, url: str) -> _Origin | None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return None
        path = parts.path.rstrip("/") + "/"
        return cls(parts.scheme, parts.hostname.lower(), port, path)

    def within(self, allowed: _Origin) -> bool:
        same_server = (self.scheme, self.host, self.port) == (
            allowed.scheme,
            allowed.host,
            allowed.port,
        )
        return same_server and self.path.startswith(allowed.path)


def is_loopback_host(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_allowed_server(base_url: str, settings: Settings) -> bool:
    origin = _Origin.of(base_url)
    if origin is None:
        return False
    if settings.is_development and is_loopback_host(origin.host):
        return True
    if origin.scheme != "https" and not settings.is_development:
        return False
    return is_one_of(base_url, settings.fhir_server_allowlist)


def is_one_of(base_url: str, servers: Sequence[str]) -> bool:
    """Whether `base_url` is one of `servers` or under one of them (same comparison as the
    allowlist's)."""
    origin = _Origin.of(base_url)
    listed = (_Origin.of(server) for server in servers)
    return origin is not None and any(
        entry is not None and origin.within(entry) for entry in listed
    )


class FhirClient:
    def __init__(self, http: httpx.AsyncClient, settings: Settings) -> None:
        self._http = http
        self._settings = settings

    def allows(self, base_url: str) -> bool:
        return is_allowed_server(base_url, self._settings)

    async def get_json(
        self, base_url: str, relative: str, token: str | None, timeout_s: float
    ) -> JsonObject:
        self._refuse_unless_allowed(base_url)
        url = f"{base_url.rstrip('/')}/{relative.lstrip('/')}"
        label = _label(relative)
        request = self._http.build_request(
            "GET", url, headers=_headers(FHIR_JSON, token), timeout=timeout_s
        )
        body = await self._send(request, f"GET {label}")
        return _fhir_resource(_json_object(body, f"GET {label}"), f"GET {label}")

    async def get_document(self, url: str, timeout_s: float, label: str) -> JsonObject:
        """A JSON object that is not a FHIR resource (a discovery document), from a server we
        may call."""
        self._refuse_unless_allowed(url)
        request = self._http.build_request(
            "GET", url, headers=_headers(JSON, None), timeout=timeout_s
        )
        return _json_object(await self._send(request, f"GET {label}"), f"GET {label}")

    async def post_form(
        self, url: str, form: dict[str, str], token: str, timeout_s: float, label: str
    ) -> JsonObject:
        """A form POSTed (an OAuth endpoint's), its JSON object answer."""
        self._refuse_unless_allowed(url)
        request = self._http.build_request(
            "POST", url, data=form, headers=_headers(JSON, token), timeout=timeout_s
        )
        return _json_object(await self._send(request, f"POST {label}"), f"POST {label}")

    def _refuse_unless_allowed(self, url: str) -> None:
        if not self.allows(url):
            raise FetchRefused(f"{url} is not an allowed FHIR server")

    async def _send(self, request: httpx.Request, label: str) -> bytes:
        try:
            return await self._read(request, label)
        except httpx.HTTPError as error:
            raise FetchFailed(f"{label}: {type(error).__name__}") from None

    async def _read(self, request: httpx.Request, label: str) -> bytes:
        limit = self._settings.fetch_max_bytes
        response = await self._http.send(request, stream=True, follow_redirects=False)
        try:
            if response.status_code in (404, 410):
                raise FetchNotFound(f"{label}: HTTP {response.status_code}")
            if response.status_code != 200:
                raise FetchFailed(f"{label}: HTTP {response.status_code}")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise FetchFailed(f"{label}: body over {limit} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            await response.aclose()


def _headers(accept: str, token: str | None) -> dict[str, str]:
    headers = {"Accept": accept}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _label(relative: str) -> str:
    """What an error may say about a request: its resource type, never ids or search values."""
    return relative.lstrip("/").split("?")[0].split("/")[0] or "(base)"


def _json_object(body: bytes, label: str) -> JsonObject:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise FetchFailed(f"{label}: not JSON") from None
    if not isinstance(parsed, dict):
        raise FetchFailed(f"{label}: not a JSON object")
    return parsed


def _fhir_resource(parsed: JsonObject, label: str) -> JsonObject:
    if not isinstance(parsed.get("resourceType"), str):
        raise FetchFailed(f"{label}: not a FHIR resource")
    return parsed
