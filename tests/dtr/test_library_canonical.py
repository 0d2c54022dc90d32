"""Decision 0009: each Library's canonical URL names its version, and a Questionnaire's
cqf-library must be that URL exactly, or the service does not start. And what a DTR client that
matches strings needs from a package: the library by its url, defines by plain identifiers,
pre-fill values as lists of one where it expects lists."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.cql.values import Code
from service.dtr.content import library_url, load_content
from service.errors import ConfigurationError
from service.policy.engine import _prefilled
from service.policy.folder import load_policies
from service.settings import PROJECT_ROOT
from tests.dtr.test_package import _assertion_id, _package_for
from tests.policy.test_scenarios import SCENARIOS
from tests.support.dtr_profiles import bundle_problems

QUESTIONNAIRE = "Questionnaire-blinatumomab-pa.json"


def _policies_with_cqf_library(tmp_path: Path, canonical: str) -> Path:
    root = tmp_path / "policies"
    shutil.copytree(PROJECT_ROOT / "policies" / "blinatumomab", root / "blinatumomab")
    path = root / "blinatumomab" / QUESTIONNAIRE
    questionnaire = json.loads(path.read_text())
    for extension in questionnaire["extension"]:
        if extension["url"].endswith("/cqf-library"):
            extension["valueCanonical"] = canonical
    path.write_text(json.dumps(questionnaire))
    return root


def _load(root: Path) -> None:
    (policy,) = load_policies(root)
    load_content([policy], PROJECT_ROOT / "cql", policy.canonical_base)


def test_the_published_form_loads(tmp_path: Path) -> None:
    canonical = library_url("https://payer.example.org/fhir", "BlinatumomabPA", "2023.2.0")
    assert canonical == "https://payer.example.org/fhir/Library/BlinatumomabPA-2023.2.0"
    _load(_policies_with_cqf_library(tmp_path, canonical))


@pytest.mark.parametrize(
    "canonical",
    [
        # url|version: FHIR canonical matching finds it, a client comparing strings does not.
        "https://payer.example.org/fhir/Library/BlinatumomabPA-2023.2.0|2023.2.0",
        "https://payer.example.org/fhir/Library/BlinatumomabPA|2023.2.0",
        "https://payer.example.org/fhir/Library/BlinatumomabPA",
        "https://payer.example.org/fhir/Library/BlinatumomabPA-2023.1.0",
    ],
)
def test_a_cqf_library_that_is_no_library_url_stops_start_up(
    tmp_path: Path, canonical: str
) -> None:
    with pytest.raises(ConfigurationError, match="is not the url of a published Library"):
        _load(_policies_with_cqf_library(tmp_path, canonical))


def test_a_library_without_version_keeps_a_bare_url() -> None:
    assert (
        library_url("https://x.example/fhir", "Lib", None) == "https://x.example/fhir/Library/Lib"
    )


def test_the_package_checks_catch_what_a_string_matching_client_misses(client: TestClient) -> None:
    """The checks every package goes through (tests/support/dtr_profiles.py) see the two things
    that kept the public DTR reference app from running our CQL: a cqf-library that is no
    Library's url as written, and a define named in quotes (the app does not unquote)."""
    bundle = _package_for(client, _assertion_id(client, SCENARIOS[0]))
    assert bundle_problems(bundle) == []
    questionnaire = bundle["entry"][0]["resource"]
    for extension in questionnaire["extension"]:
        if extension["url"].endswith("/cqf-library"):
            extension["valueCanonical"] += "|2023.2.0"
    item = next(i for i in questionnaire["item"][0]["item"] if i["linkId"] == "diagnosis-code")
    item["extension"][0]["valueExpression"]["expression"] = '"BlinatumomabPA"."Prefill Dx"'
    problems = bundle_problems(bundle)
    assert any(p.startswith("cqf-library") for p in problems), problems
    assert any(p.startswith("diagnosis-code:") for p in problems), problems


def test_a_prefill_list_of_one_is_the_answer_and_more_settle_nothing() -> None:
    code = Code(code="C91.02", system="http://hl7.org/fhir/sid/icd-10-cm")
    assert _prefilled([code]) == {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C91.02"}
    assert _prefilled([code, code]) is None
    assert _prefilled([]) is None
    assert _prefilled(Decimal("44.996")) == Decimal("44.996")
