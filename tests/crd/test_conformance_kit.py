"""Every example scenario on all three order hooks, in CRD 2.0.1 (not asked for) and 2.2 (asked
for), checked as the public conformance kit checks a CRD server's answers: a 200 holding cards
and systemActions that keep the CDS Hooks rules; each coverage-information extension valid for
its version (2.0.1: against the StructureDefinition of the 2.0.1 package; both: the version's
crd-ci invariants, which the service checks on every extension it builds)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.crd.coverage_information import EXTENSION_URL, check_invariants
from service.crd.versions import SUPPORTED
from tests.crd.test_answers import hook_request
from tests.crd.test_crd_2_0_profile import problems as problems_2_0_1
from tests.policy.test_scenarios import SCENARIOS
from tests.support.cds_hooks_shape import response_problems

HOOKS = ["order-sign", "order-select", "order-dispatch"]
VERSIONS = [None, "2.2"]  # None: a 2.0.1 client, which has no requestedVersion to send


def _request(folder: Path, hook: str, version: str | None) -> dict[str, Any]:
    body = copy.deepcopy(hook_request(folder))
    order = body["context"]["draftOrders"]["entry"][0]["resource"]
    reference = f"{order['resourceType']}/{order['id']}"
    body["hook"] = hook
    if hook == "order-select":
        body["context"]["selections"] = [reference]
    if hook == "order-dispatch":
        # The kit's form of order-dispatch: the order named in context.order, prefetched as `order`.
        body["context"] = {
            "patientId": body["context"]["patientId"],
            "order": reference,
            "performer": "Practitioner/performer",
        }
        body["prefetch"]["order"] = order
    if version is not None:
        body["extension"] = {"davinci-crd.requestedVersion": version}
    return body


@pytest.mark.parametrize("version", VERSIONS, ids=["2.0.1", "2.2"])
@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize("folder", SCENARIOS, ids=[f.name for f in SCENARIOS])
def test_answers_pass_the_kit_checks(
    client: TestClient, folder: Path, hook: str, version: str | None
) -> None:
    answer = client.post(f"/cds-services/crd-{hook}", json=_request(folder, hook, version))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert response_problems(body) == []
    crd = SUPPORTED["2.2" if version else "2.0"]
    extensions = [
        e
        for action in body["systemActions"]
        for e in action["resource"].get("extension", [])
        if e["url"] == EXTENSION_URL
    ]
    assert extensions, "every in-scope order carries coverage information"
    for extension in extensions:
        check_invariants(extension, crd)
        if version is None:
            assert problems_2_0_1(extension) == []
    topics = {card["source"]["topic"]["system"] for card in body["cards"]}
    assert topics <= {crd.card_type_system}
