"""The reviewers' workbench in Chromium, as a clinical pharmacist uses it: sign in, find the
child's request in the queue by her name, open it; the denial's reason is the criterion the
evaluation found not met, already chosen; approving restates the capped dose on a confirmation
page before anything is recorded. Sign-in, queue, case and confirmation pages have no critical
or serious axe-core violation (WCAG 2.1 A and AA), and every control shows its keyboard focus.

The requests are sent to the payer's PAS endpoint directly (client authentication off, as in
development): what is tested is the reviewer's side."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from service.auth.reviewers import hash_password
from tests.browser.axe import serious_violations
from tests.browser.conftest import ARTIFACTS, Stack, fresh_page, running_stack
from tests.pas.test_case_queue import submit_child

REVIEWER, PASSWORD = "pharmacist", "browser-test-pharmacist-password"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("workbench")
    reviewers = work / "reviewers.json"
    account = {"username": REVIEWER, "name": "Pharmacist", "passwordHash": hash_password(PASSWORD)}
    reviewers.write_text(json.dumps({"reviewers": [account]}))
    extra = {"REVIEWERS_FILE": str(reviewers), "AUTH_MODE": "off"}
    with running_stack(work, payer_extra=extra) as started:
        yield started


@pytest.fixture
def review(browser: Browser) -> Iterator[Page]:
    """A reviewer's tab. axe-core is put into the page by the test, which the workbench's
    Content-Security-Policy (scripts from the payer only) would refuse."""
    with fresh_page(browser, bypass_csp=True) as opened:
        yield opened


def _child_case(stack: Stack, identifier: str) -> str:
    with httpx.Client(base_url=stack.payer, timeout=30) as http:
        return submit_child(http, identifier)  # type: ignore[arg-type]  # TestClient is one


def _accessible(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"workbench-{name}.png"), full_page=True)
    found = serious_violations(page)
    assert found == [], [(name, v["id"], [n["target"] for n in v["nodes"]]) for v in found]


def _sign_in(review: Page, stack: Stack) -> None:
    review.goto(f"{stack.payer}/review")
    _accessible(review, "sign-in")
    review.fill('input[name="username"]', REVIEWER)
    review.fill('input[name="password"]', PASSWORD)
    review.keyboard.press("Enter")
    expect(review.locator("h1")).to_contain_text("Waiting for a decision")


def _open(review: Page, case_id: str) -> None:
    review.fill("#q", "Alex Example")
    review.locator("form.search button").click()
    row = review.locator(f'tr[data-case="{case_id}"]')
    expect(row.locator(".age")).to_have_text("12 years")
    expect(row.locator(".drug")).to_contain_text("28 mcg/day")
    _accessible(review, "queue")
    assert {"q", "status"} <= set(_every_control_shows_focus(review))
    row.get_by_role("link", name="Alex Example").click()
    expect(review.locator("#state")).to_have_text("pended for review")


def _focus_shown(review: Page, selector: str, presses: int = 80) -> None:
    """Tab reaches the control, and its focus is drawn."""
    review.locator("body").focus()
    for _ in range(presses):
        review.keyboard.press("Tab")
        if review.evaluate(f"document.activeElement === document.querySelector('{selector}')"):
            outline = review.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline not in ("none", ""), f"{selector}: no visible focus"
            return
    raise AssertionError(f"{selector} is not reached with the keyboard")


_FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const style = getComputedStyle(e);
  const label = e.id || e.name || e.textContent.trim().slice(0, 30) || e.tagName;
  return {label, outline: style.outlineStyle, width: parseFloat(style.outlineWidth)};
}"""


def _every_control_shows_focus(review: Page, most: int = 60) -> list[str]:
    """Tab through the page once: every control it reaches draws an outline; their labels."""
    review.locator("body").focus()
    reached: list[str] = []
    for _ in range(most):
        review.keyboard.press("Tab")
        focused = review.evaluate(_FOCUSED)
        if focused is None or (reached and focused["label"] == reached[0]):
            break
        assert focused["outline"] != "none" and focused["width"] >= 2, focused
        reached.append(focused["label"])
    return reached


def test_the_deny_form_chooses_the_criterion_the_evaluation_found_not_met(
    review: Page, stack: Stack
) -> None:
    case_id = _child_case(stack, "browser-deny")
    _sign_in(review, stack)
    _open(review, case_id)
    expect(review.locator('[data-criterion="DOSE"]')).to_have_attribute("data-status", "not-met")
    reason = review.locator('#deny select[name="reason"]')
    expect(reason).to_have_value("DOSE")
    expect(reason.locator("optgroup").first).to_have_attribute("label", "Not met in the evaluation")
    _accessible(review, "case")
    reached = _every_control_shows_focus(review)
    assert {"Sign out", "start", "end", "reason", "Approve…", "Deny…", "Ask"} <= set(reached)
    _focus_shown(review, "#approve button.approve")
    _focus_shown(review, "#deny button.deny")
    approve, deny = (
        review.locator(f"{form} button[type=submit]").evaluate(
            "b => getComputedStyle(b).backgroundColor"
        )
        for form in ("#approve", "#deny")
    )
    assert approve != deny, "approve and deny look alike"
    review.locator("#deny button[type=submit]").click()
    expect(review.locator("#headline")).to_contain_text("Deny ")
    expect(review.locator("#confirm")).to_contain_text("Ordered dose within the covered dose")
    review.locator("#confirm-decision").click()
    expect(review.locator("#state")).to_have_text("denied")


def test_a_capped_approval_is_restated_before_it_is_confirmed(review: Page, stack: Stack) -> None:
    case_id = _child_case(stack, "browser-approve")
    _sign_in(review, stack)
    _open(review, case_id)
    review.locator("#approve button[type=submit]").click()
    expect(review.locator("#headline")).to_have_text(
        "Approve blinatumomab 0.035 MG Injection up to 15.6 mcg/day for Alex Example"
    )
    expect(review.locator("#confirm")).to_contain_text(
        "Daily dose: covered 15.6 mcg/day; ordered 28 mcg/day: 12.4 mcg/day less"
    )
    expect(review.locator("#state")).to_have_count(0)  # nothing decided yet
    _accessible(review, "confirm")
    _focus_shown(review, "#confirm-decision")
    review.locator("#confirm-decision").click()
    expect(review.locator("#state")).to_have_text("approved")
    assert review.locator("#preauth-ref").inner_text().startswith("PA")
