"""Two registered EHRs whose FHIR ids collide (same Patient, MedicationRequest and Coverage ids,
different people), through the HTTP API only: each gets its own assertion and its own patient's
pre-fill, neither reaches the other's pre-fill or stored responses, and nothing with patient data
answers without a token."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.crd.coverage_information import EXTENSION_URL
from tests.conftest import make_settings
from tests.crd.test_answers import hook_request
from tests.support.clients import BASE, EHR_A, EHR_B, Ehr, bearer, registry_file, system_token
from tests.support.clock import examples_app

EXAMPLES = Path(__file__).resolve().parents[2] / "fhir_examples"
ALL_PATIENT = EXAMPLES / "01-consolidation-adult-record"  # C91.01, B-ALL
AML_PATIENT = EXAMPLES / "03-other-malignancy-aml"  # C92.00
SIGN = "/cds-services/crd-order-sign"
PACKAGE = "/fhir/Questionnaire/$questionnaire-package"
RESPONSES = "/fhir/QuestionnaireResponse"


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> TestClient:
    settings = make_settings(
        database_url,
        auth_mode="jwt",
        base_url=BASE,
        smart_clients_file=registry_file(tmp_path, EHR_A, EHR_B),
    )
    with TestClient(examples_app(settings)) as test_client:
        yield test_client


def _sign(client: TestClient, ehr: Ehr, folder: Path) -> str:
    request = hook_request(folder) | {"fhirServer": ehr.fhir_server}
    answer = client.post(SIGN, json=request, headers=bearer(ehr.hook_token(f"{BASE}{SIGN}")))
    assert answer.status_code == 200, answer.text
    (action,) = answer.json()["systemActions"]
    (info,) = [e for e in action["resource"]["extension"] if e["url"] == EXTENSION_URL]
    return next(p["valueString"] for p in info["extension"] if p["url"] == "coverage-assertion-id")


def _package(client: TestClient, token: str, context: str) -> Any:
    body = {
        "resourceType": "Parameters",
        "parameter": [{"name": "context", "valueString": context}],
    }
    return client.post(PACKAGE, json=body, headers=bearer(token))


def _prefilled(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    bundle = answer.json()["parameter"][0]["resource"]
    return next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "QuestionnaireResponse"
    )


def _diagnosis(response: dict[str, Any]) -> str:
    def walk(items: list[dict[str, Any]]) -> str | None:
        for item in items:
            if item["linkId"] == "diagnosis-code" and item.get("answer"):
                code: str = item["answer"][0]["valueCoding"]["code"]
                return code
            found = walk(item.get("item", []))
            if found:
                return found
        return None

    found = walk(response["item"])
    assert found is not None
    return found


def _same_as_unknown(crossed: Any, unknown: Any, crossed_id: str, unknown_id: str) -> None:
    """No oracle: someone else's id is answered exactly like an id nobody was given."""
    assert crossed.status_code == unknown.status_code
    assert json.loads(crossed.text.replace(crossed_id, "ID")) == json.loads(
        unknown.text.replace(unknown_id, "ID")
    )


def test_the_ids_of_the_two_records_collide() -> None:
    for name in ("order.json",):
        a, b = (json.loads((f / name).read_text()) for f in (ALL_PATIENT, AML_PATIENT))
        assert (a["id"], a["subject"], a["insurance"]) == (b["id"], b["subject"], b["insurance"])
    assert (
        hook_request(ALL_PATIENT)["context"]["patientId"]
        == hook_request(AML_PATIENT)["context"]["patientId"]
    )


def test_each_ehr_sees_its_own_patient_and_only_that(client: TestClient) -> None:
    id_a, id_b = _sign(client, EHR_A, ALL_PATIENT), _sign(client, EHR_B, AML_PATIENT)
    assert id_a != id_b
    token_a, token_b = system_token(client, EHR_A), system_token(client, EHR_B)

    assert _diagnosis(_prefilled(_package(client, token_a, id_a))) == "C91.01"
    assert _diagnosis(_prefilled(_package(client, token_b, id_b))) == "C92.00"

    unknown = str(uuid.uuid4())
    for token, theirs in ((token_a, id_b), (token_b, id_a)):
        crossed = _package(client, token, theirs)
        assert crossed.status_code == 404
        _same_as_unknown(crossed, _package(client, token, unknown), theirs, unknown)


