"""The payer's Questionnaire in a second SDC renderer, Smart Forms (npm
@aehrc/smart-forms-renderer, a test-only dependency with React), in Debian's Chromium: what an
SDC client without CQL gets (docs/decisions/0012). The page (tests/browser/smartforms/page.jsx)
is bundled here with esbuild and served from the payer's origin, so the renderer's `$expand`
calls reach the payer as they would from any app it serves."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import ARTIFACTS, ROOT, Stack

PAGE_SOURCE = ROOT / "tests" / "browser" / "smartforms" / "page.jsx"
ESBUILD = ROOT / "node_modules" / ".bin" / "esbuild"


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("smart-forms") / "page.js"
    subprocess.run(
        [
            str(ESBUILD),
            str(PAGE_SOURCE),
            "--bundle",
            "--jsx=automatic",
            "--format=iife",
            "--define:process.env.NODE_ENV='production'",
            "--loader:.css=empty",
            "--loader:.woff=empty",
            "--loader:.woff2=empty",
            "--log-level=error",
            f"--outfile={out}",
        ],
        cwd=ROOT,
        check=True,
    )
    return out


def _questionnaire(stack: Stack) -> dict:
    answer = httpx.get(f"{stack.payer}/fhir/Questionnaire/blinatumomab-pa", timeout=10)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def _open(page: Page, stack: Stack, bundled: Path) -> dict:
    questionnaire = _questionnaire(stack)
    origin = f"{stack.payer}/smart-forms-test"
    html = (
        '<!doctype html><html><head><meta charset="utf-8"></head><body><div id="form"></div>'
        f"<script>window.QUESTIONNAIRE = {json.dumps(questionnaire)};"
        f"window.TERMINOLOGY = {json.dumps(stack.payer + '/fhir')};</script>"
        '<script src="page.js"></script></body></html>'
    )

    def serve(route: Route) -> None:
        if route.request.url.endswith("/page.js"):
            route.fulfill(body=bundled.read_bytes(), content_type="text/javascript")
        else:
            route.fulfill(body=html, content_type="text/html")

    page.route(f"{origin}/**", serve)
    page.goto(f"{origin}/index.html")
    expect(page.get_by_text("Diagnosis", exact=False).first).to_be_visible(timeout=30000)
    return questionnaire


def _help_texts(questionnaire: dict[str, Any]) -> dict[str, str]:
    """Question linkId -> its help text (a `help`/`flyover` display child)."""
    found: dict[str, str] = {}

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            for child in item.get("item", []):
                controls = {
                    c["code"]
                    for e in child.get("extension", [])
                    if e["url"].endswith("questionnaire-itemControl")
                    for c in e["valueCodeableConcept"]["coding"]
                }
                if child["type"] == "display" and "flyover" in controls:
                    found[item["linkId"]] = child["text"]
            walk(item.get("item", []))

    walk(questionnaire["item"])
    return found


def _answers(page: Page) -> dict[str, Any]:
    response = page.evaluate("window.smartFormsResponse()")
    found: dict[str, Any] = {}

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            if item.get("answer"):
                found[item["linkId"]] = item["answer"][0]
            walk(item.get("item", []))

    walk(response.get("item", []))
    return found


def _type(page: Page, field: str, value: str) -> None:
    page.locator(f"#{field}").fill(value)
    page.locator(f"#{field}").blur()


def test_every_help_text_shows_as_a_flyover(page: Page, stack: Stack, bundled: Path) -> None:
    """SDC's `flyover` item control beside `help` (LHC-Forms reads the first code): Smart Forms
    shows each shown question's help behind an icon by its label."""
    questionnaire = _open(page, stack, bundled)
    helps = _help_texts(questionnaire)
    assert len(helps) == 11
    shown = [link_id for link_id in helps if page.locator(f"#label-{link_id}").count()]
    # The rest wait for their enableWhen (a child's weight, a TKI regimen, a relapsed cycle 1).
    assert sorted(set(helps) - set(shown)) == ["bsa-m2", "height-cm", "step-dose-mcg"]
    for link_id in shown:
        expect(page.locator(f"#label-{link_id} svg")).to_have_count(1)
    flyover = page.get_by_text(helps["weight-kg"], exact=True)
    expect(flyover).to_have_count(0)
    page.locator("#label-weight-kg svg").hover()
    expect(flyover).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "smart-forms-flyover.png"), full_page=True)


def test_answer_lists_come_from_the_payers_expand(page: Page, stack: Stack, bundled: Path) -> None:
    """Each answerValueSet names its version; Smart Forms expands it on the payer (`url` and
    `version`) and lists what the payer's expansion holds."""
    expansions: list[str] = []
    page.on(
        "response",
        lambda r: expansions.append(f"{r.status} {r.url}") if "$expand" in r.url else None,
    )
    questionnaire = _open(page, stack, bundled)
    (canonical,) = [
        item["answerValueSet"]
        for group in questionnaire["item"]
        for item in group.get("item", [])
        if item["linkId"] == "phase"
    ]
    expansion = httpx.get(
        f"{stack.payer}/fhir/ValueSet/$expand", params={"url": canonical}, timeout=10
    ).json()["expansion"]["contains"]
    page.locator("#choice-phase").click()
    expect(page.get_by_role("option")).to_have_text([c["display"] for c in expansion])
    phase = [e for e in expansions if "phase-answers" in e]
    version = canonical.split("|")[1]
    assert phase and all(e.startswith("200 ") and f"&version={version}" in e for e in phase), (
        expansions
    )


def test_the_bsa_is_not_computed_without_cql(page: Page, stack: Stack, bundled: Path) -> None:
    """The adult's BSA is not asked and never "0"; the child's is left to the prescriber: Smart
    Forms evaluates an expression only when its language is text/fhirpath
    (@aehrc/smart-forms-renderer 1.4.0, lib/utils/getExpressionsFromItem.js and
    lib/utils/questionnaireStoreUtils/extractVariables.js) and does not read
    cqf-alternativeExpression, so the CQL variables and calculation are not run
    (docs/decisions/0012). Our own app computes it (tests/browser/test_prescriber_form.py)."""
    _open(page, stack, bundled)
    _type(page, "decimal-weight-kg", "70")
    expect(page.locator("#decimal-height-cm")).to_have_count(0)
    expect(page.locator("#decimal-bsa-m2")).to_have_count(0)
    page.wait_for_timeout(500)
    assert "bsa-m2" not in _answers(page)

    _type(page, "decimal-weight-kg", "30")
    expect(page.locator("#decimal-height-cm")).to_be_visible()
    _type(page, "decimal-height-cm", "130")
    expect(page.locator("#decimal-bsa-m2")).to_be_visible()
    page.wait_for_timeout(1000)
    expect(page.locator("#decimal-bsa-m2")).to_have_value("")
    answers = _answers(page)
    assert answers["weight-kg"] == {"valueDecimal": 30}
    assert answers["height-cm"] == {"valueDecimal": 130}
    assert "bsa-m2" not in answers
    page.screenshot(path=str(ARTIFACTS / "smart-forms-child-bsa.png"), full_page=True)
