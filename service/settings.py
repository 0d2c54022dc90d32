"""Every knob of the service: one environment variable each, with a safe default.

Lists are comma-separated in the environment (`FHIR_SERVER_ALLOWLIST=https://ehr.example.org/fhir,...`).
"""

from __future__ import annotations

import ipaddress
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

CommaList = Annotated[list[str], NoDecode]


class DatabaseSettings(BaseSettings):
    """What `python -m service migrate` needs, and nothing else: a migration must not fail on a
    setting that only serving checks (EVALUATION_DATE outside development, say)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'service.db'}"
    log_level: str = "INFO"
    # Connections per worker process on PostgreSQL: the request pool holds DB_POOL_SIZE and
    # opens up to DB_MAX_OVERFLOW more under load; the writer holds one more, and one process
    # in the cluster one more for the periodic jobs. README "Replicas" has the arithmetic against
    # max_connections. SQLite ignores them.
    db_pool_size: int = Field(default=5, ge=1)
    db_max_overflow: int = Field(default=5, ge=0)
    # How long a request waits for a free pooled connection before it is answered 503.
    db_pool_timeout_s: float = Field(default=10.0, gt=0)
    # How long a new PostgreSQL connection may take: a database that does not answer gives 503
    # and a failed readiness within this, not after the operating system's TCP timeout.
    db_connect_timeout_s: int = Field(default=5, ge=1)


class Settings(DatabaseSettings):
    # `bench`: production in every respect but one, BENCH_MODE is allowed (bench/run.py).
    environment: Literal["development", "production", "bench"] = "production"
    host: str = "127.0.0.1"
    port: int = 8080
    # uvicorn worker processes for `python -m service serve` (each loads and compiles the policy).
    workers: int = Field(default=1, ge=1)
    # On SIGTERM: readiness answers 503 and every answer closes its connection for this long,
    # while the load balancer takes the replica out; then uvicorn stops accepting and waits up
    # to GRACEFUL_SHUTDOWN_TIMEOUT_S for the requests in flight.
    drain_seconds: float = Field(default=5.0, ge=0)
    graceful_shutdown_timeout_s: int = Field(default=20, ge=0)
    # Idle keep-alive connections are closed after this; keep it above the reverse proxy's own
    # idle timeout, so the proxy, not us, closes an idle connection (no request meets a close).
    keep_alive_timeout_s: int = Field(default=75, ge=1)
    # The URL EHRs call us at: the JWT `aud` and the base of every canonical URL we publish.
    base_url: str = "http://127.0.0.1:8080"
    policy_dir: Path = PROJECT_ROOT / "policies"
    # The CQL libraries the policies share (*.cql, FHIRHelpers) and their translation (elm/*.json);
    # each policy's own library is in its folder's cql/. All loaded and compiled at start-up.
    cql_dir: Path = PROJECT_ROOT / "cql"
    # The built SMART app (`make run` / `make test` build it from service/web/src), served at /dtr/.
    web_dir: Path = PROJECT_ROOT / "service" / "web" / "dist"

    payer_name: str = "Example Health Plan"
    # Who a prescriber asks to reconsider a denial: a note on every denied ClaimResponse, shown by
    # the prescriber's app beside the reason. The default is a placeholder: set the payer's own.
    reconsideration_contact: str = (
        "the plan's prior-authorization line on the member's card (peer-to-peer review or"
        " reconsideration: ask within 60 days of the denial)"
    )
    # Coverage.payor identifiers ("system|value" or bare "value") that this endpoint answers for.
    # Required in production (CRD hook-13); empty, in development only, accepts the single
    # active Coverage given.
    payer_identifiers: CommaList = Field(default_factory=list)

    # `off`: no client authentication on CRD or DTR, for local work only (refused in production).
    auth_mode: Literal["jwt", "off"] = "jwt"
    # The registry of trusted EHR clients (service/auth/clients.py): one JSON file, read at
    # start-up, from which both CDS Hooks JWTs (by `iss`) and the DTR token endpoint (by
    # `client_id`) take their trust. The three JWT_* settings below still work: each trusted
    # issuer becomes a client whose client_id is its `iss`.
    smart_clients_file: Path | None = None
    # The clinical reviewers who may sign in to the workbench at /review (auth/reviewers.py):
    # {"reviewers": [{"username", "name", "passwordHash"}]}. Unset: nobody can sign in.
    reviewers_file: Path | None = None
    jwt_trusted_issuers: CommaList = Field(default_factory=list)
    jwt_jku_allowlist: CommaList = Field(default_factory=list)
    # A JWK Set agreed out of band (CDS Hooks: when the client sends no `jku`).
    jwt_jwks_file: Path | None = None
    jwt_leeway_s: int = 30
    jwt_max_lifetime_s: int = 300
    jwks_cache_ttl_s: int = 300
    # Key of the HMAC (HS256) that signs the access tokens our token endpoint issues; only this
    # service reads them, and every worker and replica must share the key. Set it in production.
    access_token_key: SecretStr = SecretStr("development-only-access-token-key")
    # SMART Backend Services tokens (client_credentials) and the prescriber app's launch tokens.
    access_token_lifetime_s: int = Field(default=300, ge=30, le=3600)
    app_token_lifetime_s: int = Field(default=900, ge=30, le=3600)
    # How long hook answers, coverage assertions, questionnaire responses and audit entries are
    # kept (`python -m service prune` deletes what is older). Ten years: the longest retention
    # a US health plan is commonly held to for prior-authorization records (Medicare Advantage,
    # 42 CFR 422.504(d)); HIPAA's six years for documentation is shorter.
    retention_days: int = Field(default=3650, ge=1)

    # Browser origins that may call us (CDS Hooks: CORS for browser-based CDS clients; DTR apps
    # served elsewhere). None by default; `make run` adds the sandbox EHR's.
    cors_allowed_origins: CommaList = Field(default_factory=list)
    # FHIR servers we may call back. Loopback is added in development only.
    fhir_server_allowlist: CommaList = Field(default_factory=list)
    # One budget for all fetches of one hook call. CRD expects an answer within 5 s 90% of the
    # time (STU 2.0.1 "Performance"; STU 2.2 found-2; 10 s for some order-sign calls): 4 s of
    # it for reading the record leaves 1 s for evaluating, storing and the network.
    prefetch_budget_ms: int = Field(default=4000, ge=1)
    fetch_max_bytes: int = 10 * 1024 * 1024
    # Each call the token exchange makes to an EHR (its smart-configuration, its token
    # introspection): the prescriber waits on them.
    introspection_timeout_s: float = Field(default=3.0, gt=0, le=10)
    max_body_bytes: int = 8 * 1024 * 1024

    # Subscriptions a client may hold at once (not ended): each costs a handshake when made and
    # a delivery per decision, so an unbounded number multiplies our outbound posts.
    max_subscriptions_per_client: int = Field(default=20, ge=1)

    # Reviewer sign-in (service/auth/login_throttle.py), per username and per client address,
    # counted in the shared database so every worker and replica holds the same count: after
    # LOGIN_USERNAME_FAILURES failed attempts for one username within LOGIN_FAILURE_WINDOW_S (or
    # LOGIN_ADDRESS_FAILURES from one address), the next attempt and every one for
    # LOGIN_LOCKOUT_S after it is refused (429) before any password is checked; each further
    # lockout doubles, up to LOGIN_LOCKOUT_MAX_S. Signing in clears the username's count.
    login_username_failures: int = Field(default=10, ge=1)
    login_address_failures: int = Field(default=100, ge=1)
    login_failure_window_s: float = Field(default=900.0, gt=0)
    login_lockout_s: float = Field(default=60.0, gt=0)
    login_lockout_max_s: float = Field(default=3600.0, gt=0)
    # Password checks one worker runs at once: each takes Argon2id's 64 MiB. A sign-in that
    # finds them busy waits up to LOGIN_CHECK_WAIT_S, then is answered 503 with Retry-After.
    login_concurrent_checks: int = Field(default=2, ge=1)
    login_check_wait_s: float = Field(default=2.0, ge=0)
    # Reverse proxies (addresses or networks) whose X-Forwarded-For names the client for the
    # sign-in throttle. Empty (the default): the connection's own peer is the client, and the
    # header is ignored, as anyone can send it.
    trusted_proxies: CommaList = Field(default_factory=list)

    # Each worker's cache of CDS Hooks `jti`s (service/auth/replay.py) holds at most
    # REPLAY_CACHE_ENTRIES, of which one issuer at most REPLAY_CACHE_ENTRIES_PER_ISSUER; beyond
    # them the shared database alone decides, as it always does in the end.
    replay_cache_entries: int = Field(default=100_000, ge=1)
    replay_cache_entries_per_issuer: int = Field(default=10_000, ge=1)

    audit_flush_interval_s: float = 1.0
    # Key of the HMAC that replaces patient ids in the audit log. Set it in production.
    audit_hash_key: SecretStr = SecretStr("development-only-audit-key")
    # Fixes "today" for criteria (age, 30-day weight window, coverage period) so the dated example
    # records give the same answers on any day: demos and browser tests only, refused elsewhere.
    evaluation_date: date | None = None
    # Decision notifications (service/pas/outbox.py): an event not delivered is tried again after
    # NOTIFICATION_FIRST_RETRY_S, the pause doubling up to NOTIFICATION_LONGEST_RETRY_S, for
    # NOTIFICATION_RETRY_PERIOD_S after the decision (a day), then given up ($inquire still has
    # the decision). The outbox is looked at every NOTIFICATION_POLL_S: how soon a replica takes
    # over the sending from one that died.
    notification_first_retry_s: float = Field(default=2.0, gt=0)
    notification_longest_retry_s: float = Field(default=300.0, gt=0)
    notification_retry_period_s: float = Field(default=86400.0, gt=0)
    notification_poll_s: float = Field(default=1.0, gt=0)
    # Benchmarks only (bench/run.py): POST /bench/noop, this app answering the same payload with
    # no work, the baseline every latency is divided by. Refused unless ENVIRONMENT is
    # development or bench.
    bench_mode: bool = False

    @field_validator(
        "payer_identifiers",
        "jwt_trusted_issuers",
        "jwt_jku_allowlist",
        "fhir_server_allowlist",
        "cors_allowed_origins",
        "trusted_proxies",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)  # ValueError names the bad entry
        return value

    @property
    def is_development(self) -> bool:
        return self.environment == "development"

    @model_validator(mode="after")
    def _evaluation_date_only_in_development(self) -> Settings:
        if self.evaluation_date is not None and not self.is_development:
            raise ValueError("EVALUATION_DATE is for development and tests only")
        return self

    @model_validator(mode="after")
    def _no_open_door_in_production(self) -> Settings:
        if self.auth_mode == "off" and not self.is_development:
            raise ValueError("AUTH_MODE=off is for development only (ENVIRONMENT=development)")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
