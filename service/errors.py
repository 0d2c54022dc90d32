"""The service's exception tree. Only the exception handlers in `web_errors` turn these into HTTP.

ServiceError
├── RequestError              the client sent something we cannot act on
│   ├── BadRequest            400: not JSON, not CDS Hooks, not FHIR (CRD hook-13)
│   ├── UnprocessableEntity   422: valid FHIR that breaks a CRD rule (CRD hook-13)
│   ├── NotFound              404
│   ├── PayloadTooLarge       413
│   └── PreconditionFailed    412: required data neither prefetched nor fetchable (CDS Hooks 2.0)
├── Unauthorized              401, answered with an empty body (CDS Hooks: trust is all or nothing)
└── ConfigurationError        our own setup is wrong; raised at start-up, never per request
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


class ConfigurationError(ServiceError):
    pass
