"""CRD 2.0.1 requests get 2.0.1 shapes: every coverage-information extension the service builds for
the example scenarios is checked against the ext-coverage-information StructureDefinition of the
CRD 2.0.1 IG package (../shared/conformance/crd/ig): known sub-extensions only, their cardinality,
value types, and codes from the required value sets."""

from __future__ import annotations

import json
import tarfile
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.crd.coverage_information import EXTENSION_URL
from service.settings import PROJECT_ROOT
from tests.crd.test_answers import hook_request
from tests.policy.test_scenarios import SCENARIOS

PACKAGE = PROJECT_ROOT.parent / "shared" / "conformance" / "crd" / "ig" / "davinci-crd-2.0.1.tgz"


@lru_cache(maxsize=1)
def package() -> dict[str, Any]:
    with tarfile.open(PACKAGE) as archive:
        return {
            member.name.rsplit("/", 1)[-1]: json.load(archive.extractfile(member))  # type: ignore[arg-type]
            for member in archive.getmembers()
            if member.name.endswith(".json") and member.isfile()
        }


@lru_cache(maxsize=1)
def rules() -> dict[str, dict[str, Any]]:
    """slice name -> {min, max, types, codes (for required bindings)}."""
    definition = package()["StructureDefinition-ext-coverage-information.json"]
    value_sets = {v["url"]: v for k, v in package().items() if k.startswith("ValueSet-")}
    found: dict[str, dict[str, Any]] = {}
    for element in definition["snapshot"]["element"]:
        parts = element["id"].split(".")
        if len(parts) == 2 and element.get("sliceName"):
            found[element["sliceName"]] = {
                "min": element["min"],
                "max": element["max"],
                "types": set(),
                "codes": None,
            }
        if len(parts) == 3 and parts[1].startswith("extension:") and parts[2] == "value[x]":
            name = parts[1].split(":", 1)[1]
            found[name]["types"] = {t["code"] for t in element.get("type", [])}
            binding = element.get("binding") or {}
            if binding.get("strength") == "required" and binding.get("valueSet") in value_sets:
                compose = value_sets[binding["valueSet"]]["compose"]
                found[name]["codes"] = {
                    c["code"] for i in compose["include"] for c in i.get("concept", [])
                }
    return found


def problems(extension: dict[str, Any]) -> list[str]:
    found = []
    counts = Counter(part["url"] for part in extension["extension"])
    for name, rule in rules().items():
        if counts[name] < rule["min"]:
            found.append(f"{name} missing")
        if rule["max"] != "*" and counts[name] > int(rule["max"]):
            found.append(f"{name} repeated")
    for part in extension["extension"]:
        rule = rules().get(part["url"])
        if rule is None:
            found.append(f"{part['url']} is not a 2.0.1 sub-extension")
            continue
        value_keys = [k for k in part if k.startswith("value")]
        if rule["types"] and value_keys:
            kind = value_keys[0].removeprefix("value")
            if kind[0].lower() + kind[1:] not in rule["types"] and kind not in rule["types"]:
                found.append(f"{part['url']} has value{kind}")
            if rule["codes"] is not None and part[value_keys[0]] not in rule["codes"]:
                found.append(f"{part['url']} code {part[value_keys[0]]} not in the 2.0.1 value set")
    return found


def test_the_profile_is_read() -> None:
    assert {
        "coverage",
        "covered",
        "pa-needed",
        "doc-needed",
        "detail",
        "date",
        "coverage-assertion-id",
    } <= set(rules())
    assert rules()["covered"]["codes"] == {"covered", "not-covered", "conditional"}


@pytest.mark.parametrize("asked", [None, "2.0", "2.0.1"], ids=["not-asked", "2.0", "2.0.1"])
@pytest.mark.parametrize("folder", SCENARIOS, ids=[f.name for f in SCENARIOS])
def test_crd_2_0_answers_fit_the_2_0_1_profile(
    client: TestClient, folder: Path, asked: str | None
) -> None:
    """A client that does not ask (2.0.1 has no requestedVersion) gets 2.0.1 too."""
    body = hook_request(folder)
    if asked is not None:
        body["extension"] = {"davinci-crd.requestedVersion": asked}
    response = client.post("/cds-services/crd-order-sign", json=body)
    (action,) = response.json()["systemActions"]
    (extension,) = [e for e in action["resource"]["extension"] if e["url"] == EXTENSION_URL]
    assert problems(extension) == []
    topics = {card["source"]["topic"]["system"] for card in response.json()["cards"]}
    assert topics <= {"http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp"}


def test_expiry_date_follows_the_coverage_end_in_2_2_only(client: TestClient) -> None:
    body = hook_request(SCENARIOS[0])
    body["prefetch"]["coverage"]["entry"][-1]["resource"]["period"] = {
        "start": "2026-01-01",
        "end": "2026-12-31",
    }
    for version, expected in (("2.2", ["2026-12-31"]), ("2.0", [])):
        body["extension"] = {"davinci-crd.requestedVersion": version}
        (action,) = client.post("/cds-services/crd-order-sign", json=body).json()["systemActions"]
        (extension,) = [e for e in action["resource"]["extension"] if e["url"] == EXTENSION_URL]
        assert [
            p["valueDate"] for p in extension["extension"] if p["url"] == "expiry-date"
        ] == expected
