"""Settings that must never reach production, and the migrate step that must not care."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from service.app import create_app
from service.errors import ConfigurationError
from service.runtime import build_runtime
from service.settings import PROJECT_ROOT, Settings
from tests.conftest import make_settings
from tests.support.clock import examples_app


def test_auth_off_is_refused_outside_development() -> None:
    with pytest.raises(ValidationError, match="AUTH_MODE=off is for development only"):
        Settings(environment="production", auth_mode="off")
    assert Settings(environment="development", auth_mode="off").auth_mode == "off"


@pytest.mark.parametrize("key", ["development-only-access-token-key", "short-secret"])
def test_production_needs_a_real_access_token_key(key: str, tmp_path: Path) -> None:
    settings = Settings(
        environment="production",
        access_token_key=key,
        payer_identifiers=["urn:payer|P1"],
        database_url=f"sqlite:///{tmp_path / 'x.db'}",
    )
    with pytest.raises(ConfigurationError, match="ACCESS_TOKEN_KEY"):
        build_runtime(settings)


def test_production_needs_the_payer_identifiers(tmp_path: Path) -> None:
    """CRD hook-13: without them every payer's Coverage would pass for ours."""
    settings = Settings(
        environment="production",
        access_token_key="k" * 40,
        database_url=f"sqlite:///{tmp_path / 'x.db'}",
    )
    with pytest.raises(ConfigurationError, match="PAYER_IDENTIFIERS"):
        build_runtime(settings)


def test_migrate_ignores_serving_settings(tmp_path: Path) -> None:
    """`EVALUATION_DATE=2026-11-24 make run` used to stop in its migrate step (issue 14)."""
    env = {k: v for k, v in os.environ.items() if k not in ("ENVIRONMENT", "AUTH_MODE")} | {
        "EVALUATION_DATE": "2026-11-24",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'service.db'}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "service", "migrate"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "service.db").exists()


def _production(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "production",
        "access_token_key": STRONG_KEY,
        "audit_hash_key": STRONG_KEY[::-1],
        "payer_identifiers": ["urn:payer|P1"],
        "base_url": "https://payer.example.org",
        "database_url": f"sqlite:///{tmp_path / 'x.db'}",
    }
    return Settings(**(values | overrides))


STRONG_KEY = "4f0c9a7e1b2d8c3f6a5e0d9b7c1a2f3e8d4b6c0a"


@pytest.mark.parametrize(
    ("override", "named"),
    [
        pytest.param(
            {"audit_hash_key": "development-only-audit-key"}, "AUDIT_HASH_KEY", id="dev-audit"
        ),
        pytest.param({"audit_hash_key": "a" * 40}, "AUDIT_HASH_KEY", id="one-letter-audit"),
        pytest.param({"access_token_key": "a" * 32}, "ACCESS_TOKEN_KEY", id="one-letter-token"),
        pytest.param(
            {"access_token_key": "replace-with-32-or-more-random-characters"},
            "ACCESS_TOKEN_KEY",
            id="placeholder",
        ),
        pytest.param({"bench_mode": True}, "BENCH_MODE", id="bench-mode"),
        pytest.param({"base_url": "http://payer.example.org"}, "BASE_URL", id="plain-http"),
    ],
)
def test_production_refuses_to_start_unsafe(
    tmp_path: Path, override: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigurationError, match=named):
        create_app(_production(tmp_path, **override))


def test_a_safe_production_app_serves_no_api_docs(database_url: str) -> None:
    """The API description is for development: in production it would map every route for
    whoever asks; the README's security section says so."""
    settings = make_settings(database_url, environment="production", payer_identifiers=["P1"])
    with TestClient(examples_app(settings)) as client:
        assert client.get("/health/live").status_code == 200
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert client.get(path).status_code == 404, path
        assert client.post("/bench/noop", content=b"{}").status_code in (404, 405)


def test_the_bench_environment_is_production_with_the_baseline(database_url: str) -> None:
    settings = make_settings(
        database_url, environment="bench", payer_identifiers=["P1"], bench_mode=True
    )
    with TestClient(examples_app(settings)) as client:
        assert client.post("/bench/noop", content=b"{}").status_code == 200
        assert client.get("/openapi.json").status_code == 404


def test_the_bench_environment_takes_plain_http_on_loopback_only(tmp_path: Path) -> None:
    create_app(_production(tmp_path, environment="bench", base_url="http://127.0.0.1:8080"))
    with pytest.raises(ConfigurationError, match="BASE_URL"):
        create_app(_production(tmp_path, environment="bench", base_url="http://payer.example.org"))
