"""DTR 2.0.1, static questionnaire packages: expression logic SHALL be CQL. The conformance
kit's check (tests/support/dtr_cql_check.py) over every package the service serves: one per
example scenario, the empty form (a Coverage and the questionnaire alone) and a 2.2 client's."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.dtr.test_package import PACKAGE, QUESTIONNAIRE, _assertion_id, _coverage, _package
from tests.policy.test_scenarios import SCENARIOS
from tests.support.dtr_cql_check import package_expression_problems

INPUT_22 = (
    "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-qpackage-input-parameters|2.2.0"
)


@pytest.mark.parametrize("folder", SCENARIOS, ids=[f.name for f in SCENARIOS])
def test_every_scenario_package_passes_the_kit_expression_check(
    client: TestClient, folder: Path
) -> None:
    context = [{"name": "context", "valueString": _assertion_id(client, folder)}]
    bundle = _package(client, context)
    assert package_expression_problems(bundle) == []


def test_the_empty_form_passes_the_kit_expression_check(client: TestClient) -> None:
    bundle = _package(
        client,
        [
            {"name": "coverage", "resource": _coverage(SCENARIOS[0])},
            {"name": "questionnaire", "valueCanonical": QUESTIONNAIRE},
        ],
    )
    assert package_expression_problems(bundle) == []


def test_a_2_2_clients_package_passes_the_kit_expression_check(client: TestClient) -> None:
    body = {
        "resourceType": "Parameters",
        "meta": {"profile": [INPUT_22]},
        "parameter": [{"name": "context", "valueString": _assertion_id(client, SCENARIOS[0])}],
    }
    (parameter,) = client.post(PACKAGE, json=body).json()["parameter"]
    assert parameter["name"] == "packagebundle"
    assert package_expression_problems(parameter["resource"]) == []


def _served_bundle(client: TestClient) -> dict[str, Any]:
    return _package(
        client, [{"name": "context", "valueString": _assertion_id(client, SCENARIOS[0])}]
    )


def _questionnaire(bundle: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = bundle["entry"][0]["resource"]
    assert found["resourceType"] == "Questionnaire"
    return found


def _variable(questionnaire: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [
        e["valueExpression"]
        for e in questionnaire["extension"]
        if e["url"].endswith("/variable") and e["valueExpression"]["name"] == name
    ]
    return found


def test_the_check_fails_a_fhirpath_variable(client: TestClient) -> None:
    """The check can fail: the variable as it was written before (FHIRPath) is reported."""
    bundle = copy.deepcopy(_served_bundle(client))
    weight = _variable(_questionnaire(bundle), "weight")
    weight["language"] = "text/fhirpath"
    assert package_expression_problems(bundle) == [
        "(questionnaire): variable is text/fhirpath, not CQL"
    ]


def test_the_check_fails_an_expression_naming_no_package_library(client: TestClient) -> None:
    bundle = copy.deepcopy(_served_bundle(client))
    _variable(_questionnaire(bundle), "height")["expression"] = '"Elsewhere"."Height"'
    (problem,) = package_expression_problems(bundle)
    assert "does not begin with a package library's name" in problem


def test_the_check_fails_a_library_without_elm(client: TestClient) -> None:
    bundle = copy.deepcopy(_served_bundle(client))
    library = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Library"
    )
    library["content"] = [
        c for c in library["content"] if c["contentType"] != "application/elm+json"
    ]
    assert package_expression_problems(bundle) == [f"library {library['url']} does not include ELM"]


def test_every_live_expression_keeps_an_equivalent_fhirpath_alternative(client: TestClient) -> None:
    """What a FHIRPath-only renderer reads (docs/decisions/0012): the variables and the BSA
    calculation, each with one cqf-alternativeExpression in FHIRPath."""
    questionnaire = _questionnaire(_served_bundle(client))
    alternatives = {}

    def collect(where: str, extensions: list[dict[str, Any]]) -> None:
        for extension in extensions:
            expression = extension.get("valueExpression") or {}
            for alternative in expression.get("extension", []):
                if alternative["url"].endswith("/cqf-alternativeExpression"):
                    key = expression.get("name") or where
                    alternatives[key] = alternative["valueExpression"]["language"]

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            collect(item["linkId"], item.get("extension", []))
            walk(item.get("item", []))

    collect("(questionnaire)", questionnaire["extension"])
    walk(questionnaire["item"])
    assert alternatives == {
        "weight": "text/fhirpath",
        "height": "text/fhirpath",
        "bsa-m2": "text/fhirpath",
    }
