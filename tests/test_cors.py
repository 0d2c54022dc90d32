"""CORS (CDS Hooks "Cross-Origin Resource Sharing"): browser-based CDS clients may call us from the
origins a setting names, and from no other; by default, none."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import make_settings
from tests.support.clock import examples_app

ALLOWED = "http://127.0.0.1:8090"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


def test_a_preflight_from_an_allowed_origin_passes(database_url: str) -> None:
    settings = make_settings(database_url, cors_allowed_origins=[ALLOWED])
    with TestClient(examples_app(settings)) as client:
        answer = client.options(
            "/cds-services/crd-order-sign", headers={"Origin": ALLOWED, **PREFLIGHT}
        )
        discovery = client.get("/cds-services", headers={"Origin": ALLOWED})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == ALLOWED
    assert "authorization" in answer.headers["access-control-allow-headers"].lower()
    assert discovery.headers["access-control-allow-origin"] == ALLOWED


def test_other_origins_get_no_cors_headers(database_url: str) -> None:
    settings = make_settings(database_url, cors_allowed_origins=[ALLOWED])
    with TestClient(examples_app(settings)) as client:
        answer = client.options(
            "/cds-services/crd-order-sign", headers={"Origin": "https://evil.test", **PREFLIGHT}
        )
    assert answer.status_code == 400
    assert "access-control-allow-origin" not in answer.headers


def test_no_origin_is_allowed_by_default(client: TestClient) -> None:
    answer = client.get("/cds-services", headers={"Origin": ALLOWED})
    assert "access-control-allow-origin" not in answer.headers
