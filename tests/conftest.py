"""Shared fixtures: settings on a temporary, migrated SQLite database, and an app client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.settings import Settings
from service.storage.migrate import upgrade


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'service.db'}"
    upgrade(url)
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "development",
        "auth_mode": "off",
        "database_url": database_url,
        "audit_flush_interval_s": 0.05,
        "prefetch_budget_ms": 1500,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    from service.app import create_app

    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client
