"""Updates and cancellations (PAS profile-claim-update): the same Claim identifier with changes
marked is reviewed again; every item cancelled cancels the request; a Claim that replaces another
closes it; a denied or cancelled request is final; an unchanged repeat stays the same request."""

from __future__ import annotations

import copy
from typing import Any

from fastapi.testclient import TestClient

from tests.pas.test_submit import INQUIRE, SUBMIT, _action
from tests.pas.test_workbench import _decide, _sign_in, _submit
from tests.policy.test_scenarios import SCENARIOS
from tests.support.pas_requests import PAS, inquiry_bundle, pas_bundle

CANCELLED = {
    "url": f"{PAS}/StructureDefinition/modifierextension-infoCancelled",
    "valueBoolean": True,
}
CHANGED = {"url": f"{PAS}/StructureDefinition/extension-infoChanged", "valueCode": "changed"}


def _changed(
    bundle: dict[str, Any], mark: dict[str, Any], modifier: bool = False
) -> dict[str, Any]:
    changed = copy.deepcopy(bundle)
    item = changed["entry"][0]["resource"]["item"][0]
    item.setdefault("modifierExtension" if modifier else "extension", []).append(mark)
    return changed


def _current(client: TestClient, bundle: dict[str, Any]) -> dict[str, Any]:
    answer = client.post(INQUIRE, json=inquiry_bundle(bundle))
    assert answer.status_code == 200, answer.text
    current: dict[str, Any] = answer.json()["entry"][0]["resource"]
    return current


def test_cancelling_every_item_cancels_the_request(client: TestClient) -> None:
    bundle, case_id = _submit(client)
    answer = client.post(SUBMIT, json=_changed(bundle, CANCELLED, modifier=True))
    assert answer.status_code == 200, answer.text
    cancelled = answer.json()["entry"][0]["resource"]
    assert (cancelled["id"], cancelled["outcome"], _action(cancelled)) == (case_id, "complete", "C")
    assert _action(_current(client, bundle)) == "C"
    _sign_in(client)
    assert f'data-case="{case_id}"' not in client.get("/review").text.split("Decided lately")[0]
    again = client.post(SUBMIT, json=_changed(bundle, CHANGED))
    assert again.status_code == 422 and "final" in again.text


def test_an_update_is_reviewed_again(client: TestClient) -> None:
    bundle, case_id = _submit(client)
    _sign_in(client)
    assert _decide(client, case_id, action="approve").status_code == 303
    assert _action(_current(client, bundle)) == "A1"
    updated = client.post(SUBMIT, json=_changed(bundle, CHANGED))
    assert updated.status_code == 200, updated.text
    pended = updated.json()["entry"][0]["resource"]
    assert (pended["id"], _action(pended), pended["outcome"]) == (case_id, "A4", "queued")
    assert "preAuthRef" not in pended
    case = client.get(f"/review/cases/{case_id}").text
    assert 'data-action="update"' in case and 'data-action="approve"' in case


def test_an_unchanged_repeat_changes_nothing(client: TestClient) -> None:
    bundle, case_id = _submit(client)
    _sign_in(client)
    _decide(client, case_id, action="deny", reason="DOSE")
    repeat = client.post(SUBMIT, json=bundle).json()["entry"][0]["resource"]
    assert _action(repeat) == "A3"  # the stored answer, not a new case


def test_a_replacement_closes_the_request_it_replaces(client: TestClient) -> None:
    first, first_id = _submit(client, identifier="claim-1")
    second = pas_bundle(SCENARIOS[0], None, identifier="claim-2")
    second["entry"][0]["resource"]["related"] = [
        {
            "claim": {
                "identifier": {"system": "https://ehr.example.org/claims", "value": "claim-1"}
            },
            "relationship": {"coding": [{"code": "replaces"}]},
        }
    ]
    answer = client.post(SUBMIT, json=second)
    assert answer.status_code == 200, answer.text
    assert answer.json()["entry"][0]["resource"]["id"] != first_id
    assert _action(_current(client, first)) == "C"
    assert _action(_current(client, second)) == "A4"


def test_changing_what_is_not_known_is_a_422(client: TestClient) -> None:
    bundle = pas_bundle(SCENARIOS[0], None, identifier="never-sent")
    answer = client.post(SUBMIT, json=_changed(bundle, CANCELLED, modifier=True))
    assert answer.status_code == 422 and "nothing to cancel" in answer.text
    bundle["entry"][0]["resource"]["related"] = [
        {
            "claim": {"identifier": {"system": "x", "value": "ghost"}},
            "relationship": {"coding": [{"code": "replaces"}]},
        }
    ]
    replaced = client.post(SUBMIT, json=bundle)
    assert replaced.status_code == 422 and "not known" in replaced.text


def test_updating_what_is_not_known_is_a_422(client: TestClient) -> None:
    """An update names a request by its Claim identifier: one never sent is not a new request
    (as cancel and replace are not)."""
    bundle = pas_bundle(SCENARIOS[0], None, identifier="never-sent")
    answer = client.post(SUBMIT, json=_changed(bundle, CHANGED))
    assert answer.status_code == 422, answer.text
    assert "nothing to update" in answer.text
    assert client.post(INQUIRE, json=inquiry_bundle(bundle)).status_code == 404
