"""SMART App Launch 2 discovery (`/fhir/.well-known/smart-configuration`) and the token endpoint
(`POST /auth/token`, service/auth/token_endpoint.py)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from service.auth.signed_jwt import ALLOWED_ALGORITHMS
from service.auth.token_endpoint import (
    CLIENT_CREDENTIALS,
    SCOPES_SUPPORTED,
    TOKEN_EXCHANGE,
)
from service.errors import OAuthError
from service.runtime import Runtime, get_runtime

router = APIRouter()
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
FORM = "application/x-www-form-urlencoded"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.get("/fhir/.well-known/smart-configuration")
async def smart_configuration(runtime: RuntimeDep) -> Response:
    base = runtime.settings.base_url.rstrip("/")
    return Response(
        orjson.dumps(
            {
                "issuer": f"{base}/auth",
                "token_endpoint": f"{base}/auth/token",
                "grant_types_supported": [CLIENT_CREDENTIALS, TOKEN_EXCHANGE],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                "token_endpoint_auth_signing_alg_values_supported": sorted(ALLOWED_ALGORITHMS),
                "scopes_supported": list(SCOPES_SUPPORTED),
                "capabilities": ["client-confidential-asymmetric", "permission-v2"],
            }
        ),
        media_type="application/json",
    )


@router.post("/auth/token")
async def token(request: Request, runtime: RuntimeDep) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM:
        raise OAuthError("invalid_request", f"the body must be {FORM}")
    try:
        pairs = parse_qsl((await request.body()).decode(), strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "the body is not a form") from None
    form = dict(pairs)
    if len(form) != len(pairs):
        raise OAuthError("invalid_request", "a parameter is given more than once")
    answer = await runtime.token_endpoint.answer(form)
    return Response(orjson.dumps(answer.as_json()), 200, _NO_STORE, media_type="application/json")
