"""Who is calling a DTR route, and what they may reach (DTR STU 2 spec-120: payers SHALL require
DTR apps and EHRs to authenticate, SMART Backend Services).

A route names the scope it needs (`requires("QuestionnaireResponse", "c")`); the caller is the
registered client of a valid access token holding that scope, in any context (`system/`,
`user/`, `patient/`). A system token reaches all of its client's rows, never another client's.
A launch token (patient and FHIR server in the token) reaches only the rows of its client stored
for that patient id on that FHIR server: a patient id means something only with its server, and
one client may be registered with several (the hospitals of one health system, whose ids
collide). A row stored without a FHIR server (a client with several servers whose call did not
say which) is its client's system tokens' only. With AUTH_MODE=off (development only) every
caller reaches everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request

from service.auth.access_tokens import AccessGrant, AccessTokens
from service.auth.clients import ClientRegistry
from service.auth.scopes import grants
from service.auth.signed_jwt import bearer_token
from service.errors import Forbidden, TokenRejected, Unauthorized
from service.storage.tables import NO_CLIENT

CONTEXTS = ("system", "user", "patient")


@dataclass(frozen=True)
class Caller:
    client_id: str
    patient: str | None = None
    # The FHIR server the caller's patient ids belong to: a launch token's, else its client's
    # only registered server (service/auth/clients.py `home_server`); what rows it stores carry.
    fhir_server: str | None = None
    unrestricted: bool = False

    def may_see(self, client_id: str, patient_id: str | None, fhir_server: str | None) -> bool:
        """Whether a row bound to (client, patient, FHIR server) is this caller's to see."""
        if self.unrestricted:
            return True
        if client_id != self.client_id or client_id == NO_CLIENT:
            return False
        if self.patient is None:
            return True
        return (
            patient_id == self.patient
            and fhir_server is not None
            and fhir_server == self.fhir_server
        )


ANYONE = Caller(NO_CLIENT, unrestricted=True)


class AccessControl:
    def __init__(self, tokens: AccessTokens | None, registry: ClientRegistry) -> None:
        self._tokens = tokens  # None: authentication is off
        self._registry = registry

    def caller(self, authorization: str | None, resource: str, permission: str) -> Caller:
        if self._tokens is None:
            return ANYONE
        try:
            token = bearer_token(authorization)
        except Unauthorized as missing:
            raise TokenRejected(missing.reason, missing=authorization is None) from None
        grant = self._tokens.verify(token)
        if not any(grants(grant.scopes, c, resource, permission) for c in CONTEXTS):
            needed = f"{resource}.{permission}"
            raise Forbidden(f"the token does not grant {needed}", scope=needed)
        return Caller(grant.client_id, grant.patient, grant.fhir_server or self._home(grant))

    def _home(self, grant: AccessGrant) -> str | None:
        if grant.patient is not None:
            return None  # a launch names its server; one that does not reaches no row
        return self._registry.home_server(grant.client_id)


def requires(resource: str, permission: str) -> Any:
    """A FastAPI dependency giving the route's Caller, refused (401/403) before the route runs."""

    async def caller(request: Request) -> Caller:
        access: AccessControl = request.app.state.runtime.access
        return access.caller(request.headers.get("authorization"), resource, permission)

    return Depends(caller)
