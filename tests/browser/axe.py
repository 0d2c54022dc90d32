"""Accessibility in the browser tests: axe-core (npm, a root devDependency) run on the page as it
stands, every rule it has (WCAG 2.0 and 2.1 A and AA, and its best practices); what it finds
critical or serious fails the test.

axe-core goes into the page as a script element: a page whose Content-Security-Policy allows
scripts from its own origin only needs a browser context made with `bypass_csp=True`."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

from tests.browser.conftest import ROOT

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("critical", "serious")


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page whose impact is critical or serious, as axe gives them
    (rule id, impact, help, the nodes at fault)."""
    if not AXE.exists():
        raise AssertionError(f"{AXE} is missing: run `npm ci` (make test does)")
    if not page.evaluate("() => Boolean(window.axe)"):
        page.add_script_tag(path=str(AXE))
    found: dict[str, Any] = page.evaluate("async () => await axe.run(document)")
    return [v for v in found["violations"] if v.get("impact") in SERIOUS]
