"""The cards of an order-sign answer, the request's CRD configuration, and CRD 2.0.1 shapes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from service.crd.coverage_information import EXTENSION_URL
from tests.crd.test_answers import hook_request
from tests.support.cds_hooks_shape import response_problems

EXAMPLES = Path(__file__).resolve().parents[2] / "fhir_examples"
SIGN = "/cds-services/crd-order-sign"
TOPIC_2_2 = "http://terminology.hl7.org/CodeSystem/cdshooks-card-type"
TOPIC_2_0 = "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp"


V2_2 = {"davinci-crd.requestedVersion": "2.2"}


def _sign(client: TestClient, scenario: str, **extension: Any) -> dict[str, Any]:
    body = hook_request(EXAMPLES / scenario)
    if extension:
        body["extension"] = extension
    response = client.post(SIGN, json=body)
    assert response.status_code == 200, response.text
    assert response_problems(response.json()) == []
    result: dict[str, Any] = response.json()
    return result


def _by_topic(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {card["source"]["topic"]["code"]: card for card in body["cards"]}


def _details(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (action,) = body["systemActions"]
    (extension,) = [e for e in action["resource"]["extension"] if e["url"] == EXTENSION_URL]
    found = {}
    for part in extension["extension"]:
        if part["url"] == "detail":
            fields = {p["url"]: p for p in part["extension"]}
            found[fields["code"]["valueCodeableConcept"]["coding"][0]["code"]] = fields
    return found


def test_instructions_card_says_what_the_record_shows_and_what_the_form_asks(
    client: TestClient,
) -> None:
    cards = _by_topic(_sign(client, "01-consolidation-adult-record", **V2_2))
    instructions = cards["coverage-info"]
    assert instructions["indicator"] == "info"
    assert instructions["summary"].startswith("Prior authorization required")
    assert (
        "Philadelphia chromosome status: met (Philadelphia chromosome negative (Ph-))"
        in instructions["detail"]
    )
    assert "will ask: Treatment phase; Regimen" in instructions["detail"]
    assert "fax" in instructions["detail"]
    assert instructions["source"]["topic"]["system"] == TOPIC_2_2
    assert instructions["extension"]["davinci-crd.associated-resource"] == [
        {"reference": "MedicationRequest/blin"}
    ]
    assert set(cards) == {"coverage-info", "guideline"}, "no dose or off-policy warning here"


def test_dose_limit_card_with_the_arithmetic_and_a_suggestion(client: TestClient) -> None:
    card = _by_topic(_sign(client, "10-weight-44-9-kg-bsa-limit"))["limits"]
    assert card["indicator"] == "warning"
    assert "20.5 mcg/day" in card["summary"]
    assert "Ordered daily dose 28 mcg/day" in card["detail"] and "BSA 1.37 m²" in card["detail"]
    (suggestion,) = card["suggestions"]
    (action,) = suggestion["actions"]
    assert action["type"] == "update"
    rate = action["resource"]["dosageInstruction"][-1]["doseAndRate"][0]["rateQuantity"]
    assert (rate["value"], rate["code"]) == (20.5, "ug/d")
    assert action["resource"]["id"] == "blin"
    # CDS Hooks: a card with suggestions says how many may be taken; the suggested order says
    # the new dose in its text too (an EHR writes the order as suggested).
    assert card["selectionBehavior"] == "at-most-one"
    text = action["resource"]["dosageInstruction"][-1]["text"]
    assert "20.5 mcg/day" in text and "28" not in text
    assert card["source"]["topic"]["display"] == "Limits"


def test_allowed_quantity_detail_is_the_dose_limit(client: TestClient) -> None:
    details = _details(_sign(client, "10-weight-44-9-kg-bsa-limit", **V2_2))
    assert details["allowed-quantity"]["value"]["valueQuantity"]["value"] == 20.5
    assert details["allowed-quantity"]["category"]["valueCode"] == "cat-limitation"
    assert details["policy-link"]["value"]["valueUrl"].endswith("/policies/blinatumomab")
    assert "fax" in details["instructions"]["value"]["valueString"]


def test_off_policy_card_when_dx_is_not_met(client: TestClient) -> None:
    card = _by_topic(_sign(client, "03-other-malignancy-aml"))["off-guideline"]
    assert card["indicator"] == "warning"
    assert "C92.00" in card["detail"] and "1367.21" in card["detail"]


def test_policy_card_links_to_the_published_policy(client: TestClient) -> None:
    card = _by_topic(_sign(client, "01-consolidation-adult-record"))["guideline"]
    (link,) = card["links"]
    assert link["type"] == "absolute" and link["url"].startswith("http")
    document = client.get(link["url"].split("payer.example.org", 1)[1])
    assert document.status_code == 200
    assert "Blincyto" in document.text and "1367.21" in document.text
    assert client.get("/policies/nope").status_code == 404


def test_configuration_switches_card_types_off(client: TestClient) -> None:
    body = _sign(
        client, "10-weight-44-9-kg-bsa-limit", **{"davinci-crd.configuration": {"limits": False}}
    )
    assert "limits" not in _by_topic(body)
    body = _sign(
        client,
        "10-weight-44-9-kg-bsa-limit",
        **{"davinci-crd.configuration": {"coverage-info": False}},
    )
    assert body["systemActions"] == [] and "coverage-info" not in _by_topic(body)


def test_max_cards_keeps_the_most_important(client: TestClient) -> None:
    body = _sign(
        client, "10-weight-44-9-kg-bsa-limit", **{"davinci-crd.configuration": {"max-cards": 1}}
    )
    assert [c["source"]["topic"]["code"] for c in body["cards"]] == ["limits"]


def test_unknown_or_mistyped_options_are_ignored(client: TestClient) -> None:
    configuration = {
        "davinci-crd.configuration": {"limits": "no", "max-cards": -3, "made-up": True}
    }
    body = _sign(client, "10-weight-44-9-kg-bsa-limit", **configuration)
    assert set(_by_topic(body)) == {"limits", "coverage-info", "guideline"}


def test_crd_2_0_codes_and_shapes(client: TestClient) -> None:
    body = _sign(client, "10-weight-44-9-kg-bsa-limit", **{"davinci-crd.requestedVersion": "2.0.1"})
    assert {c["source"]["topic"]["system"] for c in body["cards"]} == {TOPIC_2_0}
    details = _details(body)
    assert set(details) == {"allowed-quantity"}, "2.0.1 knows no policy-link or instructions detail"
    assert "category" not in details["allowed-quantity"], "2.0.1 details have no category"


def test_topics_have_displays_and_2_2_details_the_tho_system(client: TestClient) -> None:
    body = _sign(client, "10-weight-44-9-kg-bsa-limit", **V2_2)
    assert {c["source"]["topic"]["display"] for c in body["cards"]} == {
        "Limits",
        "Coverage Information",
        "Guideline",
    }
    (action,) = body["systemActions"]
    systems = {
        p["valueCodeableConcept"]["coding"][0]["system"]
        for e in action["resource"]["extension"]
        for d in e["extension"]
        if d["url"] == "detail"
        for p in d["extension"]
        if p["url"] == "code"
    }
    assert systems == {"http://terminology.hl7.org/CodeSystem/crd-coverage-detail"}


def test_order_select_speaks_of_no_documentation(client: TestClient) -> None:
    """CRD hook-19: no instructions to submit anything at order-select, in any version."""
    body = hook_request(EXAMPLES / "10-weight-44-9-kg-bsa-limit")
    body["hook"] = "order-select"
    order = body["context"].pop("draftOrders")
    body["context"] |= {"draftOrders": order, "selections": ["MedicationRequest/blin"]}
    body["extension"] = V2_2
    answer = client.post("/cds-services/crd-order-select", json=body)
    assert answer.status_code == 200, answer.text
    assert "instructions" not in _details(answer.json())
    assert "coverage-info" not in _by_topic(answer.json())


def test_a_recorded_bsa_far_from_mosteller_is_flagged_on_the_card(client: TestClient) -> None:
    """SPEC section 2: a recorded BSA more than 10% off the computed one is flagged; the reviewer
    and the prescriber read it on the instructions card. A consistent record has no flag."""
    flagged = _by_topic(_sign(client, "16-recorded-bsa-far-from-computed", **V2_2))
    assert "Flag: the recorded body surface area is more than 10% away" in str(flagged)
    plain = _by_topic(_sign(client, "10-weight-44-9-kg-bsa-limit", **V2_2))
    assert "Flag:" not in str(plain)
