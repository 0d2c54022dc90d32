"""DTR fixtures: the app with client authentication on, one registered EHR (EHR_A)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.conftest import make_settings
from tests.support.clients import BASE, EHR_A, registry_file


@pytest.fixture
def secured(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(
        database_url,
        auth_mode="jwt",
        base_url=BASE,
        smart_clients_file=registry_file(tmp_path, EHR_A),
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client
