"""PAS 2.0.1 ClaimResponse.error (must-support): a problem with one item of a request the payer
otherwise takes is reported in the response, not by refusing the request (spec-35: a refusal is
an OperationOutcome for a Bundle that cannot be processed). An item no policy of ours is about is
not adjudicated: it gets an error naming it, with X12 901 / 889 codes, and no item result."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

from fastapi.testclient import TestClient

from service.pas.claim_response import Decision, claim_response
from service.pas.submission import read_submission
from tests.dtr.test_responses import _completed
from tests.policy.test_scenarios import SCENARIOS
from tests.support.pas_profiles import PAS as PAS_PROFILES
from tests.support.pas_profiles import profile_issues
from tests.support.pas_requests import pas_bundle

SUBMIT = "/fhir/Claim/$submit"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
REQUESTED_SERVICE = (
    "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-requestedService"
)


def _with_an_item_for(bundle: dict[str, Any], code: str, text: str) -> dict[str, Any]:
    """The request with a second item: an order for another drug (RxNorm `code`)."""
    bundle = copy.deepcopy(bundle)
    claim = bundle["entry"][0]["resource"]
    (first,) = claim["item"]
    order = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "MedicationRequest"
    )
    other = copy.deepcopy(order)
    other["id"] = "other-drug"
    other["medicationCodeableConcept"] = {
        "coding": [{"system": RXNORM, "code": code}],
        "text": text,
    }
    other.pop("medicationReference", None)
    bundle["entry"].append(
        {
            "fullUrl": f"http://ehr.example.org/fhir/MedicationRequest/{other['id']}",
            "resource": other,
        }
    )
    second = copy.deepcopy(first)
    second["sequence"] = 2
    second["extension"] = [
        {
            "url": REQUESTED_SERVICE,
            "valueReference": {"reference": f"MedicationRequest/{other['id']}"},
        }
    ]
    second["productOrService"] = {"coding": [{"system": RXNORM, "code": code}]}
    claim["item"].append(second)
    return bundle


def _submit(client: TestClient, bundle: dict[str, Any]) -> dict[str, Any]:
    answer = client.post(SUBMIT, json=bundle)
    assert answer.status_code == 200, answer.text
    response: dict[str, Any] = answer.json()["entry"][0]["resource"]
    return response


def test_an_item_no_policy_is_about_is_an_error_not_a_refusal(client: TestClient) -> None:
    bundle = _with_an_item_for(pas_bundle(SCENARIOS[0], _completed(client)), "282388", "imatinib")
    response = _submit(client, bundle)
    assert [item["itemSequence"] for item in response["item"]] == [1]
    (error,) = response["error"]
    assert error["itemSequence"] == 2
    assert error["code"]["coding"] == [
        {"system": "https://codesystem.x12.org/005010/901", "code": "33", "display": "Input Errors"}
    ]
    parts = {e["url"].rsplit("-", 1)[-1]: e for e in error["extension"]}
    assert parts["errorPath"]["valueString"] == "Claim.item[1]"
    assert parts["errorFollowupAction"]["valueCodeableConcept"]["coding"][0]["code"] == "N"
    assert response["outcome"] == "queued", "item 1 is still pended for review"
    assert any("Item 2" in note["text"] for note in response["processNote"])
    assert profile_issues([(response, f"{PAS_PROFILES}profile-claimresponse")]) == [[]]


def test_the_same_request_again_keeps_its_error(client: TestClient) -> None:
    bundle = _with_an_item_for(pas_bundle(SCENARIOS[0], _completed(client)), "282388", "imatinib")
    first = _submit(client, bundle)
    again = _submit(client, bundle)
    assert again["id"] == first["id"] and again["error"] == first["error"]


def test_a_request_whose_every_item_is_ours_has_no_error(client: TestClient) -> None:
    """The check can fail the other way: the blinatumomab item twice is adjudicated twice."""
    bundle = pas_bundle(SCENARIOS[0], _completed(client))
    claim = bundle["entry"][0]["resource"]
    second = copy.deepcopy(claim["item"][0])
    second["sequence"] = 2
    claim["item"].append(second)
    response = _submit(client, bundle)
    assert "error" not in response
    assert [item["itemSequence"] for item in response["item"]] == [1, 2]


def test_an_approval_keeps_the_error_and_is_partial() -> None:
    """A decision on the rest of the request answers every item (spec-46): the adjudicated ones
    by their review action, the others by their error; complete with errors is `partial`."""
    submission = read_submission(
        _with_an_item_for(pas_bundle(SCENARIOS[0], None), "282388", "imatinib")
    )
    decision = Decision(
        "approved",
        preauth_ref="PA20261208-ABCDEF",
        period=(date(2026, 12, 8), date(2027, 12, 7)),
        not_adjudicated=(2,),
    )
    at = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    response = claim_response(submission, "r1", "https://payer.example.org", decision, at)
    assert response["outcome"] == "partial"
    assert [item["itemSequence"] for item in response["item"]] == [1]
    assert [error["itemSequence"] for error in response["error"]] == [2]
    assert profile_issues([(response, f"{PAS_PROFILES}profile-claimresponse")]) == [[]]
