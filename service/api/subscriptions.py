"""`/fhir/Subscription`: a client subscribes to its prior-authorization decisions (service/pas/
subscriptions.py), reads its Subscriptions back and ends them. SMART Backend Services token with
`system/Subscription` scopes; at most MAX_SUBSCRIPTIONS_PER_CLIENT not ended per client; a
client reaches only its own, another's reads as unknown. A new
Subscription is stored and acknowledged `requested` (Subscriptions Backport 1.1.0); the outbox's
dispatcher sends its handshake, after which it is `active`, or `error` when the endpoint did not
take it (the client fixes the endpoint and subscribes again). Its status then follows delivery
(service/pas/outbox.py), and the Subscriptions Backport `$status`
operation reports it with the events numbered so far, on one Subscription or on the client's."""

from __future__ import annotations

import uuid
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from service.auth.callers import Caller, requires
from service.errors import BadRequest, NotFound, UnprocessableEntity
from service.openapi_bodies import request_body
from service.outcomes import fhir_response
from service.pas.subscriptions import (
    PAS_TOPIC,
    origin_of,
    read_subscription,
    status_bundle,
    stored_subscription,
)
from service.runtime import Runtime, get_runtime
from service.storage.tables import StoredSubscription
from service.types import Resource

router = APIRouter(prefix="/fhir/Subscription")
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SUBSCRIPTION = {"type": "object", "description": "An R4 Subscription (Subscriptions Backport)"}


def _allowed_origins(runtime: Runtime, caller: Caller) -> tuple[str, ...] | None:
    """Where this client may be notified: its registered FHIR servers' origins; anywhere only
    when client authentication is off (development)."""
    if runtime.settings.auth_mode == "off":
        return None
    client = runtime.registry.by_client_id(caller.client_id)
    servers = client.fhir_servers if client is not None else ()
    return tuple(sorted({origin_of(server) for server in servers}))


@router.post("", openapi_extra=request_body(SUBSCRIPTION, "application/fhir+json"))
async def create(
    request: Request, runtime: RuntimeDep, caller: Annotated[Caller, requires("Subscription", "c")]
) -> Response:
    try:
        resource = orjson.loads(await request.body())
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"request body is not JSON: {error}") from None
    asked = read_subscription(resource, _allowed_origins(runtime, caller))
    await run_in_threadpool(_refuse_beyond_limit, runtime, caller)
    row = StoredSubscription(
        id=str(uuid.uuid4()),
        client_id=caller.client_id,
        topic=PAS_TOPIC,
        organization=asked.organization,
        content=asked.content,
        endpoint=asked.endpoint,
        headers=list(asked.headers),
        status="requested",
        created_at=runtime.clock.now(),
        events=0,
        resource=stored_subscription(resource, "", "requested"),
    )
    stored = stored_subscription(resource, row.id, "requested")
    row.resource = _without_headers(stored)
    await runtime.committer.commit(lambda session: session.add(row))
    runtime.dispatcher.wake()  # the handshake goes now, not at the next poll
    location = f"{runtime.settings.base_url.rstrip('/')}/fhir/Subscription/{row.id}"
    return fhir_response(_without_headers(stored), 201, {"Location": location})


def _refuse_beyond_limit(runtime: Runtime, caller: Caller) -> None:
    """Checked before the handshake, so a refused Subscription costs no outbound post. Two made
    at the same moment may both pass the check: the bound is approximate by that much."""
    limit = runtime.settings.max_subscriptions_per_client
    held = (
        select(func.count())
        .select_from(StoredSubscription)
        .where(StoredSubscription.client_id == caller.client_id, StoredSubscription.status != "off")
    )
    with runtime.sessions() as session:
        count = session.execute(held).scalar_one()
    if count >= limit:
        raise UnprocessableEntity(
            f"this client holds {count} Subscriptions, the most it may: end one (DELETE) first"
        )


def _without_headers(subscription: Resource) -> Resource:
    """Channel headers may carry the client's secret: kept for delivery, never sent back."""
    channel = {k: v for k, v in (subscription.get("channel") or {}).items() if k != "header"}
    return {**subscription, "channel": channel}


def _own(runtime: Runtime, caller: Caller, subscription_id: str) -> StoredSubscription | None:
    with runtime.sessions() as session:
        row = session.get(StoredSubscription, subscription_id[:64])
        if row is None or not caller.may_see(row.client_id, None, None):
            return None
        session.expunge(row)
        return row


def _mine(
    runtime: Runtime, caller: Caller, ids: list[str], statuses: list[str]
) -> list[StoredSubscription]:
    statement = select(StoredSubscription).order_by(StoredSubscription.created_at)
    if ids:
        statement = statement.where(StoredSubscription.id.in_(ids))
    if statuses:
        statement = statement.where(StoredSubscription.status.in_(statuses))
    if not caller.unrestricted:
        statement = statement.where(StoredSubscription.client_id == caller.client_id)
    with runtime.sessions() as session:
        rows = [r for r in session.scalars(statement) if caller.may_see(r.client_id, None, None)]
        session.expunge_all()
        return rows


def _status(runtime: Runtime, rows: list[StoredSubscription]) -> Response:
    base = runtime.settings.base_url.rstrip("/")
    found = [(r.id, r.status, r.events, str(r.resource.get("error") or "")) for r in rows]
    return fhir_response(status_bundle(base, found))


def _or_list(values: list[str]) -> list[str]:
    """Backport `$status`: repeated parameters and comma-separated values are joined by OR."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@router.get("/$status")
async def status_of_mine(
    request: Request,
    runtime: RuntimeDep,
    caller: Annotated[Caller, requires("Subscription", "r")],
) -> Response:
    """Type level: the caller's Subscriptions, or those of them `id` and `status` name."""
    ids = _or_list(request.query_params.getlist("id"))
    statuses = _or_list(request.query_params.getlist("status"))
    return _status(runtime, await run_in_threadpool(_mine, runtime, caller, ids, statuses))


async def _own_or_not_found(
    runtime: Runtime, caller: Caller, subscription_id: str
) -> StoredSubscription:
    """Another client's Subscription reads as an unknown one."""
    row = await run_in_threadpool(_own, runtime, caller, subscription_id)
    if row is None:
        raise NotFound(f"Subscription/{subscription_id} is not known here")
    return row


@router.get("/{subscription_id}/$status")
async def status_of(
    subscription_id: str,
    runtime: RuntimeDep,
    caller: Annotated[Caller, requires("Subscription", "r")],
) -> Response:
    return _status(runtime, [await _own_or_not_found(runtime, caller, subscription_id)])


@router.get("/{subscription_id}")
async def read(
    subscription_id: str,
    runtime: RuntimeDep,
    caller: Annotated[Caller, requires("Subscription", "r")],
) -> Response:
    row = await _own_or_not_found(runtime, caller, subscription_id)
    return fhir_response({**dict(row.resource), "status": row.status})


@router.delete("/{subscription_id}")
async def end(
    subscription_id: str,
    runtime: RuntimeDep,
    caller: Annotated[Caller, requires("Subscription", "d")],
) -> Response:
    """The Subscription is switched off (kept, for the record); nothing more is sent to it."""
    row = await run_in_threadpool(_own, runtime, caller, subscription_id)
    if row is None:
        raise NotFound(f"Subscription/{subscription_id} is not known here")

    def off(session: Session) -> None:
        found = session.get(StoredSubscription, row.id)
        if found is not None:
            found.status = "off"

    await runtime.committer.commit(off)
    return Response(status_code=204)
