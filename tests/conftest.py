"""Shared fixtures: settings on a temporary, migrated database (SQLite, or PostgreSQL with
TEST_DATABASE=postgresql), and an app client."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from service.settings import Settings
from service.storage.db import make_engine, session_factory
from service.storage.migrate import upgrade
from tests.support.clock import EXAMPLES_DATE, ManualClock
from tools import postgres

# TEST_DATABASE=postgresql (make test-postgresql): every test that takes `database_url` gets a
# fresh database on a throwaway PostgreSQL server, copied from one migrated by the same Alembic
# migrations. Default: a fresh migrated SQLite file per test.
ON_POSTGRESQL = os.environ.get("TEST_DATABASE") == "postgresql"
# Production refuses a key that is short, repetitive or the development default.
ACCESS_TOKEN_KEY = "test-access-token-key-7c1e94b02fd8a365"


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[str | None]:
    if not ON_POSTGRESQL:
        yield None
        return
    if not postgres.available():
        pytest.fail("TEST_DATABASE=postgresql but no PostgreSQL server: apt-get install postgresql")
    with postgres.server() as server:
        template = postgres.create_database(server, "migrated")
        upgrade(template)
        make_engine(template).dispose()
        yield server


@pytest.fixture
def database_url(tmp_path: Path, postgresql_server: str | None) -> str:
    if postgresql_server is not None:
        name = f"t_{uuid.uuid4().hex[:12]}"
        return postgres.create_database(postgresql_server, name, template="migrated")
    url = f"sqlite:///{tmp_path / 'service.db'}"
    upgrade(url)
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "development",
        # Production refuses AUTH_MODE=off and the development token key.
        "auth_mode": "off"
        if overrides.get("environment", "development") == "development"
        else "jwt",
        "access_token_key": ACCESS_TOKEN_KEY,
        "audit_hash_key": "test-audit-hash-key-a83f10c6e29d47b5",
        "database_url": database_url,
        # The published canonical base is BASE_URL + /fhir (service/policy/canonical.py): the
        # tests' payer is the one the policy folder is written for, so URLs read as authored.
        "base_url": "https://payer.example.org",
        "audit_flush_interval_s": 0.05,
        "prefetch_budget_ms": 1500,
    }
    if overrides.get("environment", "development") == "development":
        # The examples' "today" for the policy, also where a server runs on the system clock.
        values["evaluation_date"] = EXAMPLES_DATE
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def clock() -> ManualClock:
    """The app's clock, at the examples' noon until a test moves it."""
    return ManualClock()


@pytest.fixture
def client(settings: Settings, clock: ManualClock) -> Iterator[TestClient]:
    from tests.support.clock import examples_app

    with TestClient(examples_app(settings, clock), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on the test's database; the engine is disposed afterwards."""
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def secured(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[TestClient]:
    """The app with client authentication on and one registered EHR (EHR_A)."""
    from tests.support.clients import BASE, EHR_A, registry_file
    from tests.support.clock import examples_app

    settings = make_settings(
        database_url,
        auth_mode="jwt",
        base_url=BASE,
        smart_clients_file=registry_file(tmp_path, EHR_A),
    )
    with TestClient(examples_app(settings, clock), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def empty_database_url(tmp_path: Path, postgresql_server: str | None) -> str:
    """A database nothing has been done to: no tables, no alembic_version."""
    if postgresql_server is not None:
        return postgres.create_database(postgresql_server, f"e_{uuid.uuid4().hex[:12]}")
    return f"sqlite:///{tmp_path / 'empty.db'}"
