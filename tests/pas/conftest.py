"""PAS fixtures: the app with one clinical reviewer (REVIEWERS_FILE), reached over https as its
BASE_URL is (the session cookie is Secure)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.auth.reviewers import hash_password
from service.settings import Settings
from tests.conftest import make_settings
from tests.support.clock import ManualClock

PASSWORD = "correct horse battery staple"


@pytest.fixture
def reviewers_file(tmp_path: Path) -> Path:
    path = tmp_path / "reviewers.json"
    reviewers = [
        {"username": "rn.lee", "name": "R. Lee, RN", "passwordHash": hash_password(PASSWORD)}
    ]
    path.write_text(json.dumps({"reviewers": reviewers}))
    return path


@pytest.fixture
def client(database_url: str, reviewers_file: Path, clock: ManualClock) -> Iterator[TestClient]:
    from tests.support.clock import examples_app

    settings: Settings = make_settings(database_url, reviewers_file=reviewers_file)
    # https: the service's BASE_URL is https, so its session cookie is Secure.
    app = examples_app(settings, clock)
    with TestClient(
        app, base_url="https://testserver", raise_server_exceptions=False
    ) as test_client:
        yield test_client
