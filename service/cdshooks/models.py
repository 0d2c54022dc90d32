"""CDS Hooks 2.0 request bodies (HTTP Request, section "Calling a CDS Service") and feedback.

Unknown fields are ignored (CRD hook-23); `fhirAuthorization.access_token` is a secret that never
reaches a repr, a log line or storage.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from service.errors import BadRequest, Issue
from service.types import JsonObject

M = TypeVar("M", bound=BaseModel)

_LENIENT = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class FhirAuthorization(BaseModel):
    model_config = _LENIENT

    access_token: SecretStr = Field(min_length=1)
    token_type: Literal["Bearer"]
    expires_in: int = Field(ge=0)
    scope: str = Field(min_length=1)
    subject: str = Field(min_length=1)
    patient: str | None = None


class HookRequest(BaseModel):
    model_config = _LENIENT

    hook: str = Field(min_length=1)
    hook_instance: str = Field(alias="hookInstance", min_length=1)
    fhir_server: str | None = Field(default=None, alias="fhirServer")
    fhir_authorization: FhirAuthorization | None = Field(default=None, alias="fhirAuthorization")
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None
    extension: dict[str, Any] | None = None

    @field_validator("fhir_server")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("fhirServer must be an absolute http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _server_with_token(self) -> HookRequest:
        if self.fhir_authorization is not None and self.fhir_server is None:
            raise ValueError("fhirServer is required when fhirAuthorization is given")
        return self

    @property
    def access_token(self) -> str | None:
        if self.fhir_authorization is None:
            return None
        return self.fhir_authorization.access_token.get_secret_value()


class OverrideReason(BaseModel):
    model_config = _LENIENT

    reason: dict[str, Any] | None = None
    user_comment: str | None = Field(default=None, alias="userComment")


class FeedbackItem(BaseModel):
    model_config = _LENIENT

    card: str = Field(min_length=1)
    outcome: Literal["accepted", "overridden"]
    outcome_timestamp: str = Field(alias="outcomeTimestamp", min_length=1)
    accepted_suggestions: list[dict[str, Any]] | None = Field(
        default=None, alias="acceptedSuggestions"
    )
    override_reason: OverrideReason | None = Field(default=None, alias="overrideReason")


class FeedbackRequest(BaseModel):
    model_config = _LENIENT

    feedback: list[FeedbackItem] = Field(min_length=1)


def parse_model(model: type[M], data: object, where: str = "") -> M:
    """Validate `data` as `model`, turning pydantic's errors into a 400 that names each field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise BadRequest(
            f"{where or model.__name__} is not valid", issues=validation_issues(error, where)
        ) from None


def validation_issues(error: ValidationError, prefix: str = "") -> list[Issue]:
    issues = []
    for detail in error.errors(include_url=False, include_input=False):
        path = ".".join(str(part) for part in detail["loc"])
        path = f"{prefix}.{path}" if prefix and path else (prefix or path)
        issues.append(
            Issue(f"{path or 'body'}: {detail['msg']}", expression=(path,) if path else ())
        )
    return issues


def json_object(data: object, what: str) -> JsonObject:
    if not isinstance(data, dict):
        raise BadRequest(f"{what} must be a JSON object")
    return data
