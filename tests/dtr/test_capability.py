"""The CapabilityStatement at /fhir/metadata: checked against DTR 2.0.1's payer CapabilityStatement
(read from the IG package), and every interaction, search parameter and operation it claims is
tried against the running app."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B import get_fhir_model_class

from service.dtr.capability import capability_statement
from tests.dtr.test_responses import prefilled
from tests.policy.test_scenarios import SCENARIOS
from tests.support.clients import BASE
from tests.support.ig_package import dtr_resource

DTR_PAYER = dtr_resource("CapabilityStatement-dtr-payer-service.json")
DTR_IG = dtr_resource("ImplementationGuide-hl7.fhir.us.davinci-dtr.json")
EXPECTATION = "http://hl7.org/fhir/StructureDefinition/capabilitystatement-expectation"


def _expected(operation: dict[str, Any]) -> str:
    (expectation,) = [e for e in operation["extension"] if e["url"] == EXPECTATION]
    return str(expectation["valueCode"])


def _operations(statement: dict[str, Any]) -> dict[str, str]:
    """Name -> definition, wherever the statement lists them."""
    (rest,) = statement["rest"]
    listed = [
        *rest.get("operation", []),
        *(o for r in rest["resource"] for o in r.get("operation", [])),
    ]
    return {o["name"]: o["definition"] for o in listed}


def _resources(statement: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["type"]: r for r in statement["rest"][0]["resource"]}


@pytest.fixture
def statement(client: TestClient) -> dict[str, Any]:
    answer = client.get("/fhir/metadata")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/fhir+json"
    found: dict[str, Any] = answer.json()
    return found


def test_it_is_a_valid_r4_instance_statement(statement: dict[str, Any]) -> None:
    get_fhir_model_class("CapabilityStatement").model_validate(statement)
    assert statement["kind"] == "instance"
    assert statement["fhirVersion"] == DTR_PAYER["fhirVersion"]
    assert set(DTR_PAYER["format"]) <= set(statement["format"])
    assert statement["software"]["version"] == "0.1.0"
    assert statement["implementation"]["url"].endswith("/fhir")


def test_it_instantiates_the_dtr_payer_statement(statement: dict[str, Any]) -> None:
    assert statement["instantiates"] == [f"{DTR_PAYER['url']}|{DTR_PAYER['version']}"]
    assert f"{DTR_IG['url']}|{DTR_IG['version']}" in statement["implementationGuide"]


def test_every_shall_operation_of_dtr_is_ours_with_its_definition(
    statement: dict[str, Any],
) -> None:
    required = {
        o["name"]: o["definition"]
        for o in DTR_PAYER["rest"][0]["operation"]
        if _expected(o) == "SHALL"
    }
    assert set(required) == {"questionnaire-package", "expand"}, "the package changed"
    ours = _operations(statement)
    for name, definition in required.items():
        assert ours.get(name) == definition, name


def test_next_question_the_one_should_is_decided_not_forgotten(
    statement: dict[str, Any], client: TestClient
) -> None:
    """docs/decisions/0005: not advertised, and refused with the reason when called anyway."""
    should = [o["name"] for o in DTR_PAYER["rest"][0]["operation"] if _expected(o) == "SHOULD"]
    assert should == ["next-question"]
    assert "next-question" not in _operations(statement)
    assert "$next-question is not offered" in statement["rest"][0]["documentation"]
    answer = client.post("/fhir/Questionnaire/$next-question", json={"resourceType": "Parameters"})
    assert answer.json()["issue"][0]["code"] == "not-supported"


def test_security_names_the_smart_token_endpoint(
    statement: dict[str, Any], client: TestClient
) -> None:
    security = statement["rest"][0]["security"]
    (service,) = security["service"]
    assert service["coding"] == [
        {
            "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
            "code": "SMART-on-FHIR",
        }
    ]
    (uris,) = security["extension"]
    assert uris["url"] == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
    token = {e["url"]: e["valueUri"] for e in uris["extension"]}["token"]
    smart = client.get("/fhir/.well-known/smart-configuration").json()
    assert token == smart["token_endpoint"] == "https://payer.example.org/auth/token"


def test_the_token_endpoint_follows_base_url(client: TestClient) -> None:
    runtime = client.app.state.runtime
    settings = runtime.settings.model_copy(update={"base_url": f"{BASE}/"})
    built = capability_statement(settings, runtime.content, "https://x.example/fhir", "9")
    (uris,) = built["rest"][0]["security"]["extension"]
    assert uris["extension"] == [{"url": "token", "valueUri": f"{BASE}/auth/token"}]
    assert built["implementation"]["url"] == f"{BASE}/fhir"


# The resources the routes serve, with the interactions and search parameters they take.
SERVED = {
    "Questionnaire": ({"read", "search-type"}, {"url"}),
    "Library": ({"read", "search-type"}, {"url"}),
    "ValueSet": ({"read", "search-type"}, {"url"}),
    "CodeSystem": ({"read", "search-type"}, {"url"}),
    "QuestionnaireResponse": ({"create", "read", "search-type"}, {"subject", "patient", "status"}),
    "OperationDefinition": ({"read"}, set()),
    "Claim": (set(), set()),  # $submit and $inquire only
    "ClaimResponse": ({"read"}, set()),
    "Subscription": ({"create", "read", "delete"}, set()),
}


def test_the_resources_are_the_ones_served(statement: dict[str, Any]) -> None:
    resources = _resources(statement)
    assert set(resources) == set(SERVED)
    for kind, (interactions, search) in SERVED.items():
        assert {i["code"] for i in resources[kind].get("interaction", [])} == interactions, kind
        assert {p["name"] for p in resources[kind].get("searchParam", [])} == search, kind
    assert resources["Questionnaire"]["supportedProfile"] == [
        "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-std-questionnaire"
    ]


@pytest.mark.parametrize("kind", ["Questionnaire", "Library", "ValueSet", "CodeSystem"])
def test_each_content_interaction_answers(
    client: TestClient, statement: dict[str, Any], kind: str
) -> None:
    listed = client.get(f"/fhir/{kind}").json()
    assert listed["total"] >= 1
    first = listed["entry"][0]["resource"]
    assert client.get(f"/fhir/{kind}/{first['id']}").json() == first
    for search in _resources(statement)[kind]["searchParam"]:
        assert search["type"] == "uri"
        found = client.get(f"/fhir/{kind}", params={search["name"]: first["url"]}).json()
        assert [e["resource"]["id"] for e in found["entry"]] == [first["id"]]


def test_each_questionnaire_response_interaction_answers(
    client: TestClient, statement: dict[str, Any]
) -> None:
    response = prefilled(client, SCENARIOS[0]) | {"status": "in-progress"}
    created = client.post("/fhir/QuestionnaireResponse", json=response)
    assert created.status_code == 201, created.text
    stored = created.json()
    assert client.get(f"/fhir/QuestionnaireResponse/{stored['id']}").json() == stored
    subject = stored["subject"]["reference"]
    values = {"subject": subject, "patient": subject.split("/")[-1], "status": "in-progress"}
    for search in _resources(statement)["QuestionnaireResponse"]["searchParam"]:
        found = client.get(
            "/fhir/QuestionnaireResponse", params={search["name"]: values[search["name"]]}
        )
        assert found.status_code == 200, search["name"]
        assert stored["id"] in [e["resource"]["id"] for e in found.json()["entry"]]


def test_every_operation_is_routed_and_ours_are_defined(
    client: TestClient, statement: dict[str, Any]
) -> None:
    for kind, resource in _resources(statement).items():
        for operation in resource.get("operation", []):
            path = f"/fhir/{kind}/${operation['name']}"
            if operation["name"] == "status":  # a read: the caller's Subscriptions' statuses
                assert client.get(path).status_code == 200, path
                continue
            answer = client.post(path, json={"resourceType": "Parameters", "parameter": []})
            # Each refuses an empty request for what it lacks, never as an unknown route.
            assert answer.status_code in (400, 422), f"{path}: {answer.status_code}"
            definition = operation["definition"]
            if definition.startswith("http://hl7.org/fhir/"):
                continue  # DTR's and FHIR's own, served by their publishers
            served = client.get(f"/fhir/OperationDefinition/{definition.rsplit('/', 1)[1]}")
            assert served.status_code == 200 and served.json()["url"] == definition


def test_metadata_needs_no_token(secured: TestClient) -> None:
    assert secured.get("/fhir/metadata").status_code == 200


def test_pas_is_declared_with_its_subscription_topic(statement: dict[str, Any]) -> None:
    """PAS 2.0.1: the payer's Claim operations and its Subscription support are declared in
    the CapabilityStatement (Subscriptions Backport: the topics, by canonical)."""
    resources = _resources(statement)
    assert {o["definition"] for o in resources["Claim"]["operation"]} == {
        "http://hl7.org/fhir/us/davinci-pas/OperationDefinition/Claim-submit|2.0.1",
        "http://hl7.org/fhir/us/davinci-pas/OperationDefinition/Claim-inquiry|2.0.1",
    }
    (topic,) = resources["Subscription"]["extension"]
    assert topic == {
        "url": "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
        "capabilitystatement-subscriptiontopic-canonical",
        "valueCanonical": "http://hl7.org/fhir/us/davinci-pas/SubscriptionTopic/PASSubscriptionTopic",
    }
    assert any("davinci-pas" in guide for guide in statement["implementationGuide"])
