from __future__ import annotations

from pathlib import Path

import pytest

from service.errors import ConfigurationError
from service.settings import PROJECT_ROOT
from service.terminology.codes import ICD10CM
from service.terminology.valuesets import ValueSetIndex, load_value_sets

PRODUCTS = "https://payer.example.org/fhir/ValueSet/blinatumomab-products"


def _vs(url: str, include: list[dict[str, object]]) -> dict[str, object]:
    return {"resourceType": "ValueSet", "url": url, "compose": {"include": include}}


def test_policy_value_sets_load() -> None:
    index = load_value_sets(PROJECT_ROOT / "policies" / "blinatumomab" / "terminology")
    assert PRODUCTS in index.urls()
    assert index.in_value_set("http://hl7.org/fhir/sid/ndc", "55513-160-01", PRODUCTS)
    assert not index.in_value_set("http://hl7.org/fhir/sid/ndc", "55513-161-01", PRODUCTS)


def test_import_and_prefix_filter() -> None:
    index = ValueSetIndex(
        [
            _vs(
                "urn:a",
                [
                    {
                        "system": ICD10CM,
                        "filter": [{"property": "concept", "op": "is-a", "value": "C81"}],
                    }
                ],
            ),
            _vs(
                "urn:b",
                [{"valueSet": ["urn:a"]}, {"system": ICD10CM, "concept": [{"code": "C91.00"}]}],
            ),
        ]
    )
    assert index.in_value_set(ICD10CM, "C81.10", "urn:b")
    assert index.in_value_set(ICD10CM, "c9100", "urn:b")
    assert not index.in_value_set(ICD10CM, "C91.10", "urn:b")


@pytest.mark.parametrize(
    "include",
    [
        pytest.param(
            [{"system": "http://loinc.org", "filter": [{"op": "is-a", "value": "x"}]}],
            id="filter-outside-icd",
        ),
        pytest.param(
            [{"system": ICD10CM, "filter": [{"op": "regex", "value": "C9.*"}]}], id="regex-filter"
        ),
        pytest.param([{"valueSet": ["urn:missing"]}], id="unknown-import"),
    ],
)
def test_unsupported_compose_fails_at_load(include: list[dict[str, object]]) -> None:
    with pytest.raises(ConfigurationError):
        ValueSetIndex([_vs("urn:x", include)])


def test_import_cycle_fails_at_load() -> None:
    with pytest.raises(ConfigurationError, match="cycle"):
        ValueSetIndex(
            [_vs("urn:a", [{"valueSet": ["urn:b"]}]), _vs("urn:b", [{"valueSet": ["urn:a"]}])]
        )


def test_bad_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "ValueSet-broken.json").write_text("{not json")
    with pytest.raises(ConfigurationError, match="ValueSet-broken.json:1"):
        load_value_sets(tmp_path)
