"""The payers' policy documents as published, at `/policies/{id}`: what the policy-link details
and the policy cards point at."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from service.errors import NotFound
from service.runtime import Runtime, get_runtime

router = APIRouter()


@router.get("/policies/{policy_id}")
async def policy_document(
    policy_id: str, runtime: Annotated[Runtime, Depends(get_runtime)]
) -> Response:
    policy = runtime.policy_registry.by_id(policy_id)
    document = policy.folder / "policy.txt" if policy is not None else None
    if document is None or not document.is_file():
        raise NotFound(f"no published policy {policy_id!r}")
    return Response(document.read_text(), media_type="text/plain; charset=utf-8")
