"""Load-time failures name the CQL file and line; nothing unsupported reaches a request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.cql.engine import CqlEngine
from service.cql.library import CqlLoadError
from service.settings import PROJECT_ROOT


def _library(tmp_path: Path, expression: dict[str, Any]) -> Path:
    elm = {
        "library": {
            "identifier": {"id": "Tiny", "version": "1"},
            "statements": {
                "def": [
                    {
                        "name": "X",
                        "context": "Patient",
                        "locator": "7:1-7:30",
                        "expression": expression,
                    }
                ]
            },
        }
    }
    folder = tmp_path / "elm"
    folder.mkdir()
    (folder / "Tiny.json").write_text(json.dumps(elm))
    return folder


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        pytest.param(
            {"type": "Message", "locator": "7:5-7:20"},
            "Tiny.cql:7: ELM node 'Message'",
            id="unsupported-node",
        ),
        pytest.param(
            {"type": "ExpressionRef", "name": "Nope", "locator": "8:2-8:6"},
            "Tiny.cql:8: no define",
            id="unknown-define",
        ),
        pytest.param(
            {
                "type": "Literal",
                "valueType": "{urn:hl7-org:elm-types:r1}Ratio",
                "value": "1:2",
                "locator": "9:1-9:3",
            },
            "Tiny.cql:9: literal",
            id="unsupported-literal",
        ),
        pytest.param(
            {
                "type": "Query",
                "locator": "10:1-10:9",
                "source": [
                    {"alias": "A", "expression": {"type": "List", "element": []}},
                    {"alias": "B", "expression": {"type": "List", "element": []}},
                ],
            },
            "Tiny.cql:10: only single-source",
            id="multi-source-query",
        ),
        pytest.param(
            {
                "type": "In",
                "precision": "Day",
                "locator": "11:1-11:20",
                "operand": [
                    {"type": "Null"},
                    {"type": "List", "element": []},
                ],
            },
            "Tiny.cql:11: In with a precision",
            id="comparison-with-precision",
        ),
    ],
)
def test_unsupported_elm_fails_at_load_with_file_and_line(
    tmp_path: Path, expression: dict[str, Any], message: str
) -> None:
    with pytest.raises(CqlLoadError, match=message):
        CqlEngine(_library(tmp_path, expression), tmp_path)


def test_missing_define_in_the_contract_fails_at_load() -> None:
    engine = CqlEngine(PROJECT_ROOT / "cql" / "elm", PROJECT_ROOT / "cql")
    with pytest.raises(CqlLoadError, match="missing defines"):
        engine.require("BlinatumomabPA", ["DX", "No Such Define"])


def test_the_policy_libraries_load_and_compile() -> None:
    engine = CqlEngine(PROJECT_ROOT / "cql" / "elm", PROJECT_ROOT / "cql")
    engine.require("BlinatumomabPA", ["DX", "Outcome", "Dose Limit Mcg Per Day"])
    assert "Evaluation Date" in engine.parameters("BlinatumomabPA")
