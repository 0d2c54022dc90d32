"""Liveness and readiness for load balancers and orchestrators (`application/health+json`, the
IETF draft "Health Check Response Format for HTTP APIs").

- GET /health/live: the process answers; nothing else is checked (restarting a replica because
  its database is down would not bring the database back).
- GET /health/ready: send this replica traffic? 200 when the database answers, the policies are
  loaded and the replica is not draining (service/draining.py); else 503 with Retry-After.
Public: they say nothing beyond which of the three checks failed.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from service.draining import Drain, get_drain
from service.runtime import Runtime, get_runtime
from service.types import JsonObject

router = APIRouter(prefix="/health", include_in_schema=False)
HEALTH_JSON = "application/health+json"
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
DrainDep = Annotated[Drain, Depends(get_drain)]


@router.get("/live")
async def live() -> Response:
    return _health({"status": "pass"})


@router.get("/ready")
async def ready(runtime: RuntimeDep, drain: DrainDep) -> Response:
    checks = {
        "draining": not drain.draining,
        "policies": bool(runtime.policies),
        # Last: a replica that is leaving need not wait for its database to say so.
        "database": not drain.draining and await run_in_threadpool(_database_answers, runtime),
    }
    body: JsonObject = {
        "status": "pass" if all(checks.values()) else "fail",
        "checks": {name: [{"status": "pass" if ok else "fail"}] for name, ok in checks.items()},
    }
    if all(checks.values()):
        return _health(body)
    return _health(body, 503, {"Retry-After": "1"})


def _database_answers(runtime: Runtime) -> bool:
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


def _health(body: JsonObject, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # Never cached: a proxy serving yesterday's "pass" would hide an outage.
    all_headers = {"Cache-Control": "no-store"} | (headers or {})
    return Response(orjson.dumps(body), status, all_headers, media_type=HEALTH_JSON)
