"""The engine knows no drug: nothing in `service/` (the SMART app's source included) names the
first policy's drug, codes, units, thresholds, criteria or questionnaire items. What the service
says about a policy comes from the policy's folder (its contract, CQL, Questionnaire and
terminology), so a second policy is a folder, not a code change."""

from __future__ import annotations

import json
import re

from service.settings import PROJECT_ROOT

SERVICE = PROJECT_ROOT / "service"
SOURCES = [
    path
    for path in sorted(SERVICE.rglob("*"))
    if path.suffix in {".py", ".js", ".mjs", ".html", ".css", ".json"}
    and "dist" not in path.relative_to(SERVICE).parts
    and "node_modules" not in path.parts
]
CONTRACT = json.loads((PROJECT_ROOT / "policies" / "blinatumomab" / "policy.json").read_text())
# The drug, its billing code, its dose unit and body-size measure, its weight threshold:
# anywhere, in any case.
WORDS = ["blinatumomab", "blincyto", "J9039", "mcg", "BSA", "mosteller", r"45\s*kg"]
# Its criterion ids and questionnaire linkIds, as the contract spells them.
NAMES = sorted(
    {c["id"] for c in CONTRACT["evaluation"]["criteria"]}
    | set(CONTRACT["evaluation"]["answers"])
    | set(CONTRACT["evaluation"]["prefill"])
)


def _hits(pattern: re.Pattern[str]) -> list[str]:
    return [
        f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}"
        for path in SOURCES
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if pattern.search(line)
    ]


def test_the_sources_are_there_to_be_read() -> None:
    names = {p.name for p in SOURCES}
    assert {"engine.py", "order_cards.py", "app.js", "index.html"} <= names


def test_no_source_names_the_first_policys_drug_codes_or_units() -> None:
    pattern = re.compile(r"\b(?:" + "|".join(WORDS) + r")\b", re.IGNORECASE)
    assert _hits(pattern) == []


def test_no_source_names_its_criteria_or_questionnaire_items() -> None:
    assert "DOSE" in NAMES and "weight-kg" in NAMES
    pattern = re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, NAMES)) + r")(?![\w-])")
    assert _hits(pattern) == []
