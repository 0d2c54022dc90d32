"""What people read of an evaluation, for every example patient: the order-sign cards and the
`$evaluate` answer for its pre-filled response and for each completed one its scenario lists.
No Python value ("True", "False", "None"), no "shown:", no answer code or unit code where the
policy has words for it, no number to more places than a person reads."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.crd.coverage_information import EXTENSION_URL
from tests.crd.test_answers import hook_request
from tests.dtr.test_package import _package_for
from tests.dtr.test_responses import answer
from tests.policy.test_scenarios import SCENARIOS
from tests.support.policies import the_policy

SIGN = "/cds-services/crd-order-sign"
EVALUATE = "/fhir/QuestionnaireResponse/$evaluate"
# Parts of $evaluate's Parameters written for people (ids, codes and linkIds are for machines).
WORDS = {"label", "statusDisplay", "display", "basis", "flag", "unit"}


def _leaks() -> re.Pattern[str]:
    """Python's values, the old status word, UCUM rates where words exist, and every code of the
    policy's terminology that has a display other than itself and could not be an English word
    (a hyphen, or letters and digits: "b-precursor", "with-tki", "C91.02"; a number alone, a
    place-of-service code "21", reads as a number)."""
    policy = the_policy()
    codes = {
        code
        for (_, code), display in policy.displays.items()
        if display != code and re.search(r"-|[A-Za-z]\d", code)
    }
    # Rates ("ug/d"): "m2" and "kg" also read as people write them.
    units = {u for u, shown in policy.evaluation.units.items() if shown.display != u and "/" in u}
    words = ["True", "False", "None", *sorted(codes | units, key=len, reverse=True)]
    alternatives = "|".join(re.escape(w) for w in words)
    # A code is a leak as a whole token, not inside a longer word ("not-b-precursor" is one).
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])|shown:|\d\.\d{{4,}}")


LEAKS = _leaks()


def leaks(texts: list[str]) -> list[str]:
    return [f"{m.group(0)!r} in {t!r}" for t in texts for m in LEAKS.finditer(t)]


def card_texts(body: dict[str, Any]) -> list[str]:
    return [str(card.get(k)) for card in body["cards"] for k in ("summary", "detail") if k in card]


def evaluate_texts(parameters: dict[str, Any]) -> list[str]:
    found = []
    for parameter in parameters["parameter"]:
        for part in parameter.get("part") or []:
            if part["name"] in WORDS:
                found.append(str(part["valueString"]))
    return found


def _assertion(body: dict[str, Any]) -> str | None:
    for action in body["systemActions"]:
        for extension in action["resource"].get("extension") or []:
            if extension["url"] == EXTENSION_URL:
                for part in extension["extension"]:
                    if part["url"] == "coverage-assertion-id":
                        return str(part["valueString"])
    return None


def test_the_leak_pattern_finds_what_people_must_not_read() -> None:
    bad = [
        "Infant ALL (under 1 year at diagnosis): shown: False",
        "B-cell precursor lineage: met (b-precursor)",
        "Regimen: not in the record: inotuzumab-mini-hypercvd",
        "Body surface area (m2): met (1.04123456 m²)",
        "Ordered daily dose 30 ug/d",
        "Value: None",
    ]
    assert all(leaks([text]) for text in bad)
    good = [
        "Infant ALL (under 1 year at diagnosis): No",
        "B-cell precursor lineage: met (B-cell precursor (CD19-positive))",
        "Body surface area (m2): met (1.04 m²)",
        "Ordered daily dose 30 mcg/day",
        "Body weight (kg): met (44.996 kg)",
    ]
    assert leaks(good) == []


@pytest.mark.parametrize("folder", SCENARIOS, ids=[f.name for f in SCENARIOS])
def test_what_people_read_of_every_example_is_in_words(client: TestClient, folder: Path) -> None:
    signed = client.post(SIGN, json=hook_request(folder))
    assert signed.status_code == 200, signed.text
    body = signed.json()
    texts = card_texts(body)
    assert texts, "every example order gets cards"
    assertion = _assertion(body)
    assert assertion is not None, "every example order is in scope and asserted"
    bundle = _package_for(client, assertion)
    prefilled: dict[str, Any] = bundle["entry"][-1]["resource"]
    expected = json.loads((folder / "expected.json").read_text())
    responses = [prefilled]
    for with_answers in expected["withAnswers"]:
        completed = json.loads(json.dumps(prefilled))
        for link_id, value in with_answers["answers"].items():
            answer(completed, link_id, value)
        responses.append(completed)
    for response in responses:
        evaluated = client.post(EVALUATE, json=response)
        assert evaluated.status_code == 200, evaluated.text
        words = evaluate_texts(evaluated.json())
        assert any(w for w in words), "the answer has words for people"
        texts += words
    assert leaks(texts) == []


def test_the_instructions_card_asks_only_what_the_form_asks(client: TestClient) -> None:
    """Scenario 32's record answers every question: the card announces none; scenario 01's
    leaves the treatment questions open, and the card names them as the form does."""
    by_name = {f.name: f for f in SCENARIOS}
    complete = client.post(SIGN, json=hook_request(by_name["32-relapsed-complete-from-record"]))
    (instructions,) = [c for c in complete.json()["cards"] if "Prior authorization" in c["summary"]]
    assert "will ask" not in instructions["detail"]
    open_ = client.post(SIGN, json=hook_request(by_name["01-consolidation-adult-record"]))
    (instructions,) = [c for c in open_.json()["cards"] if "Prior authorization" in c["summary"]]
    asked = instructions["detail"].split("will ask: ")[1].split(".\n")[0].split("; ")
    assert "Treatment phase" in asked and "Where will blinatumomab be given?" in asked
    assert "Body weight (kg)" not in asked  # the record gives it
