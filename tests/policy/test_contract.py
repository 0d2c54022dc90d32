"""A broken policy contract fails at start-up, naming what is missing: every key of policy.json's
"evaluation" the engine reads, removed one at a time, stops `build_runtime` with a
ConfigurationError that names it (before, some made every evaluation a `technical` answer)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from service.errors import ConfigurationError
from service.runtime import build_runtime
from service.settings import PROJECT_ROOT
from tests.conftest import make_settings

POLICY = PROJECT_ROOT / "policies" / "blinatumomab" / "policy.json"
EVALUATION = json.loads(POLICY.read_text())["evaluation"]
REQUIRED = [
    *(
        (key,)
        for key in ("orderParameter", "dateParameter", "criteria", "paths", "outcome")
        + ("doseLimit", "cycles", "answers")
    ),
    *(("doseLimit", key) for key in ("mcgPerDay", "stepMcgPerDay", "basis")),
    *(("cycles", key) for key in ("max", "coveragePeriodYears")),
]


def _without(tmp_path: Path, path: tuple[str, ...]) -> Path:
    folder = tmp_path / "policies"
    shutil.copytree(POLICY.parent.parent, folder)
    policy = json.loads((folder / "blinatumomab" / "policy.json").read_text())
    target: Any = policy["evaluation"]
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    (folder / "blinatumomab" / "policy.json").write_text(json.dumps(policy))
    return folder


@pytest.mark.parametrize("path", REQUIRED, ids=[".".join(p) for p in REQUIRED])
def test_a_missing_key_stops_start_up_naming_it(tmp_path: Path, path: tuple[str, ...]) -> None:
    assert all(isinstance(EVALUATION.get(p[0]), (dict, list, str)) for p in REQUIRED)
    settings = make_settings(f"sqlite:///{tmp_path / 'db'}", policy_dir=_without(tmp_path, path))
    with pytest.raises(ConfigurationError, match=path[-1]):
        build_runtime(settings)


def test_a_discrepancy_for_an_unknown_criterion_stops_start_up(tmp_path: Path) -> None:
    folder = _without(tmp_path, ("discrepancies",))
    policy_file = folder / "blinatumomab" / "policy.json"
    policy = json.loads(policy_file.read_text())
    policy["evaluation"]["discrepancies"] = {"HEIGHT": "BSA Discrepancy"}
    policy_file.write_text(json.dumps(policy))
    settings = make_settings(f"sqlite:///{tmp_path / 'db'}", policy_dir=folder)
    with pytest.raises(ConfigurationError, match="HEIGHT"):
        build_runtime(settings)


@pytest.mark.parametrize(
    ("key", "define", "mentions"),
    [
        pytest.param(("outcome",), "DX", "'DX' is Boolean, read as String", id="outcome-boolean"),
        pytest.param(
            ("doseLimit", "mcgPerDay"), "Dose Limit Basis", "is String, read as Decimal", id="limit"
        ),
        pytest.param(("paths", "infant"), "Outcome", "is String, read as Boolean", id="path"),
    ],
)
def test_a_define_of_the_wrong_type_stops_start_up(
    tmp_path: Path, key: tuple[str, ...], define: str, mentions: str
) -> None:
    folder = _without(tmp_path, ("discrepancies",))
    policy_file = folder / "blinatumomab" / "policy.json"
    policy = json.loads(policy_file.read_text())
    target = policy["evaluation"]
    for part in key[:-1]:
        target = target[part]
    target[key[-1]] = define
    policy["evaluation"]["discrepancies"] = {"BSA": "BSA Discrepancy"}
    policy_file.write_text(json.dumps(policy))
    settings = make_settings(f"sqlite:///{tmp_path / 'db'}", policy_dir=folder)
    with pytest.raises(ConfigurationError, match=mentions):
        build_runtime(settings)
