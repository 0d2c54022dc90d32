"""Whether a SMART launch's access token really is for the patient it names: the EHR's token
introspection says so (SMART App Launch 2 "Token Introspection": RFC 7662 with the launch
context, `patient` among it, and `exp`). Granted only when the answer is `active: true`, its
`patient` is the one asked for and its `exp` is ahead of our clock; anything else (no endpoint,
an error, a timeout, inactive, another patient or none) is a refusal. A FHIR read with the token
proves nothing: an EHR token with user-level access reads every patient.

The endpoint is the client's registered one, else the `introspection_endpoint` of the FHIR
server's `.well-known/smart-configuration`; both must be servers we may call
(FHIR_SERVER_ALLOWLIST, https outside development; service/fhir/ehr_client.py). The call is
authorized with the credential registered for the client, else with the launch's token itself
(SMART: "an appropriately-scoped SMART App ... bearer token"). The token goes nowhere else."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from service.auth.clients import RegisteredClient
from service.clock import Seconds
from service.errors import FetchError, FetchFailed
from service.fhir.ehr_client import FhirClient
from service.types import JsonObject

SMART_CONFIGURATION = ".well-known/smart-configuration"


@dataclass(frozen=True)
class Launch:
    client: RegisteredClient
    fhir_server: str
    access_token: str = field(repr=False)
    patient: str


class LaunchCheck(Protocol):
    async def refusal(self, launch: Launch) -> str | None:
        """Why the launch is not confirmed (for the log: no token, no patient id); None when
        the EHR confirms its patient."""
        ...


class IntrospectionCheck:
    def __init__(self, fhir: FhirClient, clock: Seconds, timeout_s: float) -> None:
        self._fhir = fhir
        self._clock = clock
        self._timeout_s = timeout_s

    async def refusal(self, launch: Launch) -> str | None:
        registered = launch.client.introspection
        bearer = registered.bearer_token
        try:
            endpoint = registered.endpoint or await self._advertised(launch.fhir_server)
            answer = await self._fhir.post_form(
                endpoint,
                {"token": launch.access_token},
                bearer.get_secret_value() if bearer else launch.access_token,
                self._timeout_s,
                "introspection",
            )
        except FetchError as error:
            return f"token introspection failed: {error}"
        return _refusal(answer, launch.patient, self._clock())

    async def _advertised(self, fhir_server: str) -> str:
        url = f"{fhir_server.rstrip('/')}/{SMART_CONFIGURATION}"
        found = await self._fhir.get_document(url, self._timeout_s, "smart-configuration")
        endpoint = found.get("introspection_endpoint")
        if not isinstance(endpoint, str) or not endpoint:
            raise FetchFailed("the EHR's smart-configuration advertises no introspection_endpoint")
        return endpoint


def _refusal(answer: JsonObject, patient: str, now: float) -> str | None:
    if answer.get("active") is not True:
        return "token introspection: the token is not active"
    if answer.get("patient") != patient:
        return "token introspection: the token's launch is for another patient, or none"
    expires = answer.get("exp")
    if not isinstance(expires, int | float) or isinstance(expires, bool) or expires <= now:
        return "token introspection: no exp, or one past"
    return None
