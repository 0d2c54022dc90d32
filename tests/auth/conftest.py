"""Auth fixtures: a reviewers file with one reviewer, and the app that signs them in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from tests.conftest import make_settings
from tests.pas.conftest import PASSWORD
from tests.support.clock import ManualClock, examples_app


@pytest.fixture
def reviewers_file(tmp_path: Path) -> Path:
    path = tmp_path / "reviewers.json"
    # Argon2id at a test's cost (the hash carries its parameters): the throttle is what is tested.
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    reviewer = {"username": "rn.lee", "name": "R. Lee, RN", "passwordHash": cheap}
    path.write_text(json.dumps({"reviewers": [reviewer]}))
    return path


def reviewer_app(
    database_url: str,
    reviewers_file: Path,
    clock: ManualClock,
    peer: tuple[str, int] = ("203.0.113.7", 50000),
    **settings: Any,
) -> TestClient:
    """The app with one reviewer, over https as its BASE_URL is, called from `peer`."""
    configured = make_settings(database_url, reviewers_file=reviewers_file, **settings)
    return TestClient(
        examples_app(configured, clock),
        base_url="https://testserver",
        raise_server_exceptions=False,
        client=peer,
    )
