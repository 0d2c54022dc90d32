"""The long-lived objects of one running app, built once by `create_app` and handed to routes
through a FastAPI dependency: settings, policies, outbound HTTP, client authentication, storage.
Nothing here holds request state."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from functools import partial

import httpx
from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from service.auth.access_tokens import AccessTokens
from service.auth.callers import AccessControl, Caller
from service.auth.client_address import Network, trusted_networks
from service.auth.clients import ClientRegistry, load_registry
from service.auth.keys import KeyStore
from service.auth.launch import IntrospectionCheck
from service.auth.login_throttle import LoginThrottle
from service.auth.password_checks import PasswordChecks
from service.auth.replay import InMemoryReplayCache, claim
from service.auth.reviewers import load_reviewers
from service.auth.signed_jwt import SignedJwtVerifier
from service.auth.token_endpoint import TokenEndpoint
from service.cdshooks.client_auth import ClientIdentity, JwtVerifier, time_rules
from service.clock import SYSTEM_CLOCK, Clock, today
from service.crd.calls import HookEnvironment
from service.crd.discovery import discovery_document
from service.dtr.access_log import record_access
from service.dtr.content import ContentStore, load_content
from service.fhir.ehr_client import FhirClient
from service.pas.dispatcher import Dispatcher
from service.pas.notifier import Notifier
from service.pas.outbox import Retry
from service.policy.canonical import published, published_base
from service.policy.folder import Policy, load_policies
from service.policy.registry import PolicyRegistry, compile_policies
from service.production_checks import refuse_unsafe_production
from service.settings import Settings
from service.storage.audit import AuditLog
from service.storage.commits import GroupCommitter
from service.storage.db import PoolLimits, make_engine, session_factory
from service.storage.locks import Lease
from service.storage.login_attempts import prune_forgotten
from service.storage.retention import prune_expired
from service.types import JsonObject

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    policies: tuple[Policy, ...]
    policy_registry: PolicyRegistry
    discovery: JsonObject
    http: httpx.AsyncClient
    registry: ClientRegistry
    verifier: JwtVerifier
    engine: Engine
    writer_engine: Engine  # the writer's own: on SQLite it waits for no lock (commits.py)
    replay_lease: Lease  # held by the one process of the cluster that prunes expired jtis
    sessions: sessionmaker[Session]
    audit: AuditLog
    committer: GroupCommitter
    access: AccessControl
    token_endpoint: TokenEndpoint
    hook_environment: HookEnvironment
    content: ContentStore
    password_checks: PasswordChecks  # the reviewers' passwords, a few at a time
    login_throttle: LoginThrottle
    trusted_proxies: tuple[Network, ...]
    notifier: Notifier
    dispatcher: Dispatcher  # delivers the notification outbox (service/pas/dispatcher.py)
    clock: Clock

    def today(self) -> date:
        """ "Today" for the policy: EVALUATION_DATE where pinned (development), else the clock's."""
        return today(self.clock, self.settings.evaluation_date)

    @property
    def audit_key(self) -> bytes:
        return self.settings.audit_hash_key.get_secret_value().encode()

    def record_access(
        self,
        caller: Caller,
        action: str,
        patient_id: str | None,
        target: str | None,
        status_code: int = 200,
    ) -> None:
        """Who read or wrote which patient's data (service/dtr/access_log.py), on our clock."""
        record_access(
            self.audit, self.audit_key, self.clock, caller, action, patient_id, target, status_code
        )

    async def authenticate(self, request: Request, endpoint: str) -> ClientIdentity | None:
        """The calling client, or None when authentication is off (development only). The
        token's jti is not yet claimed in the shared store: the caller does that with what it
        stores (service/auth/replay.py `claimed`)."""
        if self.settings.auth_mode == "off":
            return None
        audience = f"{self.settings.base_url.rstrip('/')}/cds-services/{endpoint}"
        return await self.verifier.verify(request.headers.get("authorization"), audience)

    async def close(self) -> None:
        # What is not delivered stays in the outbox for the next holder of its lease.
        await self.dispatcher.stop()
        self.committer.close()  # the audit log's writer too: flushes what is queued
        self.replay_lease.release()
        await self.http.aclose()
        self.engine.dispose()
        self.writer_engine.dispose()


