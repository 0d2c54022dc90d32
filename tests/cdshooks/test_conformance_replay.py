"""Replays every request of the CRD conformance kit (../shared/conformance/crd) against the app.

Our services are order-sign, order-select and order-dispatch. The kit's other hooks
(appointment-book, encounter-start, encounter-discharge, a made-up one) go to the order-sign
service and must be refused with a 400 that names the mismatch: a drug policy has nothing to say
at those points (CRD hook-4 lets a server skip hooks that are not useful to it).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.settings import PROJECT_ROOT
from tests.support.cds_hooks_shape import response_problems

CONFORMANCE = PROJECT_ROOT.parent / "shared" / "conformance" / "crd"
SERVICE_FOR_HOOK = {
    "order-sign": "crd-order-sign",
    "order-select": "crd-order-select",
    "order-dispatch": "crd-order-dispatch",
}


def _requests() -> list[Any]:
    found = []
    files = sorted(CONFORMANCE.glob("requests/*.json")) + sorted(
        CONFORMANCE.glob("examples/*_hook_request.json")
    )
    for path in files:
        data = json.loads(path.read_text())
        bodies = data if isinstance(data, list) else [data]
        for index, body in enumerate(bodies):
            found.append(pytest.param(body, id=f"{path.parent.name}/{path.stem}[{index}]"))
    return found


REQUESTS = _requests()


def test_the_kit_is_there() -> None:
    assert len(REQUESTS) == 18, "the conformance material moved or changed"


@pytest.mark.parametrize("body", REQUESTS)
def test_replay(client: TestClient, body: dict[str, Any]) -> None:
    service = SERVICE_FOR_HOOK.get(body["hook"])
    response = client.post(f"/cds-services/{service or 'crd-order-sign'}", json=body)
    assert response.status_code < 500
    if service is None:
        assert response.status_code == 400
        outcome = response.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert body["hook"] in outcome["issue"][0]["diagnostics"]
    elif _names_unfetchable_order(body):
        # The dispatched order is neither prefetched nor on a FHIR server we may call.
        assert response.status_code == 412
        assert response.json()["resourceType"] == "OperationOutcome"
    else:
        assert response.status_code == 200, response.text
        assert response_problems(response.json()) == []
        # None of the kit's orders is a blinatumomab order: nothing to say about them.
        assert response.json() == {"cards": [], "systemActions": []}


def _names_unfetchable_order(body: dict[str, Any]) -> bool:
    return body["hook"] == "order-dispatch" and "order" not in (body.get("prefetch") or {})


def test_unknown_fields_are_ignored(client: TestClient) -> None:
    body = json.loads((CONFORMANCE / "requests" / "order_sign_request_bodies.json").read_text())[0]
    body["somethingNew"] = {"nested": [1, 2]}
    body["context"]["alsoNew"] = "x"
    response = client.post("/cds-services/crd-order-sign", json=body)
    assert response.status_code == 200
