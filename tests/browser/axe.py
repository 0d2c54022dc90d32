"""Accessibility in the browser tests: axe-core (npm, a root devDependency) run on the page as it
stands, against WCAG 2.1 A and AA; what it finds critical or serious fails the test."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

from tests.browser.conftest import ROOT

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("critical", "serious")
# WCAG 2.0 and 2.1, levels A and AA: the rules axe tags so.
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """The critical and serious violations axe-core finds on the page, each with its rule id,
    impact, help text and the elements at fault."""
    if not AXE.exists():
        raise AssertionError(f"{AXE} is missing: run `npm ci` (make test does)")
    page.add_script_tag(path=str(AXE))
    found: dict[str, Any] = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        WCAG_21_AA,
    )
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [node["target"] for node in violation["nodes"]],
        }
        for violation in found["violations"]
        if violation.get("impact") in SERIOUS
    ]