def build_runtime(settings: Settings, clock: Clock = SYSTEM_CLOCK) -> Runtime:
    refuse_unsafe_production(settings)
    policies = tuple(published(p, settings.base_url) for p in load_policies(settings.policy_dir))
    policy_registry = PolicyRegistry(policies, compile_policies(policies, settings.cql_dir))
    http = httpx.AsyncClient(follow_redirects=False, trust_env=False)
    engine = make_engine(settings.database_url, pool=PoolLimits.for_requests(settings))
    sessions = session_factory(engine)
    registry = load_registry(settings)
    fhir = FhirClient(http, settings)
    tokens = _access_tokens(settings, clock)
    keys = KeyStore(http, settings.jwks_cache_ttl_s, clock.time)
    writer_engine, replay_lease, writer = _writer(settings, clock)
    notifier = Notifier(http, settings.base_url)
    return Runtime(
        settings=settings,
        policies=policies,
        policy_registry=policy_registry,
        discovery=discovery_document(policies),
        http=http,
        registry=registry,
        verifier=JwtVerifier(
            settings, http, _replay_cache(settings, clock), clock.time, registry, keys
        ),
        engine=engine,
        writer_engine=writer_engine,
        replay_lease=replay_lease,
        sessions=sessions,
        audit=writer,
        committer=writer,
        access=AccessControl(tokens if settings.auth_mode == "jwt" else None, registry),
        token_endpoint=_token_endpoint(settings, clock, registry, keys, writer, tokens, fhir),
        hook_environment=HookEnvironment(settings, policies, fhir, policy_registry.engines),
        password_checks=_password_checks(settings),
        login_throttle=_login_throttle(settings, sessions, clock),
        trusted_proxies=trusted_networks(settings.trusted_proxies),
        notifier=notifier,
        dispatcher=_dispatcher(settings, clock, notifier, sessions, writer, writer_engine),
        content=load_content(policies, settings.cql_dir, published_base(settings.base_url)),
        clock=clock,
    )


def _password_checks(settings: Settings) -> PasswordChecks:
    return PasswordChecks(
        load_reviewers(settings.reviewers_file),
        settings.login_concurrent_checks,
        settings.login_check_wait_s,
    )


def _login_throttle(
    settings: Settings, sessions: sessionmaker[Session], clock: Clock
) -> LoginThrottle:
    key = settings.audit_hash_key.get_secret_value().encode()
    return LoginThrottle(settings, key, sessions, clock)


def _writer(settings: Settings, clock: Clock) -> tuple[Engine, Lease, GroupCommitter]:
    """The process's one writer: durable units and audit rows alike (service/storage/commits.py),
    on an engine of its own; one process of the cluster prunes expired jtis and sign-in counts
    under `jti-pruning`, not every worker."""
    writer_engine = make_engine(
        settings.database_url,
        sqlite_busy_timeout_s=0,
        pool=PoolLimits.for_writer(settings),
        sqlite_begin="BEGIN IMMEDIATE",
    )
    replay_lease = Lease(writer_engine, "jti-pruning")
    writer = GroupCommitter(
        session_factory(writer_engine),
        settings.audit_flush_interval_s,
        partial(_prune_replays, clock, replay_lease),
    )
    return writer_engine, replay_lease, writer


def _token_endpoint(
    settings: Settings,
    clock: Clock,
    registry: ClientRegistry,
    keys: KeyStore,
    writer: GroupCommitter,
    tokens: AccessTokens,
    fhir: FhirClient,
) -> TokenEndpoint:
    return TokenEndpoint(
        url=f"{settings.base_url.rstrip('/')}/auth/token",
        registry=registry,
        verifier=SignedJwtVerifier(keys, time_rules(settings), clock.time),
        first_use=lambda issuer, jti, expires_at: writer.commit(
            claim(issuer, jti, expires_at, clock.time)
        ),
        tokens=tokens,
        launches=IntrospectionCheck(fhir, clock.time, settings.introspection_timeout_s),
        system_lifetime_s=settings.access_token_lifetime_s,
        launch_lifetime_s=settings.app_token_lifetime_s,
    )


def _dispatcher(
    settings: Settings,
    clock: Clock,
    notifier: Notifier,
    sessions: sessionmaker[Session],
    writer: GroupCommitter,
    writer_engine: Engine,
) -> Dispatcher:
    return Dispatcher(
        notifier,
        sessions,
        writer,
        # One process of the cluster sends: the writer pool's second overflow connection.
        Lease(writer_engine, "notification-outbox"),
        clock,
        _retry(settings),
        settings.notification_poll_s,
    )


def _replay_cache(settings: Settings, clock: Clock) -> InMemoryReplayCache:
    return InMemoryReplayCache(
        clock.time, settings.replay_cache_entries, settings.replay_cache_entries_per_issuer
    )


def _retry(settings: Settings) -> Retry:
    return Retry(
        settings.notification_first_retry_s,
        settings.notification_longest_retry_s,
        settings.notification_retry_period_s,
    )


def _access_tokens(settings: Settings, clock: Clock) -> AccessTokens:
    base = settings.base_url.rstrip("/")
    key = settings.access_token_key.get_secret_value().encode()
    return AccessTokens(key, f"{base}/auth", f"{base}/fhir", clock.time)


def _prune_replays(clock: Clock, lease: Lease, session: Session) -> None:
    """Expired jtis and sign-in counts nothing depends on any more."""
    if lease.held():
        prune_expired(session, clock.time())
        prune_forgotten(session, clock.time())


async def get_runtime(request: Request) -> Runtime:
    """Async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a thread hop on
    every request for one attribute read."""
    runtime: Runtime = request.app.state.runtime
    return runtime
