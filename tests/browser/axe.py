"""axe-core (npm, a devDependency) run in the page under test: the violations a person using
assistive technology or a keyboard would meet first, those axe rates critical or serious."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("critical", "serious")


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """Each critical or serious violation: its rule id, impact, help and the nodes' selectors."""
    if not page.evaluate("() => Boolean(window.axe)"):
        page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const result = await window.axe.run(document, { resultTypes: ["violations"] });
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => ({ target: n.target, summary: n.failureSummary })),
            }));
        }"""
    )
    return [v for v in found if v["impact"] in SERIOUS]
