"""OperationOutcome bodies and the exception handlers that map the error tree onto HTTP.

CRD hook-10: a FHIR-aware error carries an OperationOutcome. CDS Hooks: a failed client
authentication is a bare 401.
"""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from service.errors import (
    Forbidden,
    Issue,
    OAuthError,
    RequestError,
    StorageUnavailable,
    TokenRejected,
    Unauthorized,
)
from service.types import JsonObject

FHIR_JSON = "application/fhir+json"
log = logging.getLogger(__name__)


def operation_outcome(issues: list[Issue]) -> JsonObject:
    rendered: list[JsonObject] = []
    for issue in issues:
        item: JsonObject = {
            "severity": issue.severity,
            "code": issue.code,
            "diagnostics": issue.diagnostics,
        }
        if issue.expression:
            item["expression"] = list(issue.expression)
        rendered.append(item)
    return {"resourceType": "OperationOutcome", "issue": rendered}


def fhir_response(
    content: object, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A FHIR JSON answer (orjson: decimals and dates as the resources hold them)."""
    return Response(orjson.dumps(content), status_code, headers, media_type=FHIR_JSON)


def outcome_response(status_code: int, issues: list[Issue]) -> Response:
    return fhir_response(operation_outcome(issues), status_code)


async def _request_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestError)
    return outcome_response(exc.status_code, exc.issues)


async def _unauthorized(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Unauthorized)
    log.warning(
        "client authentication failed", extra={"reason": exc.reason, "path": request.url.path}
    )
    return Response(status_code=401)


async def _token_rejected(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TokenRejected)
    log.warning("access token refused", extra={"reason": exc.reason, "path": request.url.path})
    challenge = 'Bearer realm="payer"'
    if exc.error:
        challenge += f', error="{exc.error}"'
    response = outcome_response(401, [Issue("a valid bearer token is required", code="login")])
    response.headers["WWW-Authenticate"] = challenge
    return response


async def _forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Forbidden)
    log.warning("forbidden", extra={"scope": exc.scope, "path": request.url.path})
    response = outcome_response(403, [Issue(exc.message, code="forbidden")])
    if exc.scope is not None:
        response.headers["WWW-Authenticate"] = (
            f'Bearer realm="payer", error="insufficient_scope", scope="{exc.scope}"'
        )
    return response


async def _oauth_error(request: Request, exc: Exception) -> Response:
    """RFC 6749 section 5.2: a JSON error object, never cached."""
    assert isinstance(exc, OAuthError)
    log.warning("token request refused", extra={"error": exc.error, "reason": exc.reason})
    body = orjson.dumps({"error": exc.error, "error_description": exc.description})
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="payer"'
    return Response(body, exc.status_code, headers, media_type="application/json")


async def _storage_unavailable(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StorageUnavailable)
    response = outcome_response(503, [Issue(str(exc), code="transient")])
    response.headers["Retry-After"] = "1"
    return response


async def _database_unreachable(request: Request, exc: Exception) -> Response:
    """The database down, unreachable or out of connections, on any route that reads or writes
    it: the same 503 as a failed commit, so a client retries instead of reporting our bug."""
    log.warning(
        "database unavailable", extra={"path": request.url.path, "error": type(exc).__name__}
    )
    return await _storage_unavailable(request, StorageUnavailable("the database is unavailable"))


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    issues = [
        Issue(str(error.get("msg", "invalid")), expression=(_dotted(error.get("loc", ())),))
        for error in exc.errors()
    ]
    return outcome_response(400, issues)


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not-found", 405: "not-supported"}.get(exc.status_code, "processing")
    return outcome_response(exc.status_code, [Issue(str(exc.detail), code=code)])


async def _unexpected(request: Request, exc: Exception) -> Response:
    # The last line of defence: our own fault, logged with its traceback, never the request body.
    log.exception("unhandled error", extra={"path": request.url.path})
    return outcome_response(500, [Issue("internal error", code="exception", severity="fatal")])


def _dotted(location: object) -> str:
    if isinstance(location, (list, tuple)):
        return ".".join(str(part) for part in location)
    return str(location)


def install_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestError, _request_error)
    app.add_exception_handler(TokenRejected, _token_rejected)
    app.add_exception_handler(Unauthorized, _unauthorized)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(OAuthError, _oauth_error)
    app.add_exception_handler(StorageUnavailable, _storage_unavailable)
    for unreachable in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(unreachable, _database_unreachable)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