def test_stored_responses_stay_with_the_ehr_that_stored_them(client: TestClient) -> None:
    id_a = _sign(client, EHR_A, ALL_PATIENT)
    token_a, token_b = system_token(client, EHR_A), system_token(client, EHR_B)
    response = _prefilled(_package(client, token_a, id_a))
    response["identifier"] = {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"}
    stored = client.post(RESPONSES, json=response, headers=bearer(token_a))
    assert stored.status_code == 201, stored.text
    stored_id = stored.json()["id"]

    assert client.get(f"{RESPONSES}/{stored_id}", headers=bearer(token_a)).status_code == 200
    unknown = str(uuid.uuid4())
    _same_as_unknown(
        client.get(f"{RESPONSES}/{stored_id}", headers=bearer(token_b)),
        client.get(f"{RESPONSES}/{unknown}", headers=bearer(token_b)),
        stored_id,
        unknown,
    )
    mine = client.get(f"{RESPONSES}?subject=Patient/pat", headers=bearer(token_a)).json()
    theirs = client.get(f"{RESPONSES}?subject=Patient/pat", headers=bearer(token_b)).json()
    assert [e["resource"]["id"] for e in mine["entry"]] == [stored_id]
    assert theirs["total"] == 0 and theirs["entry"] == []

    # The same identifier from the other EHR is another response, not a window onto the first.
    again = client.post(RESPONSES, json={**response, "meta": {}}, headers=bearer(token_b))
    assert again.status_code == 201 and again.json()["id"] != stored_id
    # Nor can B file a response under A's assertion: it reads as unknown.
    tagged = client.post(RESPONSES, json=response, headers=bearer(token_b))
    assert tagged.status_code == 422 and "not known here" in tagged.text


def test_evaluate_with_another_ehrs_assertion_is_an_unknown_order(client: TestClient) -> None:
    id_a = _sign(client, EHR_A, ALL_PATIENT)
    token_a, token_b = system_token(client, EHR_A), system_token(client, EHR_B)
    response = _prefilled(_package(client, token_a, id_a))
    evaluate = f"{RESPONSES}/$evaluate"
    as_b = client.post(evaluate, json=response, headers=bearer(token_b))
    unknown_id = str(uuid.uuid4())
    tagged_unknown = {
        **response,
        "meta": {**response["meta"], "tag": [{**response["meta"]["tag"][0], "code": unknown_id}]},
    }
    as_unknown = client.post(evaluate, json=tagged_unknown, headers=bearer(token_b))
    assert as_b.status_code == as_unknown.status_code == 200
    assert as_b.json() == as_unknown.json()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param(
            "POST", PACKAGE, {"resourceType": "Parameters", "parameter": []}, id="package"
        ),
        pytest.param("POST", RESPONSES, {"resourceType": "QuestionnaireResponse"}, id="create"),
        pytest.param("GET", f"{RESPONSES}/x", None, id="read"),
        pytest.param("GET", f"{RESPONSES}?subject=Patient/pat", None, id="search"),
        pytest.param("POST", f"{RESPONSES}/$evaluate", {}, id="evaluate"),
    ],
)
def test_no_patient_data_without_a_token(
    client: TestClient, method: str, path: str, body: Any
) -> None:
    answer = client.request(method, path, json=body)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert "error=" not in answer.headers["WWW-Authenticate"], "no token is not a bad token"
    assert answer.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    "path", ["/fhir/metadata", "/fhir/Questionnaire", "/fhir/Library", "/fhir/ValueSet"]
)
def test_published_content_stays_public(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200
