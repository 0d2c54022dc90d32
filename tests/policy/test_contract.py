"""A broken policy contract fails at start-up, naming the file and the key: every required key of
policy.json, removed one at a time; an unknown key (a typo is not silently ignored); a limit,
off-policy rule or explanation naming a criterion that does not exist; a unit not declared; a
define the contract names that the ELM lacks or types otherwise. Each stops `build_runtime`
with a ConfigurationError that names it (before, some made every evaluation `technical`)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from service.errors import ConfigurationError
from service.runtime import build_runtime
from service.settings import PROJECT_ROOT
from tests.conftest import make_settings

POLICY = PROJECT_ROOT / "policies" / "blinatumomab" / "policy.json"
CONTENT = json.loads(POLICY.read_text())
# Keys the contract cannot do without, as paths into policy.json.
REQUIRED = [
    *(
        (key,)
        for key in ("id", "title", "version", "library", "questionnaire", "trigger")
        + ("billingCode", "priorAuthorization", "evaluation")
    ),
    *(
        ("evaluation", key)
        for key in ("orderParameter", "dateParameter", "criteria", "paths", "outcome", "answers")
    ),
    ("evaluation", "criteria", 0, "label"),
    ("evaluation", "criteria", 6, "discrepancy", "note"),
    ("evaluation", "limits", 0, "define"),
    ("evaluation", "limits", 0, "unit"),
    ("evaluation", "limits", 1, "criterion"),
    ("evaluation", "limits", 2, "define"),
    ("evaluation", "limits", 3, "start"),
    ("evaluation", "limits", 3, "years"),
    ("evaluation", "units", "ug/d", "display"),
    ("priorAuthorization", "submission"),
]


def _folder(tmp_path: Path, change: Callable[[Any], None]) -> Path:
    folder = tmp_path / "policies"
    shutil.copytree(POLICY.parent.parent, folder)
    target = folder / "blinatumomab" / "policy.json"
    policy = json.loads(target.read_text())
    change(policy)
    target.write_text(json.dumps(policy))
    return folder


def _at(policy: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        policy = policy[key]
    return policy


def _start(tmp_path: Path, folder: Path) -> None:
    build_runtime(make_settings(f"sqlite:///{tmp_path / 'db'}", policy_dir=folder))


@pytest.mark.parametrize("path", REQUIRED, ids=[".".join(map(str, p)) for p in REQUIRED])
def test_a_missing_key_stops_start_up_naming_it(
    tmp_path: Path, path: tuple[str | int, ...]
) -> None:
    _at(CONTENT, path)  # the key is there in the real contract

    def remove(policy: Any) -> None:
        del _at(policy, path[:-1])[path[-1]]

    with pytest.raises(ConfigurationError) as raised:
        _start(tmp_path, _folder(tmp_path, remove))
    message = str(raised.value)
    assert "policy.json" in message
    assert ".".join(map(str, path)) in message


@pytest.mark.parametrize(
    ("path", "key"),
    [
        pytest.param(("evaluation",), "doseLimit", id="evaluation"),
        pytest.param(("evaluation", "limits", 0), "maxPerDay", id="limit"),
        pytest.param(("evaluation", "criteria", 0), "lable", id="criterion"),
    ],
)
def test_an_unknown_key_stops_start_up(
    tmp_path: Path, path: tuple[str | int, ...], key: str
) -> None:
    def add(policy: Any) -> None:
        _at(policy, path)[key] = "x"

    with pytest.raises(ConfigurationError, match=key):
        _start(tmp_path, _folder(tmp_path, add))


@pytest.mark.parametrize(
    ("path", "value", "mentions"),
    [
        pytest.param(("evaluation", "limits", 0, "criterion"), "HEIGHT", "HEIGHT", id="limit"),
        pytest.param(
            ("evaluation", "limits", 0, "explainedBy"), ["WEIGHT", "AGE"], "AGE", id="explained"
        ),
        pytest.param(("evaluation", "limits", 1, "unit"), "mg/d", "mg/d", id="unit"),
        pytest.param(("evaluation", "limits", 1, "kind"), "dose", "kind", id="kind"),
        pytest.param(("offPolicy", "criterion"), "DIAGNOSIS", "DIAGNOSIS", id="off-policy"),
        pytest.param(("evaluation", "limits", 1, "id"), "daily-dose", "daily-dose", id="twice"),
    ],
)
def test_a_reference_to_nothing_stops_start_up(
    tmp_path: Path, path: tuple[str | int, ...], value: object, mentions: str
) -> None:
    def put(policy: Any) -> None:
        _at(policy, path[:-1])[path[-1]] = value

    with pytest.raises(ConfigurationError, match=mentions):
        _start(tmp_path, _folder(tmp_path, put))


@pytest.mark.parametrize(
    ("path", "define", "mentions"),
    [
        pytest.param(("evaluation", "outcome"), "DX", "'DX' is Boolean, read as String", id="out"),
        pytest.param(
            ("evaluation", "limits", 0, "define"),
            "Dose Limit Basis",
            "'Dose Limit Basis' is String, read as Decimal",
            id="limit",
        ),
        pytest.param(
            ("evaluation", "limits", 2, "define"),
            "Coverage Period Years",
            None,
            id="count-is-integer",
        ),
        pytest.param(
            ("evaluation", "limits", 3, "start"),
            "Max Cycles",
            "'Max Cycles' is Integer, read as Date",
            id="period-start",
        ),
        pytest.param(
            ("evaluation", "paths", "infant"), "Outcome", "is String, read as Boolean", id="path"
        ),
        pytest.param(
            ("evaluation", "criteria", 6, "discrepancy", "define"),
            "BSA Value",
            "'BSA Value' is Decimal, read as Boolean",
            id="discrepancy",
        ),
        pytest.param(
            ("evaluation", "limits", 0, "ordered"), "No Such Define", "No Such Define", id="gone"
        ),
    ],
)
def test_a_define_missing_or_of_the_wrong_type_stops_start_up(
    tmp_path: Path, path: tuple[str | int, ...], define: str, mentions: str | None
) -> None:
    def put(policy: Any) -> None:
        _at(policy, path[:-1])[path[-1]] = define

    folder = _folder(tmp_path, put)
    if mentions is None:  # another Integer define where an Integer is read: accepted
        _start(tmp_path, folder)
        return
    with pytest.raises(ConfigurationError, match=mentions):
        _start(tmp_path, folder)
