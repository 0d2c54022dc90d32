"""Settings that must never reach production, and the migrate step that must not care."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from service.errors import ConfigurationError
from service.runtime import build_runtime
from service.settings import PROJECT_ROOT, Settings


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
