"""The payer's token exchange against the sandbox EHR as a process, with tokens from a real EHR
launch (no browser needed: the launch's HTTP steps are the app's): the launch's own patient is
granted; a launch for 01-pat traded for 02-pat, and a user-level EHR token that reads every
patient, are refused, since the EHR's token introspection names no such launch."""

from __future__ import annotations

import httpx

from tests.browser.conftest import ADMIN_TOKEN, Stack


def _exchange(stack: Stack, subject_token: str, patient: str) -> httpx.Response:
    return httpx.post(
        f"{stack.payer}/auth/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": subject_token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "fhir_server": f"{stack.ehr}/fhir",
            "patient": patient,
        },
        timeout=10,
    )


def test_a_launch_is_traded_for_its_own_patient_only(stack: Stack) -> None:
    launch = stack.launch_token("01-pat")
    granted = _exchange(stack, launch, "01-pat")
    assert granted.status_code == 200, granted.text
    assert granted.json()["patient"] == "01-pat"
    refused = _exchange(stack, launch, "02-pat")
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_a_user_level_ehr_token_is_no_launch(stack: Stack) -> None:
    """The sandbox's admin token reads every patient's record, and names no launch patient."""
    assert stack.ehr_read("Patient/02-pat").status_code == 200
    for patient in ("01-pat", "02-pat"):
        refused = _exchange(stack, ADMIN_TOKEN, patient)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
