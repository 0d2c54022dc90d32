"""The service's exception tree. Only the exception handlers in `outcomes.py` turn these into HTTP.

ServiceError
├── RequestError              the client sent something we cannot act on
│   ├── BadRequest            400: not JSON, not CDS Hooks, not FHIR (CRD hook-13)
│   ├── UnprocessableEntity   422: valid FHIR that breaks a CRD rule (CRD hook-13)
│   ├── NotFound              404
│   ├── Conflict              409: the target changed first (a case another reviewer decided)
│   ├── PayloadTooLarge       413
│   └── PreconditionFailed    412: required data neither prefetched nor fetchable (CDS Hooks 2.0)
├── Unauthorized              401, an empty body on CDS Hooks (trust is all or nothing), a
│                             `WWW-Authenticate: Bearer` challenge on FHIR routes (RFC 6750)
├── Forbidden                 403: a valid token without the scope the route needs
├── OAuthError                400/401 from the token endpoint, an RFC 6749 section 5.2 body
├── StorageUnavailable        503: what must be stored before answering could not be
├── FetchError                a read from an EHR's FHIR server did not give what we asked for
│   ├── FetchRefused          we will not contact that server (allowlist, https)
│   └── FetchFailed           we tried and got no usable FHIR JSON
│       └── FetchNotFound     404 or 410: the resource is not there
├── CqlRuntimeError           the policy's CQL could not be evaluated on this data (the order's
│                             answer is `technical`, crd/answers.py)
├── InvariantViolation        coverage information we built breaks its version's crd-ci rules
│                             (a bug of ours: the answer is refused, not sent)
└── ConfigurationError        our own setup is wrong; raised at start-up, never per request
    └── CqlLoadError          the ELM is not what the bridge evaluates (file and line)
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome.issue: `code` from the FHIR IssueType value set."""

    diagnostics: str
    code: str = "invalid"
    severity: str = "error"
    expression: tuple[str, ...] = ()


class ServiceError(Exception):
    pass


@dataclass
class RequestError(ServiceError):
    message: str
    issues: list[Issue] = field(default_factory=list)
    status_code: int = 400

    def __post_init__(self) -> None:
        super().__init__(self.message)
        if not self.issues:
            self.issues = [Issue(self.message, code=self.default_issue_code)]

    @property
    def default_issue_code(self) -> str:
        return "invalid"


class BadRequest(RequestError):
    pass


class UnprocessableEntity(RequestError):
    def __post_init__(self) -> None:
        self.status_code = 422
        super().__post_init__()

    @property
    def default_issue_code(self) -> str:
        return "business-rule"


class NotFound(RequestError):
    def __post_init__(self) -> None:
        self.status_code = 404
        super().__post_init__()

    @property
    def default_issue_code(self) -> str:
        return "not-found"


class Conflict(RequestError):
    def __post_init__(self) -> None:
        self.status_code = 409
        super().__post_init__()

    @property
    def default_issue_code(self) -> str:
        return "conflict"


class PayloadTooLarge(RequestError):
    def __post_init__(self) -> None:
        self.status_code = 413
        super().__post_init__()

    @property
    def default_issue_code(self) -> str:
        return "too-costly"


class PreconditionFailed(RequestError):
    def __post_init__(self) -> None:
        self.status_code = 412
        super().__post_init__()

    @property
    def default_issue_code(self) -> str:
        return "incomplete"


class Unauthorized(ServiceError):
    """Never carries a reason to the client; the reason goes to the log only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenRejected(Unauthorized):
    """On FHIR routes: no token (`error` None) or a bad one (`invalid_token`), RFC 6750."""

    def __init__(self, reason: str, missing: bool = False) -> None:
        super().__init__(reason)
        self.error = None if missing else "invalid_token"


class Forbidden(ServiceError):
    """`scope`: the scope the token lacks (RFC 6750 insufficient_scope), when that is why."""

    def __init__(self, message: str, scope: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.scope = scope


class OAuthError(ServiceError):
    """`error` from RFC 6749 section 5.2 (invalid_request, invalid_client, invalid_grant,
    unsupported_grant_type, invalid_scope); `description` is safe to show the client."""

    def __init__(self, error: str, description: str, reason: str | None = None) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.reason = reason or description  # for the log only
        self.status_code = 401 if error == "invalid_client" else 400


class StorageUnavailable(ServiceError):
    pass


class ConfigurationError(ServiceError):
    pass


class FetchError(ServiceError):
    pass


class FetchRefused(FetchError):
    """We will not contact this server (not allowlisted, or not https outside development)."""


class FetchFailed(FetchError):
    """We tried and did not get a usable FHIR JSON object."""


class FetchNotFound(FetchFailed):
    """The server answered 404 or 410: the resource is not there."""


class CqlRuntimeError(ServiceError):
    pass


class InvariantViolation(ServiceError):
    pass


class CqlLoadError(ConfigurationError):
    pass
