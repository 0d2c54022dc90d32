"""Every answer carries a request id; the access line and every log line written meanwhile carry
it too; the query string (patient ids in searches) and the Authorization header never do."""

from __future__ import annotations

import io
import json
import logging

from fastapi.testclient import TestClient

from service.logs import JsonFormatter


def _capture() -> tuple[logging.Handler, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(handler)
    logging.getLogger("service.access").setLevel(logging.INFO)
    return handler, stream


def test_a_request_id_is_made_echoed_and_logged(client: TestClient) -> None:
    handler, stream = _capture()
    try:
        answer = client.get(
            "/fhir/ValueSet?url=https://x.example/secret-patient-123",
            headers={"Authorization": "Bearer sekret-token-value"},
        )
    finally:
        logging.getLogger().removeHandler(handler)
    request_id = answer.headers["x-request-id"]
    assert len(request_id) == 32
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    (access,) = [line for line in lines if line["logger"] == "service.access"]
    assert access["request_id"] == request_id
    assert access["message"] == "GET /fhir/ValueSet 200" and access["status"] == 200
    assert "secret-patient-123" not in stream.getvalue()
    assert "sekret-token-value" not in stream.getvalue()


def test_a_plain_caller_id_is_kept_and_anything_else_replaced(client: TestClient) -> None:
    kept = client.get("/cds-services", headers={"X-Request-ID": "ehr-42.a_b"})
    assert kept.headers["x-request-id"] == "ehr-42.a_b"
    replaced = client.get("/cds-services", headers={"X-Request-ID": "x" * 65})
    assert replaced.headers["x-request-id"] != "x" * 65
    injected = client.get("/cds-services", headers={"X-Request-ID": 'a"}\n{"level":"ERROR'})
    assert len(injected.headers["x-request-id"]) == 32
