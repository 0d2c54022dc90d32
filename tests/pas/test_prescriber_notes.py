"""What the ClaimResponse tells the prescriber in words: a pended request says when its decision
is due (the due time the workbench shows), and a denial says whom to ask for reconsideration
(RECONSIDERATION_CONTACT)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from service.settings import Settings
from tests.pas.test_submit import INQUIRE
from tests.pas.test_workbench import _decide, _sign_in, _submit
from tests.support.clock import ManualClock
from tests.support.pas_requests import inquiry_bundle


def _notes(claim_response: dict[str, Any]) -> list[str]:
    return [note["text"] for note in claim_response.get("processNote", [])]


def test_a_pended_request_says_when_its_decision_is_due(
    client: TestClient, clock: ManualClock
) -> None:
    bundle, _ = _submit(client)
    current = client.post(INQUIRE, json=inquiry_bundle(bundle)).json()["entry"][0]["resource"]
    due = clock.now() + timedelta(days=7)
    assert _notes(current) == [
        "Pended for clinical review: every request is reviewed. The decision is due by"
        f" {due:%Y-%m-%d %H:%M} UTC."
    ]


def test_a_denial_says_whom_to_ask_for_reconsideration(
    client: TestClient, settings: Settings
) -> None:
    bundle, case_id = _submit(client)
    _sign_in(client)
    assert _decide(client, case_id, action="deny", reason="DOSE", note="Over 28").status_code == 303
    denied = client.post(INQUIRE, json=inquiry_bundle(bundle)).json()["entry"][0]["resource"]
    assert _notes(denied) == [
        "Over 28",
        f"To ask for reconsideration: {settings.reconsideration_contact}.",
    ]
