"""The long-lived objects of one running app, built once by `create_app` and handed to routes
through a FastAPI dependency: settings, policies, outbound HTTP, client authentication, storage.
Nothing here holds request state."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import httpx
from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from service.cdshooks.client_auth import InMemoryReplayCache, JwtVerifier
from service.cdshooks.discovery import discovery_document
from service.cql.engine import CqlEngine
from service.crd.order_hook import HookEnvironment
from service.dtr.content import ContentStore, load_content
from service.fhir.ehr_client import FhirClient
from service.policy.engine import PolicyEngine
from service.policy.folder import Policy, load_policies
from service.settings import Settings
from service.storage.audit import AuditLog, BatchedWriter
from service.storage.db import make_engine, session_factory
from service.types import JsonObject

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    policies: tuple[Policy, ...]
    discovery: JsonObject
    http: httpx.AsyncClient
    verifier: JwtVerifier
    engine: Engine
    sessions: sessionmaker[Session]
    audit: AuditLog
    hook_environment: HookEnvironment
    content: ContentStore

    @property
    def audit_key(self) -> bytes:
        return self.settings.audit_hash_key.get_secret_value().encode()

    async def authenticate(self, request: Request, endpoint: str) -> str | None:
        """The calling client's `iss`, or None when authentication is off (development only)."""
        if self.settings.auth_mode == "off":
            return None
        audience = f"{self.settings.base_url.rstrip('/')}/cds-services/{endpoint}"
        identity = await self.verifier.verify(request.headers.get("authorization"), audience)
        return identity.issuer

    async def close(self) -> None:
        self.audit.close()
        await self.http.aclose()
        self.engine.dispose()


def build_runtime(settings: Settings) -> Runtime:
    policies = load_policies(settings.policy_dir)
    cql = CqlEngine(settings.cql_dir / "elm", settings.cql_dir)
    engines = {policy.id: PolicyEngine(policy, cql) for policy in policies}
    http = httpx.AsyncClient(follow_redirects=False, trust_env=False)
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    return Runtime(
        settings=settings,
        policies=policies,
        discovery=discovery_document(policies),
        http=http,
        verifier=JwtVerifier(settings, http, InMemoryReplayCache(time.time), time.time),
        engine=engine,
        sessions=sessions,
        audit=BatchedWriter(sessions, settings.audit_flush_interval_s),
        hook_environment=HookEnvironment(settings, policies, FhirClient(http, settings), engines),
        content=load_content(policies, settings.cql_dir),
    )


async def get_runtime(request: Request) -> Runtime:
    """Async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a thread hop on
    every request for one attribute read."""
    runtime: Runtime = request.app.state.runtime
    return runtime
