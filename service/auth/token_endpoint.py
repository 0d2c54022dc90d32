"""The token endpoint (`POST /auth/token`, RFC 6749 section 3.2), two grants:

- `client_credentials` with a `private_key_jwt` client assertion (SMART App Launch 2, "Backend
  Services"): the assertion's `iss` and `sub` are a registered client_id, `aud` this endpoint,
  `exp` at most five minutes away, `jti` never seen before (shared store, every worker), signed
  RS384 or ES384 by a key registered for that client. Grants `system/` scopes only.
- token exchange (RFC 8693) for the prescriber's SMART app, which holds no secret of its own:
  `subject_token` is the access token its EHR launch gave it, `fhir_server` and `patient` the
  launch's `iss` and patient. The EHR must be a registered client's FHIR server, and its token
  introspection must say the token is active and its launch is for that patient
  (service/auth/launch.py). Grants `patient/` scopes for that patient on that server only.

Errors are RFC 6749 section 5.2 objects; every answer carries `Cache-Control: no-store`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from service.auth.access_tokens import AccessGrant, AccessTokens
from service.auth.clients import ClientRegistry, RegisteredClient
from service.auth.launch import Launch, LaunchCheck
from service.auth.scopes import Scope, granted, parse_scope, parse_scopes
from service.auth.signed_jwt import SignedJwtVerifier
from service.errors import OAuthError, Unauthorized
from service.fhir.ids import is_fhir_id

CLIENT_CREDENTIALS = "client_credentials"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"

# Claim.c: PAS Claim/$submit; Claim.r: Claim/$inquire; ClaimResponse.r: a notification's focus;
# Subscription.crd: subscribing to decisions.
SYSTEM_SCOPES = (
    "system/Questionnaire.rs",
    "system/QuestionnaireResponse.crs",
    "system/Claim.cr",
    "system/ClaimResponse.r",
    "system/Subscription.crd",
)
LAUNCH_SCOPES = ("patient/Questionnaire.rs", "patient/QuestionnaireResponse.crs")
SCOPES_SUPPORTED = (*SYSTEM_SCOPES, *LAUNCH_SCOPES)
# Whether a jti is new (and now recorded): the shared replay store.
FirstUse = Callable[[str, str, float], Awaitable[bool]]


@dataclass(frozen=True)
class TokenAnswer:
    access_token: str
    expires_in: int
    scope: str
    patient: str | None

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "access_token": self.access_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        }
        if self.patient is not None:  # a token exchange (RFC 8693 section 2.2.1)
            body["patient"] = self.patient
            body["issued_token_type"] = ACCESS_TOKEN_TYPE
        return body


@dataclass(frozen=True)
class TokenEndpoint:
    url: str
    registry: ClientRegistry
    verifier: SignedJwtVerifier
    first_use: FirstUse
    tokens: AccessTokens
    launches: LaunchCheck
    system_lifetime_s: int
    launch_lifetime_s: int

    async def answer(self, form: Mapping[str, str]) -> TokenAnswer:
        grant_type = form.get("grant_type")
        if grant_type == CLIENT_CREDENTIALS:
            return await self._client_credentials(form)
        if grant_type == TOKEN_EXCHANGE:
            return await self._token_exchange(form)
        raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")

    async def _client_credentials(self, form: Mapping[str, str]) -> TokenAnswer:
        if form.get("client_assertion_type") != JWT_BEARER or not form.get("client_assertion"):
            raise OAuthError("invalid_request", f"client_assertion_type must be {JWT_BEARER}")
        client = await self._authenticated(form["client_assertion"])
        scopes = self._scopes(form.get("scope", ""), client, SYSTEM_SCOPES)
        grant = AccessGrant(client.client_id, tuple(scopes))
        token = self.tokens.issue(grant, self.system_lifetime_s)
        return TokenAnswer(token, self.system_lifetime_s, grant.scope_text, None)

    async def _authenticated(self, assertion: str) -> RegisteredClient:
        def signer(claims: dict[str, object]) -> RegisteredClient | None:
            issuer = claims.get("iss")
            if not isinstance(issuer, str) or claims.get("sub") != issuer:
                return None  # SMART: iss and sub are both the client_id
            return self.registry.by_client_id(issuer)

        try:
            verified = await self.verifier.verify(assertion, self.url, signer)
        except Unauthorized as refused:
            raise OAuthError(
                "invalid_client", "client authentication failed", refused.reason
            ) from None
        client = verified.client
        claimed = await self.first_use(
            f"token:{client.client_id}", verified.jti, verified.expires_at
        )
        if not claimed:
            raise OAuthError("invalid_client", "client authentication failed", "jti replayed")
        return client

    async def _token_exchange(self, form: Mapping[str, str]) -> TokenAnswer:
        subject_token, fhir_server = form.get("subject_token"), form.get("fhir_server")
        patient = form.get("patient", "")
        if form.get("subject_token_type") != ACCESS_TOKEN_TYPE or not subject_token:
            raise OAuthError("invalid_request", f"subject_token_type must be {ACCESS_TOKEN_TYPE}")
        if not fhir_server or not is_fhir_id(patient):
            raise OAuthError("invalid_request", "fhir_server and a FHIR patient id are required")
        fhir_server = fhir_server.rstrip("/")
        client = self.registry.by_fhir_server(fhir_server)
        if client is None:
            raise OAuthError("invalid_grant", "that FHIR server is not a registered EHR")
        refusal = await self.launches.refusal(Launch(client, fhir_server, subject_token, patient))
        if refusal is not None:
            raise OAuthError(
                "invalid_grant", "the EHR did not confirm the launch's patient", refusal
            )
        scopes = self._scopes(form.get("scope", ""), client, LAUNCH_SCOPES)
        grant = AccessGrant(client.client_id, tuple(scopes), patient, fhir_server)
        token = self.tokens.issue(grant, self.launch_lifetime_s)
        return TokenAnswer(token, self.launch_lifetime_s, grant.scope_text, patient)

    @staticmethod
    def _scopes(requested: str, client: RegisteredClient, offered: tuple[str, ...]) -> list[Scope]:
        allowed = [s for text in offered if (s := parse_scope(text)) is not None]
        if client.scopes is not None:  # the client's registered scopes, within what we offer
            mine = parse_scopes(" ".join(sorted(client.scopes)))
            allowed = [m for m in mine if any(o.covers(m) for o in allowed)]
        wanted = parse_scopes(requested) if requested.strip() else allowed
        found = granted(wanted, allowed)
        if not found:
            raise OAuthError("invalid_scope", "none of the requested scopes can be granted")
        return found
